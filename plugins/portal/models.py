"""Tables of the Portal module: portal users (a principal apart from staff users) and the
workspace's portal logo."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow

#: What a portal user may be: a customer (a contact, maybe of an account) or a user of a
#: partner organisation (``partner_id``; see :mod:`.partner_models`).
KINDS = ("customer", "partner")
STATUSES = ("invited", "active", "disabled")
#: What a customer sees: only their own contact's records, or their whole account's.
SCOPES = ("contact", "account")


class PortalUser(TenantScoped, Base):
    """Someone outside the workspace who signs in to its portal (never a staff ``User``)."""

    __tablename__ = "portal_users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        tenant_foreign_key("contact_id", "contacts"),
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("partner_id", "portal_partners"),
        Index("ix_portal_users_tenant_contact", "tenant_id", "contact_id"),
    )

    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20), default="customer")
    status: Mapped[str] = mapped_column(String(20), default="invited")
    scope: Mapped[str] = mapped_column(String(20), default="contact")
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The partner organisation of a ``partner`` user (``portal_partners``).
    partner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: Bumped on password change and disabling: every session signed before is void.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    invited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def is_active(self) -> bool:
        """May sign in."""
        return self.status == "active" and bool(self.password_hash)


class PortalLogo(TenantScoped, Base):
    """The logo shown on the workspace's portal pages (one per workspace)."""

    __tablename__ = "portal_logos"

    mimetype: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
