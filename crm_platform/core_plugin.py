"""The core's own contributions, registered as a default plugin (as Datasette does)."""

from __future__ import annotations

from typing import Any

import pluggy
from flask_babel import gettext as _

from .plugin_types import DomainEvent, ImportTarget, Panel, ReportSource, SearchResult
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
            NavItem(_("Orders"), "workspace.orders", order=25),
            NavItem(_("My tasks"), "workspace.tasks", order=30),
        ]
    if membership.can("records.write"):
        items.append(NavItem(_("Import"), "workspace.imports", order=40))
    if membership.can("settings.manage"):
        items.append(
            NavItem(_("Custom fields"), "workspace.custom_fields", order=905, group="admin")
        )
        items.append(NavItem(_("API keys"), "api_keys.index", order=912, group="admin"))
    return items


@hookimpl
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Accounts and contacts by name, e-mail or phone (live records the member may see)."""
    from .records.search import search_records

    return search_records(query, membership, limit)


@hookimpl
def crm_import_targets() -> list[ImportTarget]:
    """Accounts and contacts, with the tenant's custom fields, and orders (see
    ``crm_platform.dataio``)."""
    from .dataio.core_targets import core_targets
    from .dataio.order_target import order_target

    return [*core_targets(), order_target()]


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """The Orders panel on account and contact pages (see ``crm_platform.orders``)."""
    from .records.views_orders import orders_panel

    return [orders_panel(record, kind, membership)]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """A merged account's or contact's orders move to the record that survived."""
    if event.name in ("account.merged", "contact.merged"):
        from .ids import parse_uuid
        from .order_service import move_orders

        merged, survivor = (parse_uuid(event.data.get(k)) for k in ("merged", "survivor"))
        if merged and survivor:
            move_orders(event.name.split(".")[0], merged, survivor)


@hookimpl
def crm_report_sources() -> list[ReportSource]:
    """Accounts, contacts, activities and orders for the report builder."""
    from .report_sources import core_report_sources

    return core_report_sources()
