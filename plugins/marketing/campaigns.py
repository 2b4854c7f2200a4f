"""Campaigns: write them, schedule them, start sending, decide A/B tests, finish.

An e-mail campaign goes ``draft`` → (``scheduled``) → ``sending`` → ``sent`` (or
``cancelled``). Starting it turns its segment into one message row per address with one
``INSERT ... SELECT`` (duplicate addresses once, suppressed ones recorded as ``suppressed``,
a random order for A/B groups), then queues the sending lanes (:mod:`.sender`). With an A/B
test, ``ab_test_percent`` of the recipients get subject A or B; the rest are ``held`` until
``ab_wait_hours`` have passed, when the subject with the better open rate goes to them.
Event, call and direct-mail campaigns are ``recorded``: their targeted contacts are kept for
the effectiveness analysis. Writes validate first and leave the commit to the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, insert, literal, null, select, update

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    clean_email,
    clean_text,
    db,
    emit_event,
    parse_uuid,
    require_tenant,
    utcnow,
)

from .merge import Renderer, check_template
from .models import Campaign, Message, Segment
from .segments import segment_query
from .sender import Content, Lane, setting
from .sqlutil import sql_uuid
from .suppression import suppressed_clause, topics

CHANNELS = ("email", "event", "call", "direct_mail")
CHANNEL_LABELS = {
    "email": _l("E-mail"),
    "event": _l("Event"),
    "call": _l("Calls"),
    "direct_mail": _l("Direct mail"),
}
STATUS_LABELS = {
    "draft": _l("draft"),
    "scheduled": _l("scheduled"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "cancelled": _l("cancelled"),
    "recorded": _l("recorded"),
}
EDITABLE = ("draft", "scheduled")
#: Fields that may change whatever the campaign's state (they describe its results).
ALWAYS_EDITABLE = frozenset({"cost", "currency", "responses", "conversion_days", "notes"})


def _int(raw: Any, low: int, high: int, default: int) -> int:
    if raw in (None, ""):
        return default
    value = int(str(raw).strip())
    if not low <= value <= high:
        raise ValueError
    return value


def _whole(low: int, high: int, default: int, message: Any) -> Any:
    """A cleaner of whole numbers from ``low`` to ``high`` (``default`` when empty)."""

    def clean(raw: Any) -> int:
        try:
            return _int(raw, low, high, default)
        except ValueError as exc:
            raise ValueError(str(message)) from exc

    return clean


def _money(raw: Any) -> Decimal:
    if raw in (None, ""):
        return Decimal("0.00")
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError from exc
    if not value.is_finite() or value < 0 or value >= Decimal("1e11"):
        raise ValueError
    return value.quantize(Decimal("0.01"))


def check_campaign(data: Mapping[str, Any], *, campaign: Campaign | None = None) -> dict[str, Any]:
    """Cleaned values of a campaign (templates checked for merge fields); ValidationFailed."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    locked = campaign is not None and campaign.status not in EDITABLE

    def check(name: str, func: Any) -> None:
        if name not in data and campaign is not None:
            return
        if locked and name not in ALWAYS_EDITABLE:
            return
        try:
            values[name] = func(data.get(name))
        except ValueError as exc:
            errors[name] = str(exc) or _("Enter a valid value.")

    def name(raw: Any) -> str:
        text = clean_text(raw, 160)
        if not text:
            raise ValueError(_("Give the campaign a name."))
        return text

    def channel(raw: Any) -> str:
        if campaign is not None:
            return campaign.channel
        if (raw or "email") not in CHANNELS:
            raise ValueError(_("Choose one of the listed options."))
        return raw or "email"

    def segment(raw: Any) -> uuid.UUID | None:
        if raw in (None, ""):
            return None
        sid = parse_uuid(raw)
        if sid is None or db.session.scalar(select(Segment.id).where(Segment.id == sid)) is None:
            raise ValueError(_("Choose one of the segments."))
        return sid

    def topic(raw: Any) -> str:
        value = raw or "newsletter"
        if value not in topics():
            raise ValueError(_("Choose one of the topics."))
        return value

    def reply_to(raw: Any) -> str | None:
        return clean_email(raw)

    def cost(raw: Any) -> Decimal:
        try:
            return _money(raw)
        except ValueError as exc:
            raise ValueError(_("Enter an amount of zero or more.")) from exc

    def currency(raw: Any) -> str:
        code = str(raw or "USD").strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(_("Use a three-letter currency code, e.g. USD or CNY."))
        return code

    check("name", name)
    check("channel", channel)
    values.setdefault("channel", campaign.channel if campaign else "email")
    is_email = values["channel"] == "email"
    check("segment_id", segment)
    check("topic", topic)
    check("cost", cost)
    check("currency", currency)
    check("conversion_days", _whole(1, 365, 30, _l("Enter a number of days from 1 to 365.")))
    check("notes", lambda raw: clean_text(raw, 5000, multiline=True))
    check("responses", _whole(0, 100_000_000, 0, _l("Enter a whole number of zero or more.")))
    if is_email:
        check("subject", lambda raw: check_template(raw, "subject", required=False))
        check("subject_b", lambda raw: check_template(raw, "subject_b", required=False) or None)
        check("body_html", lambda raw: check_template(raw, "body_html", required=False))
        check("from_name", lambda raw: clean_text(raw, 120))
        check("reply_to", reply_to)
        check("ab_test_percent", _whole(0, 100, 0, _l("Enter a percentage from 0 to 100.")))
        check("ab_wait_hours", _whole(1, 168, 4, _l("Enter a number of hours from 1 to 168.")))
        check(
            "rate_per_minute",
            _whole(0, 1_000_000, 0, _l("Enter a whole number (0: as fast as possible).")),
        )
        subject_b = values.get("subject_b", campaign.subject_b if campaign else None)
        pct = values.get("ab_test_percent", campaign.ab_test_percent if campaign else 0)
        if pct and not subject_b and "ab_test_percent" not in errors:
            errors["subject_b"] = _("Write subject B to test it against subject A.")
        if subject_b and not pct and "ab_test_percent" not in errors:
            values["ab_test_percent"] = 100
    if errors:
        raise ValidationFailed(errors)
    return values


