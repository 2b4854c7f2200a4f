"""The console dashboard's numbers: tenants by status, plan and state; sign-ups and churn.

Sign-ups are tenants created per month; churn is tenants suspended or canceled per month,
counted from the tenants' audit logs (``CHURN_ACTIONS``, read in the provider scope). Plans,
subscription states and MRR come from ``crm_provider_tenant_summary`` (billing).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from ..audit import AuditEvent
from ..extensions import db
from ..identity import Tenant
from ..plugin_types import DashboardPeriod
from ..tenancy import provider_scope, utcnow
from .hooks import tenant_summaries
from .models import aware

#: Audit actions that count as a tenant lost: suspended by the provider (the core records it),
#: or canceled (a billing plugin records ``tenant.canceled`` when a subscription ends).
CHURN_ACTIONS = ("tenant.suspended", "tenant.canceled")
#: Tenants per ``crm_provider_tenant_summary`` call when the dashboard counts every tenant.
SUMMARY_BATCH = 500
NO_PLAN = "—"


def _month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def dashboard_period(months: int = 12, today: date | None = None) -> DashboardPeriod:
    """The last ``months`` months up to this one, oldest first."""
    this = _month_start(today or utcnow().date())
    firsts = tuple(_add_months(this, -i) for i in reversed(range(months)))
    start = datetime(firsts[0].year, firsts[0].month, 1, tzinfo=UTC)
    after = _add_months(this, 1)
    end = datetime(after.year, after.month, 1, tzinfo=UTC)
    return DashboardPeriod(months=firsts, start=start, end=end)


def per_month(period: DashboardPeriod, moments: list[datetime]) -> list[int]:
    """How many of ``moments`` fall in each month of ``period``."""
    index = {(m.year, m.month): i for i, m in enumerate(period.months)}
    counts = [0] * len(period.months)
    for moment in moments:
        at = aware(moment)
        i = index.get((at.year, at.month)) if at else None
        if i is not None:
            counts[i] += 1
    return counts


def signups(period: DashboardPeriod) -> list[int]:
    """Tenants created in each month."""
    stmt = select(Tenant.created_at).where(
        Tenant.created_at >= period.start, Tenant.created_at < period.end
    )
    return per_month(period, list(db.session.scalars(stmt)))


def churn(period: DashboardPeriod, actor: str) -> list[int]:
    """Tenants suspended or canceled in each month (from the tenants' audit logs)."""
    stmt = select(AuditEvent.at).where(
        AuditEvent.action.in_(CHURN_ACTIONS),
        AuditEvent.at >= period.start,
        AuditEvent.at < period.end,
    )
    with provider_scope("console: dashboard churn", actor) as session:
        moments = list(session.scalars(stmt))
    return per_month(period, moments)


def tenants_by_status() -> dict[str, int]:
    """Tenants per status (active, suspended)."""
    stmt = select(Tenant.status, func.count()).group_by(Tenant.status).order_by(Tenant.status)
    return dict(db.session.execute(stmt).all())


@dataclass
class BillingFacts:
    """Totals of the billing facts of every tenant (empty without a billing plugin)."""

    plans: Counter = field(default_factory=Counter)
    states: Counter = field(default_factory=Counter)
    mrr_cents: dict[str, int] = field(default_factory=dict)  # currency → cents
    answered: bool = False


def billing_facts() -> BillingFacts:
    """Count every tenant's plan and state and add up MRR, from the summary hook in batches."""
    facts = BillingFacts()
    last = None
    while True:
        stmt = select(Tenant).order_by(Tenant.id).limit(SUMMARY_BATCH)
        if last is not None:
            stmt = stmt.where(Tenant.id > last)
        batch = list(db.session.scalars(stmt))
        if not batch:
            return facts
        for summary in tenant_summaries(batch).values():
            _add(facts, summary)
        last = batch[-1].id


def _add(facts: BillingFacts, summary: dict[str, Any]) -> None:
    if summary:
        facts.answered = True
    facts.plans[str(summary.get("plan") or NO_PLAN)] += 1
    facts.states[str(summary.get("state") or NO_PLAN)] += 1
    cents = summary.get("mrr_cents")
    if isinstance(cents, int) and cents:
        currency = str(summary.get("currency") or "").upper()
        facts.mrr_cents[currency] = facts.mrr_cents.get(currency, 0) + cents
