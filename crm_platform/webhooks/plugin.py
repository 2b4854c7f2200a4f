"""The core's webhook hooks, registered as a default plugin next to ``core_plugin``.

Every domain event passes through ``crm_event`` inside the tenant's context and transaction;
this turns it into deliveries for the tenant's matching active webhooks.
"""

from __future__ import annotations

from typing import Any

import pluggy
from flask_babel import gettext as _

from ..plugin_types import DomainEvent, NavItem
from . import models  # noqa: F401 - registers the tables

hookimpl = pluggy.HookimplMarker("crm")
crm_plugin_name = "crm-webhooks"


@hookimpl
def crm_blueprints() -> list[Any]:
    """The webhook settings pages."""
    from .views import bp

    return [bp]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Webhooks, for members who manage settings."""
    if membership.can("settings.manage"):
        return [NavItem(_("Webhooks"), "webhooks.index", order=912, group="admin")]
    return []


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """Queue a delivery to every active webhook of the tenant that subscribes to ``event``."""
    from .delivery import queue_for_event

    queue_for_event(event)
