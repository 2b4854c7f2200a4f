"""Day planning: a rep's "my day" agenda, a week or month calendar, reminders, birthdays and
the rep's sales target.

Activities are the core's (tasks, calls and meetings with a due date, on accounts and
contacts; ``crm_platform.sdk.Activity``): the agenda reads the signed-in member's open ones
due today, the overdue ones and the coming week's. Activities on records in the trash are
left out, as on the core's task list.

Birthdays and anniversaries are dates in the contacts' custom fields ``birthday`` and
``anniversary``; a contact counts as a *key contact* when its checkbox field ``key_contact``
is ticked. Switching Sales on creates the three fields (``ensure_contact_fields``) when the
workspace has no field of that key yet; a workspace may rename them.

Reminders (``send_reminders``, a scheduled job) go by mail (the core's outbox) to the owner of
each open activity due within the setting ``reminder_days`` (default 1: today and tomorrow)
and of each key contact with a birthday or anniversary in that window. Each reminder is
recorded (``Reminder``) and so sent once per activity and due date, or per contact and year.

The sales target is the rep's quota of the quarter (``forecast.py``) against what they won in
it, in the module's currency.
"""

from __future__ import annotations

import calendar as _calendar
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from crm_platform.sdk import (
    Account,
    Activity,
    Contact,
    User,
    ValidationFailed,
    audit_record,
    create_custom_field,
    custom_fields_of,
    db,
    job,
    send_mail,
    utcnow,
)

from .models import Deal, Quota
from .planning_models import Reminder

#: Activity kinds the agenda plans (notes and logged e-mails are records of the past).
PLANNED_KINDS = ("task", "call", "meeting")
#: The contact custom fields day planning reads: (key, label, type).
CONTACT_FIELDS = (
    ("birthday", _l("Birthday"), "date"),
    ("anniversary", _l("Customer anniversary"), "date"),
    ("key_contact", _l("Key contact"), "checkbox"),
)
OCCASIONS = ("birthday", "anniversary")
MAX_ROWS = 200


def today() -> date:
    """The date of today (UTC, as the core's due dates)."""
    return utcnow().date()


# --------------------------------------------------------------------------- activities


def _activities(user_id: uuid.UUID) -> Any:
    """Planned activities of ``user_id`` whose records are not in the trash."""
    acct, cont = aliased(Account), aliased(Contact)
    return (
        select(Activity)
        .outerjoin(acct, and_(acct.tenant_id == Activity.tenant_id, acct.id == Activity.account_id))
        .outerjoin(cont, and_(cont.tenant_id == Activity.tenant_id, cont.id == Activity.contact_id))
        .where(
            Activity.owner_id == user_id,
            Activity.kind.in_(PLANNED_KINDS),
            or_(Activity.account_id.is_(None), acct.deleted_at.is_(None)),
            or_(Activity.contact_id.is_(None), cont.deleted_at.is_(None)),
        )
    )


def _rows(stmt: Any) -> list[Activity]:
    stmt = stmt.order_by(Activity.due_date, Activity.created_at).limit(MAX_ROWS)
    return list(db.session.execute(stmt).unique().scalars())


def due_on(user_id: uuid.UUID, day: date) -> list[Activity]:
    """Open activities of ``user_id`` due on ``day``."""
    return _rows(_activities(user_id).where(Activity.done.is_(False), Activity.due_date == day))


def overdue(user_id: uuid.UUID, day: date | None = None) -> list[Activity]:
    """Open activities of ``user_id`` due before ``day`` (today), oldest first."""
    day = day or today()
    return _rows(_activities(user_id).where(Activity.done.is_(False), Activity.due_date < day))


def between(user_id: uuid.UUID, first: date, last: date) -> dict[date, list[Activity]]:
    """Activities (done or not) of ``user_id`` due from ``first`` to ``last``, by day."""
    stmt = _activities(user_id).where(Activity.due_date >= first, Activity.due_date <= last)
    out: dict[date, list[Activity]] = defaultdict(list)
    for activity in db.session.execute(stmt.order_by(Activity.due_date)).unique().scalars():
        out[activity.due_date].append(activity)
    return out


# --------------------------------------------------------------------------- birthdays


def ensure_contact_fields() -> int:
    """Create the contact fields day planning reads where the workspace has none of that key
    (idempotent; a workspace at its field limit goes without). How many were made."""
    have = {f.key for f in custom_fields_of("contact")} | {
        f.key for f in custom_fields_of("contact", archived=True)
    }
    made = 0
    for key, label, type_ in CONTACT_FIELDS:
        if key in have:
            continue
        try:
            create_custom_field("contact", str(label), type_, key=key)
        except ValidationFailed:
            continue
        made += 1
    return made


@dataclass(frozen=True)
class Occasion:
    """A key contact's birthday or anniversary falling on ``day``."""

    kind: str
    day: date
    contact_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    years: int | None

    @property
    def label(self) -> str:
        """What it is, in the reader's language."""
        return _("Birthday") if self.kind == "birthday" else _("Customer anniversary")


