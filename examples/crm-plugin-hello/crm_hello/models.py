"""The plugin's one table: greetings to contacts, tenant-scoped like every tenant table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow


class Greeting(TenantScoped, Base):
    """A greeting to a contact (or a template when ``contact_id`` is empty)."""

    __tablename__ = "hello_greetings"
    __table_args__ = (
        tenant_foreign_key("contact_id", "contacts", ondelete="CASCADE"),
        Index("ix_hello_greetings_tenant_contact", "tenant_id", "contact_id"),
    )

    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft|queued|sent|template
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
