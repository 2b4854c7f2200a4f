"""The marketing module's tables, tenant-scoped like every tenant table (``marketing_*``).

* segments and their materialised members (dynamic segments are refreshed by a job; static
  lists hold hand-picked contacts);
* customer scores (RFM, lifetime value, value tier, lifecycle), recomputed by a job;
* e-mail templates, campaigns (e-mail and non-e-mail) and one message row per recipient, the
  unit of exactly-once sending (claimed, sent, bounced...), opens and clicks;
* the suppression list, sequences (drip) with steps and enrollments, and conversions recorded
  from domain events (``deal.won``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, Order, TenantScoped, tenant_foreign_key, utcnow

MONEY = Numeric(14, 2)


def _fk(column: str, table: str) -> ForeignKeyConstraint:
    """A tenant foreign key that deletes this row with its parent."""
    return tenant_foreign_key(column, table, ondelete="CASCADE")


class Segment(TenantScoped, Base):
    """A group of contacts: ``dynamic`` (a filter, refreshed) or ``static`` (a list)."""

    __tablename__ = "marketing_segments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10), default="dynamic")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    refresh_hours: Mapped[int] = mapped_column(Integer, default=24)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def is_static(self) -> bool:
        """A hand-picked list rather than a filter."""
        return self.kind == "static"


class SegmentMember(TenantScoped, Base):
    """A contact in a segment: materialised by a refresh, or added to a static list."""

    __tablename__ = "marketing_segment_members"
    __table_args__ = (
        _fk("segment_id", "marketing_segments"),
        _fk("contact_id", "contacts"),
        UniqueConstraint("tenant_id", "segment_id", "contact_id"),
        Index("ix_marketing_segment_members_tenant_contact", "tenant_id", "contact_id"),
    )

    segment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CustomerScore(TenantScoped, Base):
    """A contact's RFM scores (1-5), lifetime value, value tier and lifecycle, from orders."""

    __tablename__ = "marketing_customer_scores"
    __table_args__ = (
        _fk("contact_id", "contacts"),
        UniqueConstraint("tenant_id", "contact_id"),
        Index("ix_marketing_customer_scores_tenant_lifecycle", "tenant_id", "lifecycle"),
        Index("ix_marketing_customer_scores_tenant_tier", "tenant_id", "value_tier"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    first_order_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_order_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    frequency: Mapped[int] = mapped_column(Integer)
    monetary: Mapped[Decimal] = mapped_column(MONEY)
    average_order: Mapped[Decimal] = mapped_column(MONEY)
    r_score: Mapped[int] = mapped_column(Integer)
    f_score: Mapped[int] = mapped_column(Integer)
    m_score: Mapped[int] = mapped_column(Integer)
    value_tier: Mapped[str] = mapped_column(String(10))
    lifecycle: Mapped[str] = mapped_column(String(10))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def rfm(self) -> str:
        """The three scores as one code, e.g. ``"545"``."""
        return f"{self.r_score}{self.f_score}{self.m_score}"


class EmailTemplate(TenantScoped, Base):
    """Reusable e-mail content with merge fields (``{{ contact.first_name }}``)."""

    __tablename__ = "marketing_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(300))
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Campaign(TenantScoped, Base):
    """A campaign: e-mail (sent here) or event, call, direct mail (recorded for analysis)."""

    __tablename__ = "marketing_campaigns"
    __table_args__ = (
        tenant_foreign_key("segment_id", "marketing_segments", ondelete="SET NULL"),
        Index("ix_marketing_campaigns_tenant_status", "tenant_id", "status", "scheduled_at"),
    )

    name: Mapped[str] = mapped_column(String(160))
    channel: Mapped[str] = mapped_column(String(20), default="email")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    segment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    topic: Mapped[str] = mapped_column(String(40), default="newsletter")
    subject: Mapped[str] = mapped_column(String(300), default="")
    subject_b: Mapped[str | None] = mapped_column(String(300))
    ab_test_percent: Mapped[int] = mapped_column(Integer, default=0)
    ab_wait_hours: Mapped[int] = mapped_column(Integer, default=4)
    ab_winner: Mapped[str | None] = mapped_column(String(1))
    ab_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    body_html: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str | None] = mapped_column(String(120))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    progress_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    responses: Mapped[int] = mapped_column(Integer, default=0)
    conversion_days: Mapped[int] = mapped_column(Integer, default=30)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def is_email(self) -> bool:
        """Sent by e-mail from here (the other channels are recorded)."""
        return self.channel == "email"

    @property
    def has_ab_test(self) -> bool:
        """Two subjects are tested."""
        return bool(self.subject_b) and self.ab_test_percent > 0


class Message(TenantScoped, Base):
    """One e-mail to one address (a campaign's recipient or a sequence step), or one
    targeted contact of a non-e-mail campaign. ``status``: ``held`` (waits for an A/B
    winner), ``pending``, ``sending`` (claimed by ``claimed_by`` until ``lease_until``),
    ``sent``, ``bounced``, ``failed``, ``suppressed``, ``skipped``, ``targeted``."""

    __tablename__ = "marketing_messages"
    __table_args__ = (
        _fk("campaign_id", "marketing_campaigns"),
        _fk("contact_id", "contacts"),
        _fk("enrollment_id", "marketing_enrollments"),
        UniqueConstraint("tenant_id", "message_id"),
        UniqueConstraint("tenant_id", "campaign_id", "contact_id"),
        UniqueConstraint("tenant_id", "enrollment_id", "step_id"),
        Index(
            "ix_marketing_messages_tenant_queue", "tenant_id", "campaign_id", "status", "position"
        ),
        Index("ix_marketing_messages_tenant_contact", "tenant_id", "contact_id", "created_at"),
    )

    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    email: Mapped[str | None] = mapped_column(String(254))
    variant: Mapped[str | None] = mapped_column(String(1))
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    message_id: Mapped[str | None] = mapped_column(String(200))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    click_count: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Click(TenantScoped, Base):
    """One click of a tracked link in a message."""

    __tablename__ = "marketing_clicks"
    __table_args__ = (
        _fk("message_id", "marketing_messages"),
        Index("ix_marketing_clicks_tenant_message", "tenant_id", "message_id"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    url: Mapped[str] = mapped_column(String(2000))
    clicked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Suppression(TenantScoped, Base):
    """An address no send may reach: for every topic (``all``) or for one topic."""

    __tablename__ = "marketing_suppressions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email", "scope"),
        Index("ix_marketing_suppressions_tenant_created", "tenant_id", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(254))
    scope: Mapped[str] = mapped_column(String(40), default="all")
    reason: Mapped[str] = mapped_column(String(20), default="manual")
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source_message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Sequence(TenantScoped, Base):
    """A drip sequence: steps sent or done one after another, with delays."""

    __tablename__ = "marketing_sequences"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10), default="active")
    topic: Mapped[str] = mapped_column(String(40), default="newsletter")
    from_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SequenceStep(TenantScoped, Base):
    """One step: an e-mail, or a task for the contact's owner, ``delay_hours`` after the
    previous step (after enrolling, for the first)."""

    __tablename__ = "marketing_sequence_steps"
    __table_args__ = (
        _fk("sequence_id", "marketing_sequences"),
        UniqueConstraint("tenant_id", "sequence_id", "position"),
    )

    sequence_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10), default="email")
    delay_hours: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_html: Mapped[str] = mapped_column(Text, default="")


