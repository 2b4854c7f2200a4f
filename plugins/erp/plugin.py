"""The hooks of the ERP module: connectors (its own hook spec), pages, panels, jobs.

Connectors are plugins too: the module adds the ``erp_connectors`` hook spec through
``crm_addhooks``, and its own file/webhook connector answers it like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm_platform.sdk import (
    ApiResource,
    DomainEvent,
    ModuleDescriptor,
    NavItem,
    Panel,
    Schedule,
    TimelineEntry,
    hookimpl,
)

KEY = "erp"
EVENTS = {
    "erp.sync_finished": _l("An ERP sync run finished"),
    "erp.sync_failed": _l("An ERP sync run failed"),
}
_last_plugin_manager: pluggy.PluginManager | None = None


@hookimpl
def crm_addhooks(plugin_manager: pluggy.PluginManager) -> None:
    """Add the ``erp_connectors`` hook spec, so that connector plugins can implement it."""
    global _last_plugin_manager
    from . import hookspecs

    plugin_manager.add_hookspecs(hookspecs)
    _last_plugin_manager = plugin_manager


@hookimpl
def crm_startup(app: Any) -> None:
    """Remember this app's plugin manager (connectors are looked up through it)."""
    app.extensions["erp_plugin_manager"] = _last_plugin_manager


@hookimpl
def erp_connectors() -> list[Any]:
    """The built-in file/webhook connector."""
    from .file_connector import FileConnector

    return [FileConnector()]


@hookimpl
def crm_module() -> ModuleDescriptor:
    """ERP connectors are a switchable module."""
    return ModuleDescriptor(
        key=KEY,
        name="ERP connectors",
        version="1.0.0",
        description=(
            "Sync customers, products, orders, invoices and stock with an ERP: connectors, "
            "field mapping, a sync ledger, scheduled and on-demand runs, dead letters."
        ),
        permissions={
            "erp.read": ("admin", "manager"),
            "erp.manage": ("admin",),
        },
        events=EVENTS,
        author="CRM platform",
    )


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``erp``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_blueprints() -> list[Any]:
    """The ERP pages and the inbound webhook."""
    from . import models  # noqa: F401 - the tables, for the metadata
    from .views import bp, hooks

    return [bp, hooks]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """ERP connections for members who may see them."""
    if not membership.can("erp.read"):
        return []
    return [NavItem(_("ERP"), "erp.connections", order=930, group="admin")]


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """Credit and payment status (ERP invoices) on an account synced with an ERP."""
    if kind != "account":
        return []
    from .panels import payment_panel

    panel = payment_panel(record)
    return [panel] if panel is not None else []


@hookimpl
def crm_timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """ERP invoices of an account: issued, and paid."""
    if kind != "account":
        return []
    from .panels import invoice_timeline

    return invoice_timeline(record)


@hookimpl
def crm_schedules() -> list[Schedule]:
    """Every five minutes, start the runs of connections whose interval has passed."""
    from .jobs import sync_due

    return [Schedule(name="erp.sync_due", func=sync_due, every=300)]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """A won deal is pushed as a sale quotation to every connection that sends quotes."""
    if event.name != "deal.won" or event.record_id is None:
        return
    from .deal_push import queue_deal_push

    queue_deal_push(event.record_id)


@hookimpl
def crm_api_resources() -> list[ApiResource]:
    """``/api/v1/erp_runs`` and ``/api/v1/erp_ledger`` (read-only)."""
    from .api import LEDGER_SCHEMA, RUN_SCHEMA, ledger_api, runs_api

    return [
        ApiResource("erp_runs", runs_api, RUN_SCHEMA),
        ApiResource("erp_ledger", ledger_api, LEDGER_SCHEMA),
    ]


@hookimpl
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """A file connection with a small accounting export, synced once."""
    from .demo import create_demo_data

    create_demo_data()
