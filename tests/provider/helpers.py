"""Helpers of the provider console tests."""

from __future__ import annotations

from typing import Any

from conftest import csrf_token_from
from sqlalchemy import select

from crm_platform.audit import AuditEvent
from crm_platform.provider.models import StaffAction
from crm_platform.tenancy import provider_scope


def post_form(
    client: Any, page: str, url: str, data: dict[str, Any] | None = None, prefix: str = ""
) -> Any:
    """POST ``data`` to ``url`` with the CSRF token of ``page`` (field ``<prefix>-csrf_token``
    for a prefixed form), as the browser would."""
    token = csrf_token_from(client.get(page).text)
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    return client.post(url, data={**(data or {}), name: token})


def staff_actions(app: Any, action: str | None = None) -> list[StaffAction]:
    """The staff log, oldest first (optionally one action)."""
    with app.app_context():
        from crm_platform.extensions import db

        stmt = select(StaffAction).order_by(StaffAction.id)
        if action:
            stmt = stmt.where(StaffAction.action == action)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


def tenant_audit(app: Any, tenant: Any, action: str | None = None) -> list[tuple[str, str, dict]]:
    """``(action, actor_label, details)`` of a tenant's audit log, oldest first."""
    with app.app_context(), provider_scope("test: read audit", "tests") as session:
        stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        rows = session.scalars(stmt.order_by(AuditEvent.at, AuditEvent.id))
        return [(e.action, e.actor_label or "", dict(e.details or {})) for e in rows]
