"""Campaign effectiveness: reach, delivery, opens, clicks, unsubscribes, conversions, ROI.

All counts are SQL aggregates over the campaign's message rows. A recipient *converted* when,
between the campaign's start and ``conversion_days`` after it finished, they placed an order
that counts as revenue or won a deal (a ``deal.won`` event naming them or their account).
Revenue is those orders' totals plus those deals' values; ROI is ``(revenue − cost) / cost``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select

from crm_platform.sdk import REVENUE_STATUSES, Contact, Order, db, utcnow

from .models import Campaign, Click, Conversion, Message

REACHED = ("sent", "targeted")


@dataclass
class Effect:
    """What one campaign achieved."""

    campaign: Campaign
    recipients: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    suppressed: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    converted: int = 0
    revenue: Decimal = Decimal("0.00")

    @property
    def cost(self) -> Decimal:
        """What the campaign cost."""
        return self.campaign.cost or Decimal("0.00")

    @property
    def roi(self) -> float | None:
        """``(revenue − cost) / cost``; ``None`` without a cost."""
        if not self.cost:
            return None
        return float((self.revenue - self.cost) / self.cost)

    def rate(self, part: int, whole: int | None = None) -> float:
        """``part`` as a share of ``whole`` (default: delivered, or reached for non-e-mail)."""
        base = (
            whole
            if whole is not None
            else (self.delivered if self.campaign.is_email else self.sent)
        )
        return part / base if base else 0.0


def window(campaign: Campaign, now: datetime | None = None) -> tuple[datetime, datetime] | None:
    """When a conversion counts for this campaign (``None`` before it started)."""
    start = campaign.started_at
    if start is None:
        return None
    end = (campaign.finished_at or now or utcnow()) + timedelta(days=campaign.conversion_days)
    if start.tzinfo is None:
        start = start.replace(tzinfo=(now or utcnow()).tzinfo)
    if end.tzinfo is None:
        end = end.replace(tzinfo=start.tzinfo)
    return start, end


def effect(campaign: Campaign, now: datetime | None = None) -> Effect:
    """Every figure of one campaign."""
    mine = Message.campaign_id == campaign.id
    row = db.session.execute(
        select(
            func.count(),
            func.count(case((Message.status.in_(REACHED), 1))),
            func.count(case((and_(Message.status == "sent", Message.bounced_at.is_(None)), 1))),
            func.count(Message.bounced_at),
            func.count(case((Message.status == "suppressed", 1))),
            func.count(Message.opened_at),
            func.count(Message.clicked_at),
            func.count(Message.unsubscribed_at),
        ).where(mine)
    ).one()
    out = Effect(campaign, *[int(x) for x in row])
    span = window(campaign, now)
    if span is None or not out.sent:
        return out
    start, end = span
    reached = and_(mine, Message.status.in_(REACHED))
    ordered = and_(
        Order.tenant_id == Message.tenant_id,
        Order.contact_id == Message.contact_id,
        Order.status.in_(REVENUE_STATUSES),
        Order.ordered_at >= start,
        Order.ordered_at < end,
    )
    won = and_(
        Conversion.tenant_id == Message.tenant_id,
        Conversion.occurred_at >= start,
        Conversion.occurred_at < end,
        or_(
            Conversion.contact_id == Message.contact_id,
            and_(Contact.account_id.is_not(None), Conversion.account_id == Contact.account_id),
        ),
    )
    converted = (
        select(func.count())
        .select_from(Message)
        .join(
            Contact, and_(Contact.tenant_id == Message.tenant_id, Contact.id == Message.contact_id)
        )
        .where(
            reached,
            or_(exists(select(Order.id).where(ordered)), exists(select(Conversion.id).where(won))),
        )
    )
    out.converted = int(db.session.scalar(converted) or 0)
    recipients = select(Message.contact_id).where(reached)
    order_revenue = db.session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).where(
            Order.contact_id.in_(recipients),
            Order.status.in_(REVENUE_STATUSES),
            Order.ordered_at >= start,
            Order.ordered_at < end,
        )
    )
    accounts = select(Contact.account_id).where(Contact.id.in_(recipients))
    deal_value = db.session.scalar(
        select(func.coalesce(func.sum(Conversion.value), 0)).where(
            or_(Conversion.contact_id.in_(recipients), Conversion.account_id.in_(accounts)),
            Conversion.occurred_at >= start,
            Conversion.occurred_at < end,
        )
    )
    out.revenue = (Decimal(str(order_revenue)) + Decimal(str(deal_value))).quantize(Decimal("0.01"))
    return out


def variants(campaign: Campaign) -> list[dict[str, Any]]:
    """Sent, opened and clicked per A/B subject."""
    rows = db.session.execute(
        select(
            Message.variant,
            func.count(Message.sent_at),
            func.count(Message.opened_at),
            func.count(Message.clicked_at),
        )
        .where(Message.campaign_id == campaign.id, Message.variant.is_not(None))
        .group_by(Message.variant)
        .order_by(Message.variant)
    ).all()
    return [
        {
            "variant": v,
            "subject": campaign.subject if v == "a" else campaign.subject_b,
            "sent": int(s),
            "opened": int(o),
            "clicked": int(c),
            "open_rate": o / s if s else 0.0,
        }
        for v, s, o, c in rows
    ]


def top_links(campaign: Campaign, limit: int = 10) -> list[tuple[str, int]]:
    """The most clicked links of a campaign."""
    stmt = (
        select(Click.url, func.count())
        .join(Message, and_(Message.tenant_id == Click.tenant_id, Message.id == Click.message_id))
        .where(Message.campaign_id == campaign.id)
        .group_by(Click.url)
        .order_by(func.count().desc(), Click.url)
        .limit(limit)
    )
    return [(url, int(n)) for url, n in db.session.execute(stmt)]


def opens_by_day(campaign: Campaign, days: int = 14) -> tuple[list[str], list[int], list[int]]:
    """Opens and clicks per day since the campaign started (for a line chart)."""
    span = window(campaign)
    if span is None:
        return [], [], []
    start = span[0].date()
    labels = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    opened = _per_day(Message.opened_at, campaign, labels)
    clicked = _per_day(Message.clicked_at, campaign, labels)
    return labels, opened, clicked


def _per_day(column: Any, campaign: Campaign, labels: list[str]) -> list[int]:
    day = func.date(column)
    rows = db.session.execute(
        select(day, func.count())
        .where(Message.campaign_id == campaign.id, column.is_not(None))
        .group_by(day)
    )
    counts = dict.fromkeys(labels, 0)
    for when, n in rows:
        key = str(when)[:10]
        if key in counts:
            counts[key] += int(n)
    return list(counts.values())


def compare(campaigns: list[Campaign]) -> list[Effect]:
    """The effects of several campaigns, for the comparison page."""
    now = utcnow()
    return [effect(c, now) for c in campaigns]
