"""What the module shows elsewhere: the contact's Marketing panel, timeline lines, the
dashboard widget and search results."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select

from crm_platform.sdk import Contact, SearchResult, TimelineEntry, db

from .analytics import effect
from .forms import ButtonForm
from .models import Campaign, Enrollment, Message, Segment, SegmentMember, Sequence
from .scoring import distributions, score_of
from .segment_fields import LIFECYCLE_LABELS, TIER_LABELS
from .sequences import STOP_REASONS
from .suppression import scopes_of


def contact_panel(contact: Contact, membership: Any) -> str:
    """The Marketing panel: value and lifecycle, campaign history, sequences, lists."""
    history = db.session.execute(
        select(Message, Campaign.name, Sequence.name)
        .outerjoin(
            Campaign,
            and_(Campaign.tenant_id == Message.tenant_id, Campaign.id == Message.campaign_id),
        )
        .outerjoin(
            Enrollment,
            and_(Enrollment.tenant_id == Message.tenant_id, Enrollment.id == Message.enrollment_id),
        )
        .outerjoin(
            Sequence,
            and_(Sequence.tenant_id == Enrollment.tenant_id, Sequence.id == Enrollment.sequence_id),
        )
        .where(Message.contact_id == contact.id)
        .order_by(Message.created_at.desc())
        .limit(20)
    ).all()
    enrollments = db.session.execute(
        select(Enrollment, Sequence.name)
        .join(
            Sequence,
            and_(Sequence.tenant_id == Enrollment.tenant_id, Sequence.id == Enrollment.sequence_id),
        )
        .where(Enrollment.contact_id == contact.id)
        .order_by(Enrollment.enrolled_at.desc())
    ).all()
    lists = db.session.execute(
        select(Segment.id, Segment.name, SegmentMember.id.is_not(None))
        .outerjoin(
            SegmentMember,
            and_(
                SegmentMember.tenant_id == Segment.tenant_id,
                SegmentMember.segment_id == Segment.id,
                SegmentMember.contact_id == contact.id,
            ),
        )
        .order_by(Segment.name)
    ).all()
    sequences = db.session.execute(
        select(Sequence.id, Sequence.name)
        .where(Sequence.status == "active")
        .order_by(Sequence.name)
    ).all()
    static = db.session.execute(
        select(Segment.id, Segment.name).where(Segment.kind == "static").order_by(Segment.name)
    ).all()
    return render_template(
        "marketing/panel.html",
        contact=contact,
        score=score_of(contact.id),
        history=history,
        enrollments=enrollments,
        member_of=[(i, n) for i, n, member in lists if member],
        static_lists=static,
        sequences=sequences,
        suppressed=scopes_of(contact.email) if contact.email else set(),
        lifecycle_labels=LIFECYCLE_LABELS,
        tier_labels=TIER_LABELS,
        stop_reasons=STOP_REASONS,
        form=ButtonForm(),
        can_manage=membership.can("marketing.manage"),
        can_send=membership.can("marketing.send"),
        back=url_for("workspace.contact", contact_id=contact.id) + "#panel-marketing",
    )


def timeline_entries(contact: Contact) -> list[TimelineEntry]:
    """Campaign e-mail sent, opened, clicked; unsubscribes."""
    rows = db.session.execute(
        select(Message, func.coalesce(Campaign.name, ""))
        .outerjoin(
            Campaign,
            and_(Campaign.tenant_id == Message.tenant_id, Campaign.id == Message.campaign_id),
        )
        .where(Message.contact_id == contact.id, Message.sent_at.is_not(None))
        .order_by(Message.sent_at.desc())
        .limit(50)
    ).all()
    out = []
    for message, name in rows:
        label = name or _("a sequence e-mail")
        if message.status == "targeted":
            out.append(
                TimelineEntry(
                    at=message.sent_at,
                    title=_("Targeted by %(name)s", name=label),
                    kind="marketing",
                )
            )
            continue
        out.append(
            TimelineEntry(
                at=message.sent_at, title=_("E-mail sent: %(name)s", name=label), kind="marketing"
            )
        )
        if message.opened_at:
            out.append(
                TimelineEntry(
                    at=message.opened_at, title=_("Opened %(name)s", name=label), kind="marketing"
                )
            )
        if message.clicked_at:
            out.append(
                TimelineEntry(
                    at=message.clicked_at,
                    title=_("Clicked in %(name)s", name=label),
                    kind="marketing",
                )
            )
        if message.unsubscribed_at:
            out.append(
                TimelineEntry(at=message.unsubscribed_at, title=_("Unsubscribed"), kind="marketing")
            )
    return out


def dashboard_widget() -> str:
    """The last campaign's results and customers by lifecycle."""
    last = db.session.scalars(
        select(Campaign)
        .where(Campaign.status.in_(("sending", "sent", "recorded")))
        .order_by(Campaign.started_at.desc())
        .limit(1)
    ).first()
    return render_template(
        "marketing/widget.html",
        last=effect(last) if last else None,
        dist=distributions(),
        lifecycle_labels=LIFECYCLE_LABELS,
    )


def search(query: str, limit: int) -> list[SearchResult]:
    """Campaigns and segments whose name contains the query."""
    needle = f"%{query.strip().lower()}%"
    out: list[SearchResult] = []
    for campaign in db.session.scalars(
        select(Campaign).where(func.lower(Campaign.name).like(needle)).limit(limit)
    ):
        out.append(
            SearchResult(
                title=campaign.name,
                url=url_for("marketing.campaign", campaign_id=campaign.id),
                kind=_("Campaign"),
                subtitle=campaign.status,
            )
        )
    for segment in db.session.scalars(
        select(Segment)
        .where(or_(func.lower(Segment.name).like(needle)))
        .limit(max(0, limit - len(out)))
    ):
        out.append(
            SearchResult(
                title=segment.name,
                url=url_for("marketing.segment", segment_id=segment.id),
                kind=_("Segment"),
                subtitle=_("%(num)d contacts", num=segment.member_count),
            )
        )
    return out[:limit]
