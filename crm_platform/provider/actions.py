"""The staff action log: every action staff take in the console, and who, when, why.

:func:`record_staff_action` adds a ``staff_actions`` row (committed with the work it records);
with ``tenant_log=True`` the tenant's own audit log gets a ``provider.<action>`` entry too, so
a workspace can see what the provider did in it.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from .. import audit
from ..extensions import db
from ..identity import User
from ..tenancy import tenant_context
from .access import signed_in_user_id
from .models import StaffAction


def _actor(actor: Any) -> tuple[Any, str]:
    if actor is not None:
        return getattr(actor, "id", None), getattr(actor, "email", None) or str(actor)
    user = db.session.get(User, signed_in_user_id()) if signed_in_user_id() else None
    if user is None:
        return None, "system"
    return user.id, user.email


def record_staff_action(
    action: str,
    *,
    tenant: Any = None,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    tenant_log: bool = False,
    actor: Any = None,
) -> StaffAction:
    """Log a staff action (default actor: the signed-in staff member); caller commits.

    ``tenant`` (a Tenant) ties the action to a workspace; ``tenant_log`` also writes
    ``provider.<action>`` into that workspace's audit log.
    """
    user_id, email = _actor(actor)
    row = StaffAction(
        staff_user_id=user_id,
        staff_email=email,
        action=action,
        target_tenant_id=getattr(tenant, "id", None),
        target=target,
        reason=reason,
        details=dict(details or {}),
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(row)
    if tenant is not None and tenant_log:
        with tenant_context(tenant):
            entry_details = dict(details or {})
            if reason:
                entry_details["reason"] = reason
            audit.record(
                f"provider.{action}",
                target=target,
                details=entry_details,
                actor=actor,
                actor_label=f"{email} (provider)",
            )
            db.session.flush()
    return row
