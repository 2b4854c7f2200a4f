"""The hooks of the Sales module: everything it adds to the CRM goes through here.

Each hook hands over to the module that does the work (see README.md for the map), so that
later parts (products and quotes, activities and day planning, territories) add their own
modules and one line per hook here.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

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
    db,
    hookimpl,
)

KEY = "sfa"
#: The domain events Sales emits (webhooks offer them for subscription).
EVENTS = {
    "lead.created": _l("A lead was captured"),
    "lead.converted": _l("A lead was converted to an account, a contact and a deal"),
    "deal.created": _l("A deal was opened"),
    "deal.stage_changed": _l("A deal moved to another stage"),
    "deal.won": _l("A deal was won"),
    "deal.lost": _l("A deal was lost"),
    "quote.sent": _l("A quote was sent to the customer"),
    "quote.accepted": _l("A quote was accepted (its deal is won)"),
    "quote.rejected": _l("A quote was rejected"),
}


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Sales is a switchable module with its permissions and events."""
    return ModuleDescriptor(
        key=KEY,
        name="Sales",
        version="1.0.0",
        description=(
            "Sales force automation: leads (web form, scoring, assignment, shared pool, "
            "conversion), pipelines and deals on a kanban board, forecasts and quotas."
        ),
        permissions={
            "sfa.read": ("admin", "manager", "member", "readonly"),
            "sfa.write": ("admin", "manager", "member"),
            "sfa.quotas": ("admin", "manager"),
            "sfa.manage": ("admin",),
        },
        events=EVENTS,
        author="CRM platform",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The sales pages and their static files."""
    from . import (  # noqa: F401
        views_agenda,
        views_deals,
        views_forecast,
        views_leads,
        views_public,
        views_quotes,
        views_settings,
        views_territories,
    )
    from .blueprint import assets, bp

    return [bp, assets]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``sfa``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Sales (the board), Leads and Forecast; Sales settings for admins."""
    if not membership.can("sfa.read"):
        return []
    items = [
        NavItem(_("My day"), "sfa.agenda", order=295),
        NavItem(_("Deals"), "sfa.board", order=300),
        NavItem(_("Leads"), "sfa.leads", order=310),
        NavItem(_("Forecast"), "sfa.forecast", order=320),
    ]
    if membership.can("sfa.manage"):
        items.append(NavItem(_("Sales settings"), "sfa.settings", order=916, group="admin"))
    return items


@hookimpl
def crm_module_enabled(tenant: Any, module: ModuleDescriptor) -> None:
    """Onboarding from the tenant's industry template (idempotent)."""
    from .onboarding import onboard

    onboard(tenant)
    from .agenda import ensure_contact_fields

    ensure_contact_fields()  # birthday, anniversary, key contact


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """The deals and converted leads of an account or contact."""
    from .contributions import record_panels

    return record_panels(record, kind, membership)


@hookimpl
def crm_timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Deals opened, won and lost; the lead a record came from."""
    from .contributions import timeline_entries

    return timeline_entries(record, kind)


@hookimpl
def crm_dashboard_widgets(membership: Any) -> list[Widget]:
    """Pipeline by stage and deals won this month."""
    from .contributions import dashboard_widgets

    return dashboard_widgets(membership)


@hookimpl
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Leads and deals."""
    from .contributions import search

    return search(query, membership, limit)


@hookimpl
def crm_import_targets() -> list[ImportTarget]:
    """Spreadsheets of leads."""
    from .importing import import_targets

    return import_targets()


@hookimpl
def crm_api_resources() -> list[ApiResource]:
    """``/api/v1/leads``, ``/api/v1/deals`` and ``/api/v1/pipelines``."""
    from .api import DEAL_SCHEMA, LEAD_SCHEMA, PIPELINE_SCHEMA, deals_api, leads_api, pipelines_api
    from .quote_api import quote_api_resources

    return [
        ApiResource("leads", leads_api, LEAD_SCHEMA),
        ApiResource("deals", deals_api, DEAL_SCHEMA),
        ApiResource("pipelines", pipelines_api, PIPELINE_SCHEMA),
        *quote_api_resources(),
    ]


@hookimpl
def crm_schedules() -> list[Schedule]:
    """Reclaim leads nobody worked, and send due reminders, every hour."""
    from .agenda import remind
    from .jobs import reclaim_leads

    return [
        Schedule(name="sfa.reclaim_leads", func=reclaim_leads, every=3600),
        Schedule(name="sfa.reminders", func=remind, every=3600),
    ]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """A merged account or contact: its deals and leads follow the survivor."""
    if event.name not in ("account.merged", "contact.merged") or event.record_id is None:
        return
    from .models import Deal, Lead

    merged = uuid.UUID(str(event.data["merged"]))
    if event.name == "account.merged":
        moves = ((Deal, Deal.account_id), (Lead, Lead.converted_account_id))
    else:
        moves = ((Deal, Deal.contact_id), (Lead, Lead.converted_contact_id))
    for model, column in moves:
        db.session.execute(
            update(model)
            .where(column == merged)
            .values({column.key: event.record_id})
            .execution_options(synchronize_session="fetch")
        )


@hookimpl
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """Sample leads and deals for the demo workspace."""
    from .demo import create_demo_data

    create_demo_data(members)


@hookimpl
def crm_report_sources() -> list[ReportSource]:
    """Deals and quote lines for the report builder."""
    from .reports import report_sources

    return report_sources()
