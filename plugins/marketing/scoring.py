"""Customer analysis from orders: RFM scores, lifetime value, value tier, lifecycle.

:func:`recompute_scores` rebuilds ``marketing_customer_scores`` for the tenant in context
with two set-based statements (a delete and one ``INSERT ... SELECT`` over the orders,
aggregated per contact, ranked with window functions); nothing is computed row by row in
Python. Only orders that count as revenue (not cancelled or refunded) of live contacts count.

* **R**ecency, **F**requency, **M**onetary scores are 1-5 by each customer's percent rank
  among the tenant's customers (ties score alike; the most recent, most frequent, biggest
  spenders score 5);
* lifetime value is the total spent; the value tier is ``high`` (top 20 % by value),
  ``medium`` (next 30 %) or ``low``;
* lifecycle: ``churned`` (no order for ``churn_days``), ``at_risk`` (none for ``risk_days``),
  ``new`` (first order within ``new_days``), ``loyal`` (at least ``loyal_orders`` orders),
  else ``active``. The thresholds are module settings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, select

from crm_platform.sdk import (
    REVENUE_STATUSES,
    Contact,
    Order,
    db,
    module_settings,
    require_tenant,
    utcnow,
)

from .models import CustomerScore
from .sqlutil import sql_uuid

DEFAULTS = {"new_days": 30, "risk_days": 180, "churn_days": 365, "loyal_orders": 5}
LIMITS = {"new_days": 365, "risk_days": 3650, "churn_days": 3650, "loyal_orders": 1000}


def thresholds() -> dict[str, int]:
    """The lifecycle thresholds of the tenant in context (module settings over defaults)."""
    stored = module_settings("marketing").get("lifecycle") or {}
    out = dict(DEFAULTS)
    for key in DEFAULTS:
        value = stored.get(key)
        if isinstance(value, int) and 0 < value <= LIMITS[key]:
            out[key] = value
    return out


def _score(rank: Any) -> Any:
    """1-5 from a percent rank (0..1)."""
    return case((rank < 0.2, 1), (rank < 0.4, 2), (rank < 0.6, 3), (rank < 0.8, 4), else_=5)


def recompute_scores(now: datetime | None = None) -> int:
    """Rebuild every customer's score of the tenant in context; returns how many there are."""
    tid = require_tenant().id
    now = now or utcnow()
    limits = thresholds()
    agg = (
        select(
            Order.contact_id.label("contact_id"),
            func.min(Order.ordered_at).label("first_at"),
            func.max(Order.ordered_at).label("last_at"),
            func.count(Order.id).label("frequency"),
            func.sum(Order.total).label("monetary"),
        )
        .join(Contact, and_(Contact.tenant_id == Order.tenant_id, Contact.id == Order.contact_id))
        .where(
            Order.tenant_id == tid,
            Order.contact_id.is_not(None),
            Order.status.in_(REVENUE_STATUSES),
            Contact.deleted_at.is_(None),
        )
        .group_by(Order.contact_id)
        .subquery("agg")
    )
    ranked = select(
        agg,
        func.percent_rank().over(order_by=agg.c.last_at).label("r_rank"),
        func.percent_rank().over(order_by=agg.c.frequency).label("f_rank"),
        func.percent_rank().over(order_by=agg.c.monetary).label("m_rank"),
        func.percent_rank().over(order_by=agg.c.monetary.desc()).label("top_rank"),
    ).subquery("ranked")
    lifecycle = case(
        (ranked.c.last_at < now - timedelta(days=limits["churn_days"]), "churned"),
        (ranked.c.last_at < now - timedelta(days=limits["risk_days"]), "at_risk"),
        (ranked.c.first_at >= now - timedelta(days=limits["new_days"]), "new"),
        (ranked.c.frequency >= limits["loyal_orders"], "loyal"),
        else_="active",
    )
    tier = case((ranked.c.top_rank < 0.2, "high"), (ranked.c.top_rank < 0.5, "medium"), else_="low")
    source = select(
        literal(tid),
        sql_uuid(),
        ranked.c.contact_id,
        ranked.c.first_at,
        ranked.c.last_at,
        ranked.c.frequency,
        ranked.c.monetary,
        func.round(ranked.c.monetary / ranked.c.frequency, 2),
        _score(ranked.c.r_rank),
        _score(ranked.c.f_rank),
        _score(ranked.c.m_rank),
        tier,
        lifecycle,
        literal(now),
    )
    columns = [
        "tenant_id",
        "id",
        "contact_id",
        "first_order_at",
        "last_order_at",
        "frequency",
        "monetary",
        "average_order",
        "r_score",
        "f_score",
        "m_score",
        "value_tier",
        "lifecycle",
        "computed_at",
    ]
    db.session.execute(
        delete(CustomerScore)
        .where(CustomerScore.tenant_id == tid)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(insert(CustomerScore).from_select(columns, source))
    return int(db.session.scalar(select(func.count()).select_from(CustomerScore)) or 0)


def score_of(contact_id: Any) -> CustomerScore | None:
    """The score of one contact, if it has ordered."""
    return db.session.scalars(
        select(CustomerScore).where(CustomerScore.contact_id == contact_id)
    ).first()


def distributions() -> dict[str, Any]:
    """Counts for the charts: by lifecycle, by value tier, by R and F score, value bands."""
    from .segment_fields import LIFECYCLE_LABELS, SCORE_LIFECYCLES, TIER_LABELS, VALUE_TIERS

    by = {
        name: dict(db.session.execute(select(column, func.count()).group_by(column)).all())
        for name, column in (
            ("lifecycle", CustomerScore.lifecycle),
            ("tier", CustomerScore.value_tier),
        )
    }
    grid = {
        (r, f): n
        for r, f, n in db.session.execute(
            select(CustomerScore.r_score, CustomerScore.f_score, func.count()).group_by(
                CustomerScore.r_score, CustomerScore.f_score
            )
        )
    }
    totals = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(CustomerScore.monetary), 0),
            func.coalesce(func.avg(CustomerScore.monetary), 0),
            func.max(CustomerScore.computed_at),
        )
    ).one()
    return {
        "lifecycle": [(k, int(by["lifecycle"].get(k, 0))) for k in SCORE_LIFECYCLES],
        "lifecycle_chart": (
            [str(LIFECYCLE_LABELS[k]) for k in SCORE_LIFECYCLES],
            [int(by["lifecycle"].get(k, 0)) for k in SCORE_LIFECYCLES],
        ),
        "tier": [(k, int(by["tier"].get(k, 0))) for k in VALUE_TIERS],
        "tier_chart": (
            [str(TIER_LABELS[k]) for k in VALUE_TIERS],
            [int(by["tier"].get(k, 0)) for k in VALUE_TIERS],
        ),
        "rf": [[int(grid.get((r, f), 0)) for r in range(1, 6)] for f in range(1, 6)],
        "customers": int(totals[0]),
        "value": Decimal(str(totals[1])).quantize(Decimal("0.01")),
        "average_value": Decimal(str(totals[2])).quantize(Decimal("0.01")),
        "computed_at": totals[3],
    }
