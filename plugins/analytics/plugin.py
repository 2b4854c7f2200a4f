"""The hooks of the Analytics module: everything it adds to the CRM goes through here.

Analytics reads the record types every enabled module contributes through the core's
``crm_report_sources`` hook and never imports another module: the report builder, built-in
reports, saved and scheduled reports, and dashboards of members and teams.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import ModuleDescriptor, NavItem, Schedule, hookimpl

KEY = "analytics"


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Analytics is a switchable module with its permissions."""
    return ModuleDescriptor(
        key=KEY,
        name="Analytics",
        version="1.0.0",
        description=(
            "Report builder on every module's records (groups, time buckets, aggregates, "
            "filters; table and bar, line, pie or funnel chart), built-in sales, pipeline, "
            "win/loss, product, customer, service and campaign reports, saved and shared "
            "reports e-mailed on a schedule as CSV, XLSX or PDF, and dashboards with "
            "drill-down."
        ),
        permissions={
            "analytics.view": ("admin", "manager", "member", "readonly"),
            "analytics.build": ("admin", "manager", "member"),
            "analytics.manage": ("admin", "manager"),
        },
        author="CRM platform",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The analytics pages and their static files."""
    from .views import assets, bp

    return [bp, assets]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``analytics``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Reports and Dashboards."""
    if not membership.can("analytics.view"):
        return []
    return [
        NavItem(_("Reports"), "analytics.index", order=700),
        NavItem(_("Dashboards"), "analytics.dashboards", order=710),
    ]


@hookimpl
def crm_schedules() -> list[Schedule]:
    """E-mail the scheduled reports that are due, every hour."""
    from .jobs import send_scheduled_reports

    return [Schedule(name="analytics.send_reports", func=send_scheduled_reports, every=3600)]


@hookimpl
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """Two saved reports and a dashboard for the demo workspace."""
    from .demo import create_demo_data

    create_demo_data(members)
