"""Billing's tables: the provider's records about its customers (platform tables, no RLS).

Plans are data the provider edits. Every tenant is one ``BillingCustomer`` whose id *is* the
tenant's id (an extension of the ``tenants`` platform table, like Zulip's ``Customer`` of a
realm). A customer has at most one live ``Subscription`` (``live`` is ``True`` or ``NULL``,
unique per customer), changes of seats, plan and add-ons are an append-only
``LedgerEntry`` log whose ids derive the idempotency keys sent to the gateway, and
``Invoice``, ``UsageRecord`` and ``StripeEvent`` mirror what the gateway knows.

These tables are written by webhooks and jobs that have no tenant context and are read by the
provider across tenants, so they are not ``TenantScoped``: every query of a tenant's rows
filters by its customer id explicitly (``BillingCustomer.id == tenant.id``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from crm_platform.sdk import Base, utcnow, uuid7, watch_for_cache

#: Subscription states.
STATES = ("trialing", "active", "past_due", "unpaid", "canceled", "suspended")
#: States in which the tenant is read-only.
READ_ONLY_STATES = frozenset({"unpaid", "canceled", "suspended"})
#: States in which seats are paid for (seat changes are billed).
PAID_STATES = frozenset({"active", "past_due", "unpaid"})
INVOICE_STATES = ("draft", "open", "paid", "void", "uncollectible")
EVENT_STATES = ("received", "started", "succeeded", "failed")


def aware(value: datetime | None) -> datetime | None:
    """``value`` as timezone-aware UTC (SQLite hands back naive datetimes)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Plan(Base):
    """A plan the provider offers: prices, modules, limits (edited as data, not code)."""

    __tablename__ = "billing_plans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Offered to tenants (a plan that is not stays on the subscriptions that have it).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: New tenants start trialing on the default plan.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    price_per_seat_cents: Mapped[int] = mapped_column(Integer, default=0)
    #: Module features included (``"*"``: every module).
    included_modules: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Module features that can be bought on top: feature -> monthly price in cents.
    addon_modules: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: Most records by kind (``{"contacts": 25000}``); a kind not named is unlimited.
    record_limits: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: API rate limit of the tenant's keys (``None``: the platform's ``CRM_API_RATELIMIT``).
    api_rate_limit: Mapped[str | None] = mapped_column(String(100))
    storage_mb: Mapped[int | None] = mapped_column(Integer)
    max_seats: Mapped[int | None] = mapped_column(Integer)
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    #: Days a past-due subscription keeps full access before it turns read-only.
    grace_days: Mapped[int] = mapped_column(Integer, default=14)
    #: Metered usage: metric -> {"included": units a month, "per_1000_cents": price}.
    usage_prices: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    stripe_price_id: Mapped[str | None] = mapped_column(String(100))
    stripe_addon_price_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    stripe_usage_price_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    def includes(self, feature: str) -> bool:
        """True when the plan includes module ``feature`` at no extra cost."""
        return "*" in self.included_modules or feature in self.included_modules

    def addon_price(self, feature: str) -> int | None:
        """The monthly price of ``feature`` as an add-on, or ``None`` (included or not sold)."""
        if self.includes(feature):
            return None
        return self.addon_modules.get(feature)


class BillingCustomer(Base):
    """A tenant as the provider's customer; its id is the tenant's id."""

    __tablename__ = "billing_customers"

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    gateway: Mapped[str] = mapped_column(String(20), default="local")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Subscription(Base):
    """A customer's subscription to a plan; at most one is live per customer."""

    __tablename__ = "billing_subscriptions"
    __table_args__ = (UniqueConstraint("customer_id", "live"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("billing_customers.id", ondelete="CASCADE")
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing_plans.id"))
    #: ``True`` for the customer's live subscription, ``None`` once another replaced it.
    live: Mapped[bool | None] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="trialing")
    #: Seats paid for.
    seats: Mapped[int] = mapped_column(Integer, default=1)
    #: Paid add-on modules billed on this subscription.
    addons: Mapped[list[str]] = mapped_column(JSON, default=list)
    trial_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    #: Stripe subscription item ids: ``{"seats": "si_..", "addon:erp": "si_.."}``.
    stripe_items: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: ``created`` of the newest Stripe event applied (older events never overwrite it).
    stripe_state_at: Mapped[int | None] = mapped_column(Integer)
    #: The last ledger entry applied at the gateway (later ones are pushed by a job).
    synced_through_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    plan: Mapped[Plan] = relationship(Plan, lazy="joined")
    customer: Mapped[BillingCustomer] = relationship(BillingCustomer)


class LedgerEntry(Base):
    """One change of seats, plan or add-ons (append-only; the ORM refuses edits)."""

    __tablename__ = "billing_ledger"
    __table_args__ = (Index("ix_billing_ledger_subscription_id", "subscription_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("billing_subscriptions.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: start, checkout, plan, seats, addon_on, addon_off
    kind: Mapped[str] = mapped_column(String(20))
    seats: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("billing_plans.id"))
    module: Mapped[str | None] = mapped_column(String(40))
    #: tenant, provider, system, or gateway (a change the gateway told us about)
    source: Mapped[str] = mapped_column(String(20), default="tenant")
    actor: Mapped[str | None] = mapped_column(String(254))

    @property
    def idempotency_key(self) -> str:
        """The idempotency key of the gateway request that applies this entry."""
        return f"crm-ledger-{self.id}"


class LedgerIsAppendOnly(RuntimeError):
    """A ledger entry was about to be changed or deleted."""


@event.listens_for(Session, "before_flush")
def _refuse_ledger_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, LedgerEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise LedgerIsAppendOnly("billing ledger entries cannot be changed or deleted")


class Invoice(Base):
    """An invoice: issued by the local gateway, or mirrored from Stripe."""

    __tablename__ = "billing_invoices"
    __table_args__ = (Index("ix_billing_invoices_customer_id", "customer_id", "issued_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("billing_customers.id", ondelete="CASCADE")
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("billing_subscriptions.id", ondelete="SET NULL")
    )
    gateway: Mapped[str] = mapped_column(String(20), default="local")
    number: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    #: [{"description": str, "quantity": int, "amount_cents": int}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    hosted_url: Mapped[str | None] = mapped_column(String(500))
    stripe_state_at: Mapped[int | None] = mapped_column(Integer)


class UsageRecord(Base):
    """Metered usage of a tenant (``sdk.record_usage``), reported to the gateway by a job."""

    __tablename__ = "billing_usage"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key"),
        Index("ix_billing_usage_customer_id", "customer_id", "metric", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("billing_customers.id", ondelete="CASCADE")
    )
    metric: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StripeEvent(Base):
    """A Stripe webhook event: deduplicated by its id, with its processing status."""

    __tablename__ = "billing_stripe_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    stripe_event_id: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    api_version: Mapped[str | None] = mapped_column(String(40))
    #: The event's ``created`` (Unix seconds): orders the states it carries.
    created: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("billing_customers.id", ondelete="SET NULL")
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The tenant policy (read-only state, limits) derives from these: their changes renew it.
watch_for_cache(Plan, tenant_of=lambda plan: None)
watch_for_cache(Subscription, tenant_of=lambda subscription: subscription.customer_id)
watch_for_cache(Invoice, tenant_of=lambda invoice: invoice.customer_id)
