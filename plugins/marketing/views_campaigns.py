"""Campaign pages: list, write, preview, send or schedule, the report, comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from wtforms.fields import SelectChoice

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    current_user,
    db,
    get_or_404,
    has_permission,
    parse_uuid,
    require_permission,
)

from .analytics import compare, effect, opens_by_day, top_links, variants
from .campaigns import (
    CHANNEL_LABELS,
    CHANNELS,
    EDITABLE,
    STATUS_LABELS,
    cancel_campaign,
    create_campaign,
    preview,
    ready_problems,
    sample_contact,
    schedule_campaign,
    start_campaign,
    unschedule_campaign,
    update_campaign,
)
from .forms import ButtonForm, CampaignForm, ScheduleForm
from .merge import all_merge_fields
from .models import Campaign, EmailTemplate, Message, Segment
from .suppression import topics
from .web import bp, require_button

FIELDS = (
    "name",
    "channel",
    "segment_id",
    "topic",
    "subject",
    "subject_b",
    "ab_test_percent",
    "ab_wait_hours",
    "body_html",
    "from_name",
    "reply_to",
    "rate_per_minute",
    "cost",
    "currency",
    "responses",
    "conversion_days",
    "notes",
)


def _choices(form: CampaignForm) -> None:
    form.channel.choices = [SelectChoice(c, CHANNEL_LABELS[c]) for c in CHANNELS]
    segments = db.session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
    form.segment_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(i), n) for i, n in segments
    ]
    form.topic.choices = [SelectChoice(k, v) for k, v in topics().items()]
    templates = db.session.execute(
        select(EmailTemplate.id, EmailTemplate.name).order_by(EmailTemplate.name)
    ).all()
    form.template_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(i), n) for i, n in templates
    ]


def _submitted(form: CampaignForm) -> dict[str, Any]:
    data = {name: form[name].data for name in FIELDS}
    template_id = parse_uuid(form.template_id.data or "")
    if template_id is not None:
        template = db.session.scalars(
            select(EmailTemplate).where(EmailTemplate.id == template_id)
        ).first()
        if template is not None:
            data["subject"] = data.get("subject") or template.subject
            data["body_html"] = data.get("body_html") or template.body_html
    return data


def _show(form: CampaignForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        target = form._fields.get(name) or form.name
        target.errors = [*target.errors, message]


@bp.get("/campaigns")
@require_permission("marketing.read")
def campaigns() -> Any:
    """Every campaign, newest first, with its main figures."""
    rows = db.session.scalars(
        select(Campaign).order_by(Campaign.created_at.desc()).limit(200)
    ).all()
    stats = {
        cid: (int(sent), int(opened), int(clicked))
        for cid, sent, opened, clicked in db.session.execute(
            select(
                Message.campaign_id,
                func.count(Message.sent_at),
                func.count(Message.opened_at),
                func.count(Message.clicked_at),
            )
            .where(Message.campaign_id.in_([c.id for c in rows]))
            .group_by(Message.campaign_id)
        )
    }
    return render_template(
        "marketing/campaigns.html",
        campaigns=rows,
        stats=stats,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        can_manage=has_permission("marketing.manage"),
    )


def _edit_page(campaign: Campaign | None) -> Any:
    if campaign is None:
        form = CampaignForm(
            channel=request.args.get("channel", "email"),
            segment_id=request.args.get("segment_id", ""),
        )
    else:
        form = CampaignForm(
            obj=campaign, segment_id=str(campaign.segment_id) if campaign.segment_id else ""
        )
    _choices(form)
    if form.validate_on_submit():
        try:
            data = _submitted(form)
            if campaign is None:
                campaign = create_campaign(data, actor=current_user)
            else:
                update_campaign(campaign, data)
        except ValidationFailed as exc:
            db.session.rollback()
            _show(form, exc.errors)
        else:
            db.session.commit()
            flash(_("Campaign “%(name)s” saved.", name=campaign.name), "success")
            return redirect(url_for("marketing.campaign", campaign_id=campaign.id))
    return (
        render_template(
            "marketing/campaign_form.html",
            form=form,
            campaign=campaign,
            merge_fields=all_merge_fields(),
        ),
        400 if form.errors else 200,
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@require_permission("marketing.manage")
def campaign_new() -> Any:
    """Write a campaign (``?channel=event`` for a recorded one)."""
    return _edit_page(None)


@bp.route("/campaigns/<campaign_id>/edit", methods=["GET", "POST"])
@require_permission("marketing.manage")
def campaign_edit(campaign_id: str) -> Any:
    """Change a campaign (its content only before it is sent)."""
    return _edit_page(get_or_404(Campaign, campaign_id))


@bp.get("/campaigns/<campaign_id>")
@require_permission("marketing.read")
def campaign(campaign_id: str) -> Any:
    """A campaign: its state, figures, A/B results, links clicked, opens over time."""
    found = get_or_404(Campaign, campaign_id)
    result = effect(found)
    labels, opened, clicked = opens_by_day(found)
    segment = (
        db.session.get(Segment, (found.tenant_id, found.segment_id)) if found.segment_id else None
    )
    return render_template(
        "marketing/campaign.html",
        campaign=found,
        segment=segment,
        effect=result,
        variants=variants(found),
        links=top_links(found),
        days=labels,
        opened=opened,
        clicked=clicked,
        problems=ready_problems(found) if found.status in EDITABLE else {},
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        form=ButtonForm(),
        schedule_form=ScheduleForm(),
        editable=found.status in EDITABLE,
        can_manage=has_permission("marketing.manage"),
        can_send=has_permission("marketing.send"),
    )


@bp.get("/campaigns/<campaign_id>/preview")
@require_permission("marketing.read")
def campaign_preview(campaign_id: str) -> Any:
    """The campaign as one contact of its segment (or ``?contact_id=``) would get it."""
    found = get_or_404(Campaign, campaign_id)
    contact = None
    if request.args.get("contact_id"):
        contact = get_or_404(Contact, request.args["contact_id"])
    else:
        contact = sample_contact(found)
    return render_template(
        "marketing/_preview.html", campaign=found, contact=contact, result=preview(found, contact)
    )


def _action(campaign_id: str, work: Any, done: str) -> Any:
    found = get_or_404(Campaign, campaign_id)
    require_button(ButtonForm())
    try:
        work(found)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("marketing.campaign", campaign_id=found.id)), 303


@bp.post("/campaigns/<campaign_id>/send")
@require_permission("marketing.send")
def campaign_send(campaign_id: str) -> Any:
    """Send now (an e-mail campaign) or record the targeted contacts (other channels)."""
    return _action(campaign_id, start_campaign, _("The campaign has started."))


@bp.post("/campaigns/<campaign_id>/schedule")
@require_permission("marketing.send")
def campaign_schedule(campaign_id: str) -> Any:
    """Send at a chosen time (the form gives the browser's offset from UTC in minutes)."""
    form = ScheduleForm()

    def schedule(found: Campaign) -> None:
        try:
            local = datetime.fromisoformat(form.scheduled_at.data or "")
            offset = int(form.timezone_offset.data or "0")
        except ValueError as exc:
            raise ValidationFailed({"scheduled_at": _("Choose a date and a time.")}) from exc
        at = (local + timedelta(minutes=offset)).replace(tzinfo=UTC)
        schedule_campaign(found, at)

    return _action(campaign_id, schedule, _("The campaign is scheduled."))


@bp.post("/campaigns/<campaign_id>/unschedule")
@require_permission("marketing.send")
def campaign_unschedule(campaign_id: str) -> Any:
    """Back to draft."""
    return _action(campaign_id, unschedule_campaign, _("The campaign is a draft again."))


@bp.post("/campaigns/<campaign_id>/cancel")
@require_permission("marketing.send")
def campaign_cancel(campaign_id: str) -> Any:
    """Stop sending: the recipients not reached yet get nothing."""
    return _action(campaign_id, cancel_campaign, _("The campaign was stopped."))


@bp.get("/campaigns/compare")
@require_permission("marketing.read")
def campaigns_compare() -> Any:
    """Campaigns side by side: reach, opens, clicks, conversions, cost and ROI."""
    wanted = request.args.getlist("id")
    stmt = select(Campaign).where(Campaign.status.in_(("sending", "sent", "recorded")))
    if wanted:
        ids = [i for i in (parse_uuid(w) for w in wanted) if i is not None]
        if not ids:
            abort(404)
        stmt = stmt.where(Campaign.id.in_(ids))
    rows = db.session.scalars(stmt.order_by(Campaign.started_at.desc()).limit(20)).all()
    effects = compare(list(rows))
    return render_template(
        "marketing/compare.html",
        effects=effects,
        channel_labels=CHANNEL_LABELS,
    )
