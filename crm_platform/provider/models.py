"""Platform tables of the provider console (no tenant rows: no ``TenantScoped``).

* ``platform_staff``: who is platform staff, with a staff role (``admin`` or ``support``).
* ``plugin_approvals``: the provider's decision about a module: approved or hidden.
* ``impersonations``: time-limited sessions in which staff act as a member of one tenant.
* ``staff_actions``: append-only log of every action staff take in the console.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, Text, Uuid, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..extensions import Base
from ..ids import uuid7
from ..tenancy import utcnow

#: Staff roles: ``admin`` may do everything; ``support`` reads, impersonates and retries jobs.
STAFF_ROLES: tuple[str, ...] = ("admin", "support")
#: Decisions about a plugin's module; a module without a row is offered (not yet reviewed).
APPROVED, HIDDEN = "approved", "hidden"


def aware(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite returns naive ones)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=utcnow().tzinfo)
    return value


class PlatformStaff(Base):
    """A user who is platform staff (a platform role, never a tenant role)."""

    __tablename__ = "platform_staff"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), default="support")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def can(self, role: str | None) -> bool:
        """True when this staff member holds ``role`` (``admin`` holds every role)."""
        return role is None or self.role == "admin" or self.role == role


class PluginApproval(Base):
    """The provider's decision about one module: ``approved`` or ``hidden`` from tenants."""

    __tablename__ = "plugin_approvals"

    module_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )


class Impersonation(Base):
    """Staff acting as a member of one tenant until ``expires_at`` (or until ended)."""

    __tablename__ = "impersonations"
    __table_args__ = (Index("ix_impersonations_tenant_started", "target_tenant_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    staff_email: Mapped[str] = mapped_column(String(254))
    target_tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE")
    )
    member_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    member_email: Mapped[str] = mapped_column(String(254))
    read_only: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))

    @property
    def is_live(self) -> bool:
        """Not ended and not expired."""
        expires = aware(self.expires_at)
        return self.ended_at is None and expires is not None and utcnow() < expires


class StaffAction(Base):
    """One action a staff member took (append-only, like the tenant audit log)."""

    __tablename__ = "staff_actions"
    __table_args__ = (Index("ix_staff_actions_at", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    staff_email: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    target_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="SET NULL")
    )
    target: Mapped[str | None] = mapped_column(String(254))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class StaffLogIsAppendOnly(RuntimeError):
    """A staff action was about to be changed or deleted."""


@event.listens_for(Session, "before_flush")
def _refuse_staff_log_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, StaffAction) and (obj in session.deleted or session.is_modified(obj)):
            raise StaffLogIsAppendOnly("staff actions cannot be changed or deleted")