def create_campaign(data: Mapping[str, Any], *, actor: Any = None) -> Campaign:
    """Validate and add a draft campaign."""
    values = check_campaign(data)
    campaign = Campaign(**values, status="draft", created_by_id=getattr(actor, "id", None))
    db.session.add(campaign)
    db.session.flush()
    return campaign


def update_campaign(campaign: Campaign, data: Mapping[str, Any]) -> None:
    """Validate and apply changes (content only while draft or scheduled)."""
    values = check_campaign(data, campaign=campaign)
    for name, value in values.items():
        setattr(campaign, name, value)
    campaign.updated_at = utcnow()
    db.session.flush()


def ready_problems(campaign: Campaign) -> dict[str, str]:
    """What keeps a campaign from being sent or recorded, by field (empty: ready)."""
    errors: dict[str, str] = {}
    if campaign.segment_id is None:
        errors["segment_id"] = _("Choose the segment to send to.")
    if campaign.is_email:
        for name in ("subject", "body_html"):
            try:
                check_template(getattr(campaign, name), name)
            except ValueError as exc:
                errors[name] = str(exc)
    return errors


def schedule_campaign(campaign: Campaign, at: datetime) -> None:
    """Send an e-mail campaign at ``at`` (the dispatcher starts it then)."""
    if campaign.status not in EDITABLE or not campaign.is_email:
        raise ValidationFailed({"status": _("Only a draft e-mail campaign can be scheduled.")})
    if at.tzinfo is None:
        raise ValidationFailed({"scheduled_at": _("Give the time with its time zone.")})
    if at <= utcnow():
        raise ValidationFailed({"scheduled_at": _("Choose a time in the future.")})
    problems = ready_problems(campaign)
    if problems:
        raise ValidationFailed(problems)
    campaign.status, campaign.scheduled_at = "scheduled", at


