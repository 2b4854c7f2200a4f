"""What billing shows in the provider console: facts per tenant, the tenant panel, revenue."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import Panel, Widget, db, utcnow

from .entitlements import effective_state, live_subscription
from .invoicing import add_months, next_invoice_cents
from .models import PAID_STATES, Invoice, Subscription, aware
from .service import offered_plans

INVOICES_SHOWN = 10


def mrr_cents(subscription: Subscription, state: str) -> int:
    """Monthly recurring revenue of a subscription: its recurring lines while it is paid."""
    return next_invoice_cents(subscription) if state in PAID_STATES - {"unpaid"} else 0


def tenant_summaries(tenants: list[Any]) -> dict[Any, dict[str, Any]]:
    """Plan, effective state, seats and MRR of each of ``tenants`` (one query for the page)."""
    ids = [t.id for t in tenants]
    if not ids:
        return {}
    now = utcnow()
    rows = db.session.scalars(
        select(Subscription).where(Subscription.customer_id.in_(ids), Subscription.live.is_(True))
    ).all()
    out: dict[Any, dict[str, Any]] = {}
    for subscription in rows:
        state, _why = effective_state(subscription, now)
        out[subscription.customer_id] = {
            "plan": subscription.plan.name,
            "state": state,
            "seats": subscription.seats,
            "mrr_cents": mrr_cents(subscription, state),
            "currency": subscription.plan.currency,
        }
    return out


def tenant_panel(tenant: Any) -> Panel:
    """The tenant's subscription and invoices, with forms for the provider's actions."""
    subscription = live_subscription(tenant.id)
    state = effective_state(subscription, utcnow())[0] if subscription else "none"
    invoices = db.session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == tenant.id)
        .order_by(Invoice.issued_at.desc())
        .limit(INVOICES_SHOWN)
    ).all()
    html = render_template(
        "billing/provider_panel.html",
        tenant=tenant,
        subscription=subscription,
        state=state,
        invoices=invoices,
        plans=[p for p in offered_plans()],
        aware=aware,
    )
    return Panel(title=_("Billing"), html=html, order=20, key="billing")


def _month(value: datetime) -> str:
    return f"{value:%Y-%m}"


def revenue_widget(period: Any) -> Widget:
    """Paid invoices per month of the dashboard's period, in each currency."""
    start = aware(period.start)
    end = aware(getattr(period, "end", None)) or add_months(start, len(period.months))
    rows = db.session.execute(
        select(Invoice.paid_at, Invoice.total_cents, Invoice.currency).where(
            Invoice.status == "paid", Invoice.paid_at >= start, Invoice.paid_at < end
        )
    ).all()
    per_currency: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for paid_at, cents, currency in rows:
        per_currency[currency.upper()][_month(aware(paid_at))] += cents  # type: ignore[arg-type]
    keys = [f"{m:%Y-%m}" for m in period.months]
    series = [
        {"name": currency, "values": [round(months.get(k, 0) / 100, 2) for k in keys]}
        for currency, months in sorted(per_currency.items())
    ]
    html = render_template("billing/provider_revenue.html", labels=period.labels, series=series)
    return Widget(title=_("Revenue paid per month"), html=html, order=30, size="full")