class Enrollment(TenantScoped, Base):
    """A contact going through a sequence; stops when they reply, convert or unsubscribe."""

    __tablename__ = "marketing_enrollments"
    __table_args__ = (
        _fk("sequence_id", "marketing_sequences"),
        _fk("contact_id", "contacts"),
        UniqueConstraint("tenant_id", "sequence_id", "contact_id"),
        Index("ix_marketing_enrollments_tenant_due", "tenant_id", "status", "next_run_at"),
        Index("ix_marketing_enrollments_tenant_contact", "tenant_id", "contact_id"),
    )

    sequence_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(12), default="active")
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    next_position: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Conversion(TenantScoped, Base):
    """A conversion learned from a domain event (``deal.won``): who, when, worth what."""

    __tablename__ = "marketing_conversions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "record_id"),
        Index("ix_marketing_conversions_tenant_contact", "tenant_id", "contact_id", "occurred_at"),
        Index("ix_marketing_conversions_tenant_account", "tenant_id", "account_id", "occurred_at"),
    )

    kind: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    value: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


#: Segments group a tenant's orders by contact (``segment_fields.order_aggregates_condition``):
#: this covering index on the core ``orders`` table makes that pass index-only. It belongs to
#: the marketing branch (migration ``marketing_0002``), which creates and drops it.
ORDER_TOTALS_INDEX = Index(
    "ix_marketing_orders_tenant_contact_totals",
    Order.tenant_id,
    Order.contact_id,
    postgresql_include=["status", "total"],
)
