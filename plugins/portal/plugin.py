"""The hooks of the Portal module: the customer self-service portal of each workspace.

Written only against ``crm_platform.sdk``, like a third-party plugin (the portal's pages call
other modules' services from :mod:`.customer`, each only while that module is on);
registered by the entry point ``portal = "plugins.portal.plugin"`` of ``crm.plugins``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import render_template
from flask_babel import gettext as _

from crm_platform.sdk import ModuleDescriptor, NavItem, Panel, Schedule, hookimpl

from . import models, partner_models  # noqa: F401 - registers the tables

KEY = "portal"


@hookimpl
def crm_module() -> ModuleDescriptor:
    """The portal is a switchable (add-on) module."""
    return ModuleDescriptor(
        key=KEY,
        name="Customer portal",
        version="1.0.0",
        description=(
            "A branded self-service portal for the workspace's customers: their requests, "
            "orders and quotes (accepted online), the help centre, their details and mail "
            "preferences."
        ),
        permissions={
            "portal.manage": ("admin",),
            "portal.invite": ("admin", "manager", "member"),
            "portal.channel": ("admin", "manager"),
        },
        author="CRM platform",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The customer pages under ``/t/<slug>/portal/`` and the staff settings page."""
    from .admin import bp as admin_bp
    from .channel_admin import bp as channel_bp
    from .partner_views import bp as partner_bp
    from .views import bp

    return [bp, admin_bp, partner_bp, channel_bp]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``portal``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """ "Customer portal" (its settings and users) for admins; "Deal registrations" (partners
    and their registrations) for channel managers."""
    items = []
    if membership.can("portal.manage"):
        items.append(
            NavItem(_("Customer portal"), "portal_admin.settings", order=910, group="admin")
        )
    if membership.can("portal.channel"):
        items.append(
            NavItem(
                _("Deal registrations"), "portal_channel.registrations", order=911, group="admin"
            )
        )
    return items


@hookimpl
def crm_schedules() -> list[Schedule]:
    """Every hour, expire the approved deal registrations that are due, and the leads handed
    to partners whose deadline passed (they go back to the pool)."""
    from .partner_leads import expire_handoffs
    from .registration import expire_registrations

    return [
        Schedule(name="portal.expire_registrations", func=expire_registrations, every=3600),
        Schedule(name="portal.expire_lead_handoffs", func=expire_handoffs, every=3600),
    ]


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """On a contact: its portal access (status, last sign-in) and "Invite to portal"."""
    if kind != "contact" or not membership.can("portal.invite"):
        return []
    from .accounts import of_contact

    html = render_template(
        "portal/panel.html",
        contact=record,
        portal_user=of_contact(record.id),
        can_manage=membership.can("portal.manage"),
    )
    return [Panel(title=_("Portal"), html=html, order=70, key="portal")]
