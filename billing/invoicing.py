"""What a subscription costs: invoice lines for a period, and issuing local invoices."""

from __future__ import annotations

import calendar
import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from crm_platform.sdk import db, uuid7

from .models import Invoice, Plan, Subscription, UsageRecord

#: Days a local invoice may stay open before the subscription is past due.
LOCAL_DUE_DAYS = 7


def add_months(value: datetime, months: int = 1) -> datetime:
    """``value`` moved by whole months (the day clamped to the month's length)."""
    month = value.month - 1 + months
    year = value.year + month // 12
    month = month % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def usage_totals(customer_id: uuid.UUID, start: datetime, end: datetime) -> dict[str, int]:
    """Units used per metric by a customer in ``[start, end)``."""
    rows = db.session.execute(
        select(UsageRecord.metric, func.sum(UsageRecord.quantity))
        .where(
            UsageRecord.customer_id == customer_id,
            UsageRecord.at >= start,
            UsageRecord.at < end,
        )
        .group_by(UsageRecord.metric)
    ).all()
    return {metric: int(total or 0) for metric, total in rows}


def usage_line(plan: Plan, metric: str, used: int) -> dict[str, Any] | None:
    """The invoice line of ``used`` units of ``metric`` past what the plan includes."""
    price = plan.usage_prices.get(metric)
    if not price:
        return None
    extra = max(0, used - int(price.get("included", 0)))
    amount = math.ceil(extra * int(price.get("per_1000_cents", 0)) / 1000)
    if not extra or not amount:
        return None
    return {"description": f"{metric} beyond the plan", "quantity": extra, "amount_cents": amount}


def subscription_lines(subscription: Subscription, plan: Plan) -> list[dict[str, Any]]:
    """The recurring lines of a subscription: seats, then each paid add-on."""
    lines = [
        {
            "description": f"{plan.name} seats",
            "quantity": subscription.seats,
            "amount_cents": subscription.seats * plan.price_per_seat_cents,
        }
    ]
    for module in sorted(subscription.addons):
        price = plan.addon_price(module)
        if price:
            lines.append({"description": f"Add-on: {module}", "quantity": 1, "amount_cents": price})
    return lines


def issue_invoice(
    subscription: Subscription,
    lines: list[dict[str, Any]],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
) -> Invoice:
    """Add an open local invoice of ``lines`` (paid at once when it totals nothing)."""
    total = sum(int(line["amount_cents"]) for line in lines)
    invoice_id = uuid7()
    invoice = Invoice(
        id=invoice_id,
        number=f"INV-{now:%Y%m}-{invoice_id.hex[-8:].upper()}",
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        gateway="local",
        status="open" if total else "paid",
        currency=subscription.plan.currency,
        total_cents=total,
        lines=lines,
        period_start=start,
        period_end=end,
        issued_at=now,
        due_at=now + timedelta(days=LOCAL_DUE_DAYS),
        paid_at=None if total else now,
    )
    db.session.add(invoice)
    return invoice


def next_invoice_cents(subscription: Subscription) -> int:
    """What the next period's recurring lines total."""
    lines = subscription_lines(subscription, subscription.plan)
    return sum(int(line["amount_cents"]) for line in lines)
