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
