"""Hook implementations of the tenants plugin."""

from __future__ import annotations

from typing import Any

from crm_platform.sdk import NavItem, hookimpl


@hookimpl
def crm_blueprints() -> list[Any]:
    """The members, invitations, settings and audit pages."""
    from .views import bp

    return [bp]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Members for everyone who may see them; settings and audit for admins."""
    items = []
    if membership.can("members.read"):
        items.append(NavItem("Members", "tenants.members", order=900))
    if membership.can("settings.manage"):
        items.append(NavItem("Settings", "tenants.settings", order=910))
    if membership.can("audit.read"):
        items.append(NavItem("Audit log", "tenants.audit_log", order=920))
    return items
