"""Fixtures and helpers of the billing tests (imported by each ``test_billing_*`` module).

``tests/billing`` has no ``__init__.py`` (it would shadow the ``billing`` package) and so no
``conftest.py`` of its own: modules import the fixtures they use from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from stripe_server import FakeStripe

from billing.catalogue import seed_plans
from billing.entitlements import live_subscription
from billing.models import Invoice, LedgerEntry, Plan, Subscription
from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.tenancy import utcnow

WEBHOOK_SECRET = "whsec_test_secret"
SEAT_PRICES = {"small": "price_small_seat", "mid": "price_mid_seat", "enterprise": "price_ent"}
ADDON_PRICES = {"marketing": "price_addon_marketing", "hello": "price_addon_hello"}
USAGE_PRICE = "price_usage_emails"


@pytest.fixture(name="fake_stripe")
def fake_stripe_fixture() -> Iterator[FakeStripe]:
    """Our Stripe-compatible server on 127.0.0.1, for this test."""
    server = FakeStripe().start()
    yield server
    server.stop()


def stripe_config(app_config: dict[str, Any], server: FakeStripe) -> dict[str, Any]:
    """``app_config`` with Stripe configured against ``server``."""
    return {
        **app_config,
        "STRIPE_SECRET_KEY": "sk_test_local",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": server.url,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
    }


def seed(app: Any, *, stripe_prices: bool = False) -> None:
    """The default plans (the test database was wiped), with Stripe prices if asked."""
    with app.app_context():
        seed_plans(db.session.connection())
        if stripe_prices:
            for key, price in SEAT_PRICES.items():
                db.session.execute(
                    update(Plan)
                    .where(Plan.key == key)
                    .values(
                        stripe_price_id=price,
                        stripe_addon_price_ids=ADDON_PRICES,
                        stripe_usage_price_ids={"marketing_emails": USAGE_PRICE},
                    )
                )
        db.session.commit()


def edit_plan(app: Any, key: str, **values: Any) -> None:
    """Change a plan's data (plans are data the provider edits)."""
    with app.app_context():
        db.session.execute(update(Plan).where(Plan.key == key).values(**values))
        db.session.commit()


def subscription_of(app: Any, tenant: Any) -> dict[str, Any]:
    """A snapshot of the tenant's live subscription."""
    with app.app_context():
        sub = live_subscription(tenant.id)
        assert sub is not None
        return {
            "id": sub.id,
            "plan": sub.plan.key,
            "status": sub.status,
            "seats": sub.seats,
            "addons": list(sub.addons),
            "stripe_subscription_id": sub.stripe_subscription_id,
            "stripe_items": dict(sub.stripe_items),
        }


def ledger_of(app: Any, tenant: Any) -> list[tuple[str, int, str | None, str]]:
    """(kind, seats, module, source) of every ledger entry of the tenant, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(LedgerEntry)
            .join(Subscription, Subscription.id == LedgerEntry.subscription_id)
            .where(Subscription.customer_id == tenant.id)
            .order_by(LedgerEntry.id)
        ).all()
        return [(r.kind, r.seats, r.module, r.source) for r in rows]


def ledger_ids(app: Any, tenant: Any, kind: str) -> list[uuid.UUID]:
    """Ids of the tenant's own ledger entries of ``kind`` (not Stripe's), oldest first."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(LedgerEntry.id)
                .join(Subscription, Subscription.id == LedgerEntry.subscription_id)
                .where(
                    Subscription.customer_id == tenant.id,
                    LedgerEntry.kind == kind,
                    LedgerEntry.source != "gateway",
                )
                .order_by(LedgerEntry.id)
            )
        )


def invoices_of(app: Any, tenant: Any) -> list[dict[str, Any]]:
    """The tenant's invoices, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(Invoice).where(Invoice.customer_id == tenant.id).order_by(Invoice.issued_at)
        ).all()
        return [
            {"id": i.id, "status": i.status, "total": i.total_cents, "gateway": i.gateway}
            for i in rows
        ]


@contextmanager
def live(app: Any, tenant: Any) -> Iterator[Subscription]:
    """The live subscription, to change in a test (committed at the end)."""
    with app.app_context():
        sub = live_subscription(tenant.id)
        assert sub is not None
        yield sub
        db.session.commit()


def make_unpaid(app: Any, tenant: Any) -> None:
    """Put the tenant in the unpaid (read-only) state with an overdue invoice."""
    with live(app, tenant) as sub:
        sub.status = "unpaid"
        now = utcnow()
        db.session.add(
            Invoice(
                customer_id=tenant.id,
                subscription_id=sub.id,
                gateway="local",
                number="INV-OVERDUE",
                status="open",
                total_cents=4500,
                lines=[],
                issued_at=now - timedelta(days=40),
                due_at=now - timedelta(days=33),
            )
        )


def tenant_row(tenant: Any) -> Tenant:
    """The ``Tenant`` row of a ``TenantInfo`` (inside an app context)."""
    return db.session.get(Tenant, tenant.id)
