"""The core's own contributions, registered as a default plugin (as Datasette does)."""

from __future__ import annotations

from typing import Any

import pluggy

from .plugins import NavItem

hookimpl = pluggy.HookimplMarker("crm")


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Home, accounts and contacts for every member who may read records."""
    items = [NavItem("Home", "workspace.home", order=0)]
    if membership.can("records.read"):
        items += [
            NavItem("Accounts", "workspace.accounts", order=10),
            NavItem("Contacts", "workspace.contacts", order=20),
        ]
    return items
