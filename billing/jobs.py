"""Billing's jobs: push ledger entries to the gateway, report usage, the daily cycle.

All of them run while a tenant is read-only (``read_only_ok``): paying must stay possible.
Each is idempotent: a pushed entry is remembered on the subscription (``synced_through_id``)
and its request carries the entry's idempotency key; a reported usage record is stamped.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import db, job, require_tenant, utcnow

from .gateways import gateway_for
from .models import BillingCustomer, LedgerEntry, Subscription, UsageRecord
from .service import live_subscription, run_cycle, tenant_by_id

#: Ledger kinds a gateway applies (the others only record history).
PUSHED_KINDS = ("seats", "plan", "addon_on", "addon_off")
USAGE_BATCH = 500


@job(retries=5, read_only_ok=True)
def push_changes(subscription_id: str) -> dict[str, Any]:
    """Push every ledger entry after the last one synced, in order, one commit each."""
    subscription = db.session.get(Subscription, uuid.UUID(subscription_id))
    if subscription is None or subscription.customer_id != require_tenant().id:
        return {"skipped": "no such subscription"}
    gateway = gateway_for(subscription)
    stmt = select(LedgerEntry).where(
        LedgerEntry.subscription_id == subscription.id,
        LedgerEntry.source != "gateway",
        LedgerEntry.kind.in_(PUSHED_KINDS),
    )
    if subscription.synced_through_id is not None:
        stmt = stmt.where(LedgerEntry.id > subscription.synced_through_id)
    pushed = 0
    for entry in db.session.scalars(stmt.order_by(LedgerEntry.id)).all():
        gateway.push(subscription, entry)
        subscription.synced_through_id = entry.id
        db.session.commit()
        pushed += 1
    return {"pushed": pushed}


@job(retries=3, read_only_ok=True)
def report_usage() -> dict[str, Any]:
    """Report the tenant's unreported usage records to its gateway."""
    tenant_id = require_tenant().id
    customer = db.session.get(BillingCustomer, tenant_id)
    subscription = live_subscription(tenant_id)
    if customer is None or subscription is None:
        return {"reported": 0}
    gateway = gateway_for(subscription)
    if gateway.remote and not customer.stripe_customer_id:
        return {"reported": 0, "waiting": "customer not linked"}
    records = db.session.scalars(
        select(UsageRecord)
        .where(UsageRecord.customer_id == tenant_id, UsageRecord.reported_at.is_(None))
        .order_by(UsageRecord.id)
        .limit(USAGE_BATCH)
    ).all()
    for record in records:
        gateway.report_usage(customer, record)
        record.reported_at = utcnow()
        db.session.commit()
    return {"reported": len(records)}


@job(retries=3, read_only_ok=True)
def billing_cycle() -> dict[str, Any]:
    """The tenant's daily billing step (trial end; local renewals and dunning)."""
    tenant = tenant_by_id(require_tenant().id)
    if tenant is None:
        return {"skipped": "no tenant"}
    return {"state": run_cycle(tenant)}