def _on_day(stored: str, year: int) -> date | None:
    """The date in ``year`` of a stored ``YYYY-MM-DD`` (29 February → 28 in other years)."""
    try:
        month, day = int(stored[5:7]), int(stored[8:10])
    except (TypeError, ValueError):
        return None
    if month == 2 and day == 29 and not _calendar.isleap(year):
        day = 28
    try:
        return date(year, month, day)
    except ValueError:
        return None


def occasions(first: date, last: date, owner_id: uuid.UUID | None = None) -> list[Occasion]:
    """Birthdays and anniversaries of key contacts from ``first`` to ``last`` (at most a
    year), of the contacts ``owner_id`` owns (or of every owned contact), by date."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    keys = {d.strftime("%m-%d") for d in days}
    if "02-28" in keys:
        keys.add("02-29")
    wanted = set(days)
    out: list[Occasion] = []
    for kind in OCCASIONS:
        stored = Contact.custom[kind].as_string()
        stmt = select(Contact).where(
            Contact.deleted_at.is_(None),
            Contact.owner_id.is_not(None),
            func.substr(stored, 6, 5).in_(sorted(keys)),
        )
        if owner_id is not None:
            stmt = stmt.where(Contact.owner_id == owner_id)
        for contact in db.session.execute(stmt.limit(MAX_ROWS * 5)).unique().scalars():
            custom = contact.custom or {}
            if not custom.get("key_contact"):
                continue
            raw = str(custom.get(kind) or "")
            for year in {first.year, last.year}:
                on = _on_day(raw, year)
                if on in wanted:
                    born = int(raw[:4]) if raw[:4].isdigit() else None
                    out.append(
                        Occasion(
                            kind,
                            on,
                            contact.id,
                            contact.display_name,
                            contact.owner_id,
                            (year - born) if born and born < year else None,
                        )
                    )
    return sorted(out, key=lambda o: (o.day, o.name.lower()))


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    """A rep's quota for the quarter and what they won in it."""

    year: int
    quarter: int
    currency: str
    quota: Decimal | None
    won: Decimal
    open_weighted: Decimal

    @property
    def attainment(self) -> float | None:
        """Won over quota, as a percentage (``None`` without a quota)."""
        return float(self.won / self.quota * 100) if self.quota else None


def target(user_id: uuid.UUID, currency: str, day: date | None = None) -> Target:
    """The sales target of ``user_id`` for the quarter of ``day`` (today)."""
    from .forecast import quarter_of
    from .models import Stage

    day = day or today()
    quarter = quarter_of(day.month)
    start = datetime(day.year, 3 * quarter - 2, 1, tzinfo=UTC)
    end = (
        datetime(day.year + 1, 1, 1, tzinfo=UTC)
        if quarter == 4
        else datetime(day.year, 3 * quarter + 1, 1, tzinfo=UTC)
    )
    quota = db.session.scalar(
        select(Quota.amount).where(
            Quota.user_id == user_id,
            Quota.year == day.year,
            Quota.quarter == quarter,
            Quota.currency == currency,
        )
    )
    won = db.session.scalar(
        select(func.sum(Deal.amount)).where(
            Deal.owner_id == user_id,
            Deal.status == "won",
            Deal.currency == currency,
            Deal.closed_at >= start,
            Deal.closed_at < end,
        )
    )
    weighted = db.session.scalar(
        select(func.sum(Deal.amount * Stage.probability))
        .join(Stage, and_(Stage.tenant_id == Deal.tenant_id, Stage.id == Deal.stage_id))
        .where(
            Deal.owner_id == user_id,
            Deal.status == "open",
            Deal.currency == currency,
            Deal.forecast_category != "omitted",
            Deal.expected_close >= start.date(),
            Deal.expected_close < end.date(),
        )
    )
    return Target(
        year=day.year,
        quarter=quarter,
        currency=currency,
        quota=quota,
        won=Decimal(str(won or 0)),
        open_weighted=(Decimal(str(weighted or 0)) / 100).quantize(Decimal("0.01")),
    )


# --------------------------------------------------------------------------- the agenda


@dataclass
class Day:
    """One day of a calendar: its activities and occasions."""

    day: date
    activities: list[Activity] = field(default_factory=list)
    occasions: list[Occasion] = field(default_factory=list)
    in_month: bool = True

    @property
    def is_today(self) -> bool:
        """Today's cell."""
        return self.day == today()


@dataclass
class Agenda:
    """Everything the "my day" page shows."""

    day: date
    due_today: list[Activity]
    overdue: list[Activity]
    week: list[Day]
    occasions: list[Occasion]
    target: Target


