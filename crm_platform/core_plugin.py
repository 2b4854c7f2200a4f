"""The core's own contributions, registered as a default plugin (as Datasette does)."""

from __future__ import annotations

from typing import Any

import pluggy
from flask_babel import gettext as _

from .plugin_types import SearchResult
from .plugins import NavItem

hookimpl = pluggy.HookimplMarker("crm")


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Home, accounts, contacts and tasks for members who may read records; custom fields
    (and, from there, teams) for those who manage settings."""
    items = [NavItem(_("Home"), "workspace.home", order=0)]
    if membership.can("records.read"):
        items += [
            NavItem(_("Accounts"), "workspace.accounts", order=10),
            NavItem(_("Contacts"), "workspace.contacts", order=20),
            NavItem(_("My tasks"), "workspace.tasks", order=30),
        ]
    if membership.can("settings.manage"):
        items.append(NavItem(_("Custom fields"), "workspace.custom_fields", order=905))
    return items


@hookimpl
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Accounts and contacts by name, e-mail or phone (live records the member may see)."""
    from .records.search import search_records

    return search_records(query, membership, limit)
