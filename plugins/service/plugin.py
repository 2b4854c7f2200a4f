"""The hooks of the Service module: everything it adds to the CRM goes through here.

Written only against ``crm_platform.sdk``, like a third-party plugin; registered by the
entry point ``service = "plugins.service.plugin"`` of the ``crm.plugins`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from crm_platform.sdk import (
    ApiResource,
    DomainEvent,
    ImportTarget,
    ModuleDescriptor,
    NavItem,
    Panel,
    ReportSource,
    Schedule,
    SearchResult,
    TimelineEntry,
    Widget,
    hookimpl,
)

from . import models  # noqa: F401 - registers the tables

KEY = "service"


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Service is a switchable module with its own permissions and events."""
    return ModuleDescriptor(
        key=KEY,
        name="Service",
        version="1.0.0",
        description=(
            "Customer service and call centre: tickets from e-mail, web and phone, SLAs, "
            "queues, calls, knowledge base, satisfaction surveys and reports."
        ),
        permissions={
            "service.read": ("admin", "manager", "member", "readonly"),
            "service.work": ("admin", "manager", "member"),
            "service.manage": ("admin", "manager"),
            "service.reports": ("admin", "manager"),
        },
        events={
            "ticket.created": _l("A service ticket was opened"),
            "ticket.solved": _l("A service ticket was solved"),
            "ticket.merged": _l("Two service tickets were merged"),
            "sla.breached": _l("A ticket missed an SLA target"),
            "call.logged": _l("A call was logged"),
        },
        author="CRM platform",
    )


@hookimpl
def crm_startup(app: Any) -> None:
    """Platform settings from the environment, and the ``crm service smtp`` command."""
    from .settings import configure
    from .smtp import service_cli

    configure(app)
    if "service" not in app.cli.commands:
        app.cli.add_command(service_cli)


@hookimpl
def crm_blueprints() -> list[Any]:
    """The service pages under ``/t/<slug>/service/``."""
    from .views import bp

    return [bp]


@hookimpl
def crm_api_resources() -> list[ApiResource]:
    """``/api/v1/tickets``, ``/api/v1/calls`` and ``/api/v1/articles``."""
    from . import api

    return [
        ApiResource("tickets", api.tickets_bp, api.TICKET_SCHEMA),
        ApiResource("calls", api.calls_bp, api.CALL_SCHEMA),
        ApiResource("articles", api.articles_bp, api.ARTICLE_SCHEMA),
    ]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``service``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Tickets, calls and the knowledge base; reports and settings for managers."""
    if not membership.can("service.read"):
        return []
    items = [
        NavItem(_l("Tickets"), "service.index", order=300),
        NavItem(_l("Calls"), "service.calls", order=310),
        NavItem(_l("Knowledge base"), "service.kb", order=320),
    ]
    if membership.can("service.reports"):
        items.append(NavItem(_l("Service reports"), "service.reports", order=330))
    if membership.can("service.manage"):
        items.append(NavItem(_l("Service settings"), "service.settings", order=915, group="admin"))
    return items


@hookimpl
def crm_module_enabled(tenant: Any, module: ModuleDescriptor) -> None:
    """Onboarding: a queue, business hours, an SLA policy, canned responses, a script."""
    from .onboarding import onboard

    onboard(tenant)


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """Tickets and calls of the account or contact."""
    if not membership.can("service.read"):
        return []
    from .integration import record_panel

    return [Panel(title=str(_l("Service")), html=record_panel(record, kind), order=40, key=KEY)]


@hookimpl
def crm_timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Tickets opened and solved, and calls, on the customer's timeline."""
    from .integration import timeline_entries

    return timeline_entries(record, kind)


@hookimpl
def crm_dashboard_widgets(membership: Any) -> list[Widget]:
    """The member's open tickets and the desk's SLA state."""
    if not membership.can("service.read"):
        return []
    from .integration import dashboard_widget

    return [Widget(title=str(_l("Service desk")), html=dashboard_widget(membership), order=150)]


@hookimpl
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Tickets by number, subject or requester; knowledge-base articles by text."""
    if not membership.can("service.read"):
        return []
    from .integration import search_results

    return search_results(query, limit)


@hookimpl
def crm_schedules() -> list[Schedule]:
    """The SLA scan, every minute."""
    from .sla_scan import sla_scan_job

    return [Schedule(name="service.sla_scan", func=sla_scan_job, every=60)]


@hookimpl
def crm_import_targets() -> list[ImportTarget]:
    """Tickets from a spreadsheet (e.g. moving from another help desk)."""
    from .imports import ticket_import_target

    return [ticket_import_target()]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """Merged customers: their tickets and calls follow the surviving record."""
    if event.name in ("contact.merged", "account.merged"):
        from .integration import follow_merge

        follow_merge(event)


@hookimpl
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """Sample tickets, calls and articles for the demo workspace."""
    from .demo import add_demo_data

    add_demo_data(tenant, members)


@hookimpl
def crm_report_sources() -> list[ReportSource]:
    """Tickets for the report builder."""
    from .report_sources import report_sources

    return report_sources()
