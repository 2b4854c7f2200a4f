"""The shared customer record: accounts (companies) and contacts (people).

Every module hangs its data off these; they are core so that all modules share one
customer record and timeline.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Base
from .tenancy import TenantScoped, tenant_foreign_key, tenant_relationship, utcnow

LIFECYCLE_STAGES = ("prospect", "lead", "customer", "loyal", "churned")


class Account(TenantScoped, Base):
    """A company the tenant does business with."""

    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_tenant_name", "tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80))
    website: Mapped[str | None] = mapped_column(String(254))
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="prospect")
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Contact(TenantScoped, Base):
    """A person, usually working for an account."""

    __tablename__ = "contacts"
    __table_args__ = (
        tenant_foreign_key("account_id", "accounts"),
        Index("ix_contacts_tenant_email", "tenant_id", "email"),
        Index("ix_contacts_tenant_account", "tenant_id", "account_id"),
    )

    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(String(120))
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="lead")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    account: Mapped[Account | None] = tenant_relationship("Contact.account_id", "Account")

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}".strip()
