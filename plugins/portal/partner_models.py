"""Tables of the partner (channel) portal: partner organisations and their deal
registrations. Tenant-scoped like every portal table (composite keys, row-level security)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, Numeric, String, Text, UniqueConstraint, Uuid
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow

TIERS = ("registered", "silver", "gold")
PARTNER_STATUSES = ("active", "inactive")
#: A registration waits for the channel manager, then is approved (until it expires or the
#: deal is won) or rejected.
REGISTRATION_STATUSES = ("pending", "approved", "rejected", "expired", "won")
#: Registrations that hold a company for their partner (others conflict with them).
HOLDING = ("pending", "approved")
#: What a conflict is with: an account, a contact, a rep's open deal, another registration.
CONFLICT_KINDS = ("account", "contact", "deal", "registration")


class PartnerOrg(TenantScoped, Base):
    """A distributor, reseller or agent of the workspace."""

    __tablename__ = "portal_partners"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        tenant_foreign_key("account_id", "accounts"),
    )

    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(20), default="registered")
    status: Mapped[str] = mapped_column(String(20), default="active")
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: Commission in percent of won revenue; ``None``: the tier's default rate.
    commission_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    #: The Sales price book the partner orders from (``None``: the partner channel's book).
    price_book_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class DealRegistration(TenantScoped, Base):
    """An opportunity a partner claims, with the channel conflicts found when it was sent."""

    __tablename__ = "portal_registrations"
    __table_args__ = (
        tenant_foreign_key("partner_id", "portal_partners"),
        tenant_foreign_key("portal_user_id", "portal_users"),
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("contact_id", "contacts"),
        Index("ix_portal_registrations_tenant_partner", "tenant_id", "partner_id"),
        Index("ix_portal_registrations_tenant_company", "tenant_id", "company_key"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    portal_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    company: Mapped[str] = mapped_column(String(200))
    #: ``name_key`` of the company (the core's duplicate matching normalisation).
    company_key: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    expected_close: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    #: ``[{"kind": ..., "id": ..., "label": ...}]``; labels are for staff only.
    conflicts: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=sql_text("'[]'")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_on: Mapped[date | None] = mapped_column(Date)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The Sales deal made on approval (Sales' table: no foreign key, the module may be off).
    deal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def conflict_kinds(self) -> set[str]:
        """The kinds of conflicts found."""
        return {c.get("kind", "") for c in self.conflicts or []}


#: A handed lead waits for the partner (until its deadline), then is accepted (it stays with
#: the partner), declined or expired (both: back to the pool), or withdrawn (Sales took it).
HANDOFF_STATUSES = ("pending", "accepted", "declined", "expired", "withdrawn")
#: Handoffs that keep the lead away from the pool.
HANDED = ("pending", "accepted")


class LeadHandoff(TenantScoped, Base):
    """A Sales lead a channel manager handed to a partner organisation."""

    __tablename__ = "portal_lead_handoffs"
    __table_args__ = (
        tenant_foreign_key("partner_id", "portal_partners"),
        tenant_foreign_key("responded_by_id", "portal_users"),
        Index("ix_portal_lead_handoffs_tenant_partner", "tenant_id", "partner_id"),
        Index("ix_portal_lead_handoffs_tenant_lead", "tenant_id", "lead_id"),
    )

    #: The Sales lead (Sales' table: no foreign key, the module may be off).
    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    handed_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    responded_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Announcement(TenantScoped, Base):
    """A short channel announcement for the partners (of one tier, or all of them)."""

    __tablename__ = "portal_announcements"
    __table_args__ = (Index("ix_portal_announcements_tenant_created", "tenant_id", "created_at"),)

    title: Mapped[str] = mapped_column(String(200))
    #: Plain text (shown escaped, line breaks kept).
    body: Mapped[str] = mapped_column(Text, default="")
    #: Only partners of this tier see it; ``None``: every partner.
    tier: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DealShare(TenantScoped, Base):
    """A Sales deal shared with a partner organisation (partners see only the exposed fields)."""

    __tablename__ = "portal_deal_shares"
    __table_args__ = (
        UniqueConstraint("tenant_id", "deal_id", "partner_id"),
        tenant_foreign_key("partner_id", "portal_partners"),
        Index("ix_portal_deal_shares_tenant_partner", "tenant_id", "partner_id"),
    )

    #: The Sales deal (Sales' table: no foreign key, the module may be off).
    deal_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    shared_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OrderRequest(TenantScoped, Base):
    """A partner's B2B order from the configurator, priced from its price book, and the draft
    quote it became in Sales."""

    __tablename__ = "portal_order_requests"
    __table_args__ = (
        tenant_foreign_key("partner_id", "portal_partners"),
        tenant_foreign_key("portal_user_id", "portal_users"),
        Index("ix_portal_order_requests_tenant_partner", "tenant_id", "partner_id"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    portal_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The partner's own reference (purchase order number), may be empty.
    reference: Mapped[str] = mapped_column(String(60), default="")
    #: ``quoted``: it became a draft quote at once; the quote's own status tells the rest.
    status: Mapped[str] = mapped_column(String(20), default="quoted")
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    #: ``[{"product_id", "code", "name", "quantity", "unit_price", "amount"}]`` as ordered.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=sql_text("'[]'")
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Sales' deal and quote made from the request (no foreign keys: Sales' tables).
    deal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    quote_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ChannelEvent(TenantScoped, Base):
    """One entry of the channel activity feed: what happened with a partner organisation (or,
    without ``partner_id``, with every partner: an announcement)."""

    __tablename__ = "portal_channel_events"
    __table_args__ = (
        tenant_foreign_key("partner_id", "portal_partners"),
        Index("ix_portal_channel_events_tenant_partner", "tenant_id", "partner_id", "created_at"),
        Index("ix_portal_channel_events_tenant_created", "tenant_id", "created_at"),
    )

    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(40))
    #: The row it is about (an announcement...), so the entry goes when that row goes.
    ref_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: What the message names (company, product count, amount...): plain JSON values.
    data: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=sql_text("'{}'")
    )
    #: Only partners of this tier see it (announcements); ``None``: no tier restriction.
    tier: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
