"""Calling the console's hooks: navigation, tenant facts, tenant panels, dashboard widgets.

These hooks are platform-wide (no tenant in context), so every plugin answers; a plugin that
raises is logged with its name and left out, and the console page still renders.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l

from ..plugin_types import DashboardPeriod, NavItem, Panel, Widget
from ..plugins import answers, collect

#: The console's own pages; plugins add theirs with ``crm_provider_navigation``.
CORE_NAVIGATION = (
    NavItem(_l("Dashboard"), "provider.dashboard", order=0),
    NavItem(_l("Tenants"), "provider.tenants", order=10),
    NavItem(_l("Plugins"), "provider.plugins", order=60),
    NavItem(_l("Failed jobs"), "provider.failed_jobs", order=70),
    NavItem(_l("Staff activity"), "provider.activity", order=90),
)
#: Facts the console shows from ``crm_provider_tenant_summary`` (missing ones show "—").
SUMMARY_FACTS = ("plan", "state", "seats", "mrr_cents", "currency")


def console_navigation() -> list[NavItem]:
    """The console's navigation: its own pages and every plugin's, by order."""
    items = [*CORE_NAVIGATION, *collect("crm_provider_navigation")]
    return sorted(items, key=lambda item: item.order)


def tenant_summaries(tenants: Iterable[Any]) -> dict[uuid.UUID, dict[str, Any]]:
    """Facts per tenant id from ``crm_provider_tenant_summary``, merged over the plugins."""
    tenants = list(tenants)
    merged: dict[uuid.UUID, dict[str, Any]] = {t.id: {} for t in tenants}
    if not tenants:
        return merged
    for answer in answers("crm_provider_tenant_summary", tenants=tenants):
        if not isinstance(answer, dict):
            continue
        for tenant_id, facts in answer.items():
            if tenant_id in merged and isinstance(facts, dict):
                for key, value in facts.items():  # pluggy's call order: the first answer wins
                    merged[tenant_id].setdefault(key, value)
    return merged


def tenant_panels(tenant: Any) -> list[Panel]:
    """Panels of the console's tenant page (``crm_provider_tenant_panels``), by order."""
    return sorted(collect("crm_provider_tenant_panels", tenant=tenant), key=lambda p: p.order)


def dashboard_widgets(period: DashboardPeriod) -> list[Widget]:
    """Widgets of the console's dashboard (``crm_provider_dashboard``), by order."""
    return sorted(collect("crm_provider_dashboard", period=period), key=lambda w: w.order)


def format_money(cents: Any, currency: str | None = None) -> str:
    """``123456, "usd"`` → ``"1,234.56 USD"``; "—" when there is no amount."""
    if cents is None or cents == "":
        return "—"
    try:
        amount = int(cents) / 100
    except (TypeError, ValueError):
        return "—"
    return f"{amount:,.2f} {(currency or '').upper()}".strip()
