"""The tenant audit log: append-only records of security-relevant actions.

Append-only twice over: the ORM refuses to update or delete an ``AuditEvent``, and on
PostgreSQL the app role holds only SELECT and INSERT on ``audit_events``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Uuid, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from .extensions import Base, db
from .tenancy import TenantScoped, utcnow

#: Actions the core records; plugins may record their own (``module.action``).
CORE_ACTIONS = (
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.password_reset",
    "tenant.created",
    "tenant.suspended",
    "tenant.resumed",
    "settings.changed",
    "member.invited",
    "member.joined",
    "member.role_changed",
    "member.removed",
    "invitation.revoked",
    "data.exported",
)


class AuditEvent(TenantScoped, Base):
    """One audited action in a tenant."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_at", "tenant_id", "at"),)

    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str | None] = mapped_column(String(254))
    target: Mapped[str | None] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditLogIsAppendOnly(RuntimeError):
    """An audit event was about to be changed or deleted."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit events cannot be changed or deleted")


def record(
    action: str,
    *,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    actor: Any = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event for the current tenant to the session (committed with the work)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event_ = AuditEvent(
        action=action,
        target=target,
        details=details or {},
        actor_id=getattr(actor, "id", None),
        actor_label=actor_label or getattr(actor, "email", None),
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event_)
    return event_
