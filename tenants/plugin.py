"""Hook implementations of the tenants plugin."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import NavItem, hookimpl


@hookimpl
def crm_blueprints() -> list[Any]:
    """The members, invitations, settings and audit pages."""
    from . import modules_views  # noqa: F401 - adds the module pages to the blueprint
    from .views import bp

    return [bp]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Members for everyone who may see them; settings and audit for admins."""
    items = []
    if membership.can("members.read"):
        items.append(NavItem(_("Members"), "tenants.members", order=900, group="admin"))
    if membership.can("settings.manage"):
        items.append(NavItem(_("Settings"), "tenants.settings", order=910, group="admin"))
        items.append(NavItem(_("Modules"), "tenants.modules", order=915, group="admin"))
    if membership.can("audit.read"):
        items.append(NavItem(_("Audit log"), "tenants.audit_log", order=920, group="admin"))
    return items