def unschedule_campaign(campaign: Campaign) -> None:
    """Back to draft (a scheduled campaign that has not started)."""
    if campaign.status != "scheduled":
        raise ValidationFailed({"status": _("The campaign is not scheduled.")})
    campaign.status, campaign.scheduled_at = "draft", None


def _claim_start(campaign: Campaign, status: str) -> bool:
    """Move the campaign from draft/scheduled to ``status`` exactly once (concurrent starts)."""
    result = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(EDITABLE))
        .values(status=status, started_at=utcnow(), progress_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(campaign)
    return bool(result.rowcount)


def _materialise(campaign: Campaign, segment: Segment) -> int:
    """One message row per address of the segment (set-based); returns how many."""
    tid = require_tenant().id
    now = utcnow()
    email = func.lower(Contact.email)
    columns = [
        Contact.id.label("contact_id"),
        email.label("email"),
        func.row_number().over(partition_by=email, order_by=Contact.id).label("copy"),
        func.row_number().over(order_by=func.random()).label("position"),
    ]
    if campaign.is_email:
        people = segment_query(segment, *columns).where(
            Contact.email.is_not(None), Contact.email != ""
        )
    else:
        columns[2] = literal(1).label("copy")
        people = segment_query(segment, *columns)
    people = people.subquery("people")
    if campaign.is_email:
        status = case(
            (suppressed_clause(people.c.email, campaign.topic), "suppressed"), else_="pending"
        )
    else:
        status = literal("targeted")
    source = select(
        literal(tid),
        sql_uuid(),
        literal(campaign.id),
        people.c.contact_id,
        people.c.email,
        people.c.position,
        status,
        literal(0),
        literal(0),
        literal(0),
        literal(now),
        literal(now) if not campaign.is_email else null(),
    ).where(people.c.copy == 1)
    names = [
        "tenant_id",
        "id",
        "campaign_id",
        "contact_id",
        "email",
        "position",
        "status",
        "attempts",
        "open_count",
        "click_count",
        "created_at",
        "sent_at",
    ]
    db.session.execute(insert(Message).from_select(names, source))
    return int(
        db.session.scalar(select(func.count()).where(Message.campaign_id == campaign.id)) or 0
    )


def _nth_position(campaign: Campaign, n: int) -> int | None:
    stmt = (
        select(Message.position)
        .where(Message.campaign_id == campaign.id, Message.status == "pending")
        .order_by(Message.position)
        .offset(n)
        .limit(1)
    )
    return db.session.scalar(stmt)


def _split_ab(campaign: Campaign) -> None:
    """Subject A to one half of the test group, B to the other; hold the rest."""
    pending = and_(Message.campaign_id == campaign.id, Message.status == "pending")
    total = int(db.session.scalar(select(func.count()).where(pending)) or 0)
    if total == 0:
        return
    test = (
        total
        if campaign.ab_test_percent >= 100
        else max(2, total * campaign.ab_test_percent // 100)
    )
    half_cut = _nth_position(campaign, (test + 1) // 2)
    test_cut = _nth_position(campaign, test)
    first = Message.position < half_cut if half_cut is not None else True
    db.session.execute(
        update(Message)
        .where(pending, first)
        .values(variant="a")
        .execution_options(synchronize_session=False)
    )
    if half_cut is None:
        return
    second = Message.position >= half_cut
    if test_cut is not None:
        second = and_(second, Message.position < test_cut)
    db.session.execute(
        update(Message)
        .where(pending, second)
        .values(variant="b")
        .execution_options(synchronize_session=False)
    )
    if test_cut is not None:
        db.session.execute(
            update(Message)
            .where(pending, Message.position >= test_cut)
            .values(status="held")
            .execution_options(synchronize_session=False)
        )


def start_campaign(campaign: Campaign) -> int:
    """Start sending (or record a non-e-mail campaign) now; returns the recipients."""
    problems = ready_problems(campaign)
    if problems:
        raise ValidationFailed(problems)
    if campaign.status not in EDITABLE:
        raise ValidationFailed({"status": _("This campaign has already started.")})
    segment = db.session.get(Segment, (campaign.tenant_id, campaign.segment_id))
    if segment is None:
        raise ValidationFailed({"segment_id": _("Choose the segment to send to.")})
    if not _claim_start(campaign, "sending" if campaign.is_email else "recorded"):
        raise ValidationFailed({"status": _("This campaign has already started.")})
    count = _materialise(campaign, segment)
    if not campaign.is_email:
        campaign.finished_at = utcnow()
        return count
    if campaign.has_ab_test:
        _split_ab(campaign)
    queue_lanes(campaign)
    return count


def queue_lanes(campaign: Campaign, lanes: int | None = None) -> list[str]:
    """Queue the sending lanes of a campaign (after the transaction commits)."""
    from .jobs import send_campaign_lane

    tokens = []
    for _n in range(lanes or max(1, setting("SEND_LANES", 2))):
        token = uuid.uuid4().hex
        send_campaign_lane.enqueue_after_commit(str(campaign.id), token)
        tokens.append(token)
    return tokens


def cancel_campaign(campaign: Campaign) -> None:
    """Stop a scheduled or sending campaign: rows not sent yet are skipped."""
    if campaign.status not in ("scheduled", "sending"):
        raise ValidationFailed({"status": _("Only a scheduled or sending campaign can stop.")})
    db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign.id, Message.status.in_(("pending", "held")))
        .values(status="skipped", error="cancelled")
        .execution_options(synchronize_session=False)
    )
    campaign.status, campaign.finished_at = "cancelled", utcnow()


def campaign_content(campaign: Campaign) -> Content:
    """How a campaign's lane renders its messages (plain values: the lane's per-message
    commits would otherwise reload the campaign for every message)."""
    renderer = Renderer({"a": campaign.subject, "b": campaign.subject_b or ""}, campaign.body_html)
    extra = {"campaign": {"name": campaign.name}}
    from_name, reply_to, topic = campaign.from_name, campaign.reply_to, campaign.topic
    return Content(
        renderer_of=lambda row: renderer,
        from_name=lambda row: from_name,
        reply_to=lambda row: reply_to,
        topic=lambda row: topic,
        extra=lambda row: extra,
    )


class CampaignLane(Lane):
    """A lane over one campaign's rows that stamps the campaign's progress."""

    def __init__(self, campaign: Campaign, owner: str) -> None:
        super().__init__(
            Message.campaign_id == campaign.id,
            owner,
            campaign_content(campaign),
            rate_per_minute=campaign.rate_per_minute,
        )
        self.campaign_id = campaign.id

    def touch(self, ids: list[uuid.UUID]) -> None:
        if ids:
            db.session.execute(
                update(Campaign)
                .where(Campaign.id == self.campaign_id)
                .values(progress_at=utcnow())
                .execution_options(synchronize_session=False)
            )


def finish_if_done(campaign: Campaign) -> bool:
    """Mark a sending campaign ``sent`` once no row is left to send; emits
    ``campaign.sent`` exactly once."""
    left = db.session.scalar(
        select(func.count()).where(
            Message.campaign_id == campaign.id,
            Message.status.in_(("pending", "sending", "held")),
        )
    )
    if left:
        return False
    done = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == "sending")
        .values(status="sent", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:
        return False
    counts = dict(
        db.session.execute(
            select(Message.status, func.count())
            .where(Message.campaign_id == campaign.id)
            .group_by(Message.status)
        ).all()
    )
    db.session.refresh(campaign)
    emit_event(
        "campaign.sent",
        record_id=campaign.id,
        data={"name": campaign.name, **{k: int(v) for k, v in counts.items()}},
    )
    return True


def decide_ab(campaign: Campaign, now: datetime | None = None) -> str | None:
    """Pick the A/B winner (better open rate, A on a tie) once the wait is over and release
    the held recipients to it; returns the winner, or ``None`` when it is not time yet."""
    now = now or utcnow()
    if not campaign.has_ab_test or campaign.ab_decided_at is not None:
        return None
    started = campaign.started_at
    if started is None:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=now.tzinfo)
    if now < started + timedelta(hours=campaign.ab_wait_hours):
        return None
    rates = {}
    for variant in ("a", "b"):
        sent, opened = db.session.execute(
            select(func.count(Message.sent_at), func.count(Message.opened_at)).where(
                Message.campaign_id == campaign.id, Message.variant == variant
            )
        ).one()
        rates[variant] = opened / sent if sent else 0.0
    winner = "b" if rates["b"] > rates["a"] else "a"
    db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign.id, Message.status == "held")
        .values(status="pending", variant=winner)
        .execution_options(synchronize_session=False)
    )
    campaign.ab_winner, campaign.ab_decided_at = winner, now
    if campaign.status == "sending":
        queue_lanes(campaign)
    return winner


