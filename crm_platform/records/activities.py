"""Activities: calls, meetings, tasks, notes and logged e-mails on accounts and contacts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base
from ..identity import User
from ..tenancy import TenantScoped, tenant_foreign_key, tenant_relationship, utcnow

if TYPE_CHECKING:
    from ..customers import Account, Contact

ACTIVITY_KINDS = ("call", "meeting", "task", "note", "email")
KIND_LABELS = {
    "call": _l("Call"),
    "meeting": _l("Meeting"),
    "task": _l("Task"),
    "note": _l("Note"),
    "email": _l("E-mail logged"),
}


class Activity(TenantScoped, Base):
    """Something done or to do with a customer, on an account and/or a contact."""

    __tablename__ = "activities"
    __table_args__ = (
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("contact_id", "contacts"),
        Index("ix_activities_tenant_account", "tenant_id", "account_id", "created_at"),
        Index("ix_activities_tenant_contact", "tenant_id", "contact_id", "created_at"),
        Index("ix_activities_tenant_owner_open", "tenant_id", "owner_id", "done", "due_date"),
    )

    kind: Mapped[str] = mapped_column(String(20), default="note")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    owner: Mapped[User | None] = relationship(User, foreign_keys=[owner_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(User, foreign_keys=[created_by_id])
    account: Mapped[Account | None] = tenant_relationship("Activity.account_id", "Account")
    contact: Mapped[Contact | None] = tenant_relationship("Activity.contact_id", "Contact")

    @property
    def kind_label(self) -> str:
        """The translated name of the kind."""
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def overdue(self) -> bool:
        """An open activity whose due date has passed."""
        return not self.done and self.due_date is not None and self.due_date < utcnow().date()
