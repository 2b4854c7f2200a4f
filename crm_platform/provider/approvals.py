"""Plugin approvals: the provider approves a module or hides it from tenants.

A hidden module is not offered in a workspace's Settings → Modules and cannot be switched on
(``modules.enable_module`` refuses). Workspaces that already have it on keep it, and its data,
and may still switch it off. A module with no decision is offered (not yet reviewed).
"""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from sqlalchemy import select

from ..extensions import db
from ..tenancy import utcnow
from .models import APPROVED, HIDDEN, PluginApproval

_CACHE = "crm_hidden_modules"


def hidden_module_keys() -> frozenset[str]:
    """Keys of the modules the provider hid from tenants (cached per request or job)."""
    if has_app_context() and _CACHE in g:
        return g.get(_CACHE)
    rows = db.session.scalars(
        select(PluginApproval.module_key).where(PluginApproval.status == HIDDEN)
    ).all()
    keys = frozenset(rows)
    if has_app_context():
        setattr(g, _CACHE, keys)
    return keys


def approval_states() -> dict[str, str]:
    """Module key → ``approved`` or ``hidden``, for every module the provider decided on."""
    return {row.module_key: row.status for row in db.session.scalars(select(PluginApproval))}


def set_approval(module_key: str, status: str, actor: Any = None) -> bool:
    """Approve or hide ``module_key``; caller commits. False when nothing changed."""
    if status not in (APPROVED, HIDDEN):
        raise ValueError(f"unknown approval status {status!r}")
    row = db.session.get(PluginApproval, module_key)
    if row is not None and row.status == status:
        return False
    if row is None:
        row = PluginApproval(module_key=module_key, status=status)
        db.session.add(row)
    row.status, row.changed_at = status, utcnow()
    row.changed_by_id = getattr(actor, "id", None)
    if has_app_context():
        g.pop(_CACHE, None)
    return True