def stalled(campaign: Campaign, now: datetime | None = None) -> bool:
    """A sending campaign with rows to send whose lanes have not claimed for a lease."""
    now = now or utcnow()
    if campaign.status != "sending":
        return False
    last = campaign.progress_at or campaign.started_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    lease = timedelta(seconds=setting("SEND_LEASE", 300))
    if last is not None and now - last < lease:
        return False
    waiting = db.session.scalar(
        select(func.count()).where(
            Message.campaign_id == campaign.id, Message.status.in_(("pending", "sending"))
        )
    )
    return bool(waiting)


def preview(campaign: Campaign, contact: Contact | None) -> dict[str, Any]:
    """The subject(s) and body as ``contact`` would get them (links not tracked)."""
    from jinja2 import TemplateError

    from .merge import merge_values

    person = {
        "first_name": contact.first_name if contact else "Ada",
        "last_name": contact.last_name if contact else "Lovelace",
        "email": contact.email if contact else "ada@example.com",
        "title": contact.title if contact else None,
        "region": contact.region if contact else None,
        "phone": contact.phone if contact else None,
        "custom": (contact.custom or {}) if contact else {},
    }
    company = contact.account if contact is not None else None
    account = {
        "name": company.name if company else "",
        "industry": company.industry if company else "",
        "region": company.region if company else "",
        "website": company.website if company else "",
        "custom": (company.custom or {}) if company else {},
    }
    values = merge_values(
        person,
        account,
        unsubscribe_url="#unsubscribe",
        preferences_url="#preferences",
        today=utcnow().date().isoformat(),
        campaign={"name": campaign.name},
    )
    try:
        renderer = Renderer(
            {"a": campaign.subject or "", "b": campaign.subject_b or ""}, campaign.body_html or ""
        )
        subjects = [renderer.subject("a", values)]
        if campaign.subject_b:
            subjects.append(renderer.subject("b", values))
        return {"subjects": subjects, "html": renderer.html(values), "error": None}
    except (TemplateError, KeyError) as exc:
        return {"subjects": [], "html": "", "error": str(exc)}


def sample_contact(campaign: Campaign) -> Contact | None:
    """A contact of the campaign's segment to preview with (the first by id), if any."""
    segment = (
        db.session.get(Segment, (campaign.tenant_id, campaign.segment_id))
        if campaign.segment_id
        else None
    )
    if segment is None:
        return None
    first = db.session.scalar(segment_query(segment).order_by(Contact.id).limit(1))
    return db.session.scalars(select(Contact).where(Contact.id == first)).first() if first else None