def my_day(user_id: uuid.UUID, currency: str, day: date | None = None) -> Agenda:
    """The agenda of ``user_id`` for ``day`` (today): due today, overdue, the next 7 days,
    key contacts' occasions in that week, and the quarter's target."""
    day = day or today()
    last = day + timedelta(days=6)
    week = calendar_days(user_id, day, last)
    return Agenda(
        day=day,
        due_today=due_on(user_id, day),
        overdue=overdue(user_id, day),
        week=week,
        occasions=[o for d in week for o in d.occasions],
        target=target(user_id, currency, day),
    )


def calendar_days(
    user_id: uuid.UUID, first: date, last: date, month: int | None = None
) -> list[Day]:
    """Days ``first`` to ``last`` with ``user_id``'s activities and key contacts' occasions
    (``month``: days outside it are marked, for a month grid)."""
    activities = between(user_id, first, last)
    by_day: dict[date, list[Occasion]] = defaultdict(list)
    for occasion in occasions(first, last, user_id):
        by_day[occasion.day].append(occasion)
    out = []
    for n in range((last - first).days + 1):
        d = first + timedelta(days=n)
        out.append(
            Day(d, activities.get(d, []), by_day.get(d, []), month is None or d.month == month)
        )
    return out


def week_range(day: date) -> tuple[date, date]:
    """Monday to Sunday of the week of ``day``."""
    first = day - timedelta(days=day.weekday())
    return first, first + timedelta(days=6)


def month_range(day: date) -> tuple[date, date]:
    """The Monday-to-Sunday weeks covering the month of ``day``."""
    first = day.replace(day=1)
    last = first.replace(day=_calendar.monthrange(day.year, day.month)[1])
    return week_range(first)[0], week_range(last)[1]


# --------------------------------------------------------------------------- reminders


def _already(kind: str, keys: list[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    if not keys:
        return set()
    stmt = select(Reminder.record_id, Reminder.occasion).where(
        Reminder.kind == kind, Reminder.record_id.in_([k for k, _o in keys])
    )
    return {(r, o) for r, o in db.session.execute(stmt)}


def send_reminders(days_ahead: int, day: date | None = None) -> int:
    """Mail each owner the open activities due from ``day`` (today) to ``days_ahead`` days
    later and their key contacts' occasions in that window, each once; returns how many
    reminders went out. Caller commits (a job commits when it returns)."""
    day = day or today()
    last = day + timedelta(days=days_ahead)
    lines: dict[uuid.UUID, list[str]] = defaultdict(list)
    recorded: list[Reminder] = []
    stmt = (
        select(Activity)
        .where(
            Activity.done.is_(False),
            Activity.owner_id.is_not(None),
            Activity.kind.in_(PLANNED_KINDS),
            Activity.due_date >= day,
            Activity.due_date <= last,
        )
        .order_by(Activity.due_date)
    )
    due = list(db.session.execute(stmt).unique().scalars())
    sent = _already("activity", [(a.id, a.due_date.isoformat()) for a in due])
    for activity in due:
        key = (activity.id, activity.due_date.isoformat())
        if key in sent or (activity.account and activity.account.deleted_at is not None):
            continue
        if activity.contact and activity.contact.deleted_at is not None:
            continue
        what = activity.account or activity.contact
        lines[activity.owner_id].append(
            _(
                "%(date)s · %(kind)s: %(subject)s (%(record)s)",
                date=activity.due_date.isoformat(),
                kind=activity.kind_label,
                subject=activity.subject,
                record=what.display_name if what else "—",
            )
        )
        recorded.append(
            Reminder(kind="activity", record_id=key[0], occasion=key[1], user_id=activity.owner_id)
        )
    found = occasions(day, last)
    for kind in OCCASIONS:
        mine = [o for o in found if o.kind == kind]
        sent = _already(kind, [(o.contact_id, o.day.isoformat()) for o in mine])
        for occasion in mine:
            if (occasion.contact_id, occasion.day.isoformat()) in sent:
                continue
            lines[occasion.owner_id].append(
                _(
                    "%(date)s · %(what)s of %(name)s",
                    date=occasion.day.isoformat(),
                    what=occasion.label,
                    name=occasion.name,
                )
            )
            recorded.append(
                Reminder(
                    kind=kind,
                    record_id=occasion.contact_id,
                    occasion=occasion.day.isoformat(),
                    user_id=occasion.owner_id,
                )
            )
    if not recorded:
        return 0
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(list(lines))))}
    for user_id, items in lines.items():
        user = users.get(user_id)
        if user is None or not user.email:
            continue
        body = "\n".join(
            [_("Coming up in your sales agenda:"), "", *(f"- {line}" for line in items)]
        )
        send_mail(user.email, _("Reminder: %(num)d things coming up", num=len(items)), body)
    db.session.add_all(recorded)
    db.session.flush()
    audit_record("sfa.reminders.sent", target=str(len(recorded)))
    return len(recorded)


@job(retries=3)
def remind() -> int:
    """The scheduled reminder run of the tenant in context (idempotent); how many went out."""
    from .settings import sales_settings

    return send_reminders(sales_settings().reminder_days)
