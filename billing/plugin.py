"""Hook implementations of the billing plugin (built in, always on: it declares no module)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import (
    DomainEvent,
    ModuleDescriptor,
    NavItem,
    Panel,
    Schedule,
    TenantPolicy,
    User,
    Widget,
    db,
    hookimpl,
)

#: Configuration read from the environment (``CRM_<name>``) unless the app config sets it.
CONFIG = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")


@hookimpl
def crm_startup(app: Any) -> None:
    """Stripe settings from the environment, and the ``crm billing`` commands."""
    for name in CONFIG:
        app.config.setdefault(name, os.environ.get(f"CRM_{name}") or None)
    from .cli import billing_group

    app.cli.add_command(billing_group)


@hookimpl
def crm_migration_locations() -> list[str]:
    """The ``billing`` Alembic branch."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_blueprints() -> list[Any]:
    """The tenant's billing page, Stripe's webhook endpoint and the console's billing pages."""
    from .provider_views import bp as provider_bp
    from .views import bp
    from .webhooks import bp as webhook_bp

    return [bp, webhook_bp, provider_bp]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Billing, next to the settings, for owners and admins."""
    if membership.can("settings.manage"):
        return [NavItem(_("Billing"), "billing.page", order=917, group="admin")]
    return []


@hookimpl
def crm_schedules() -> list[Schedule]:
    """The billing cycle and the usage report, hourly for every tenant."""
    from .jobs import billing_cycle, report_usage

    return [
        Schedule("billing.cycle", billing_cycle, every=3600),
        Schedule("billing.report_usage", report_usage, every=3600),
    ]


@hookimpl
def crm_module_allowed(tenant: Any, module: ModuleDescriptor) -> bool | None:
    """``False`` for a module the tenant's plan neither includes nor sells as an add-on."""
    from .entitlements import entitlements_for

    return None if entitlements_for(tenant.id).module_allowed(module.feature) else False


@hookimpl
def crm_tenant_policy(tenant: Any) -> TenantPolicy:
    """Read-only, banner, seats, record and API limits from the subscription and plan."""
    from .entitlements import policy_for

    return policy_for(tenant)


@hookimpl
def crm_usage_recorded(
    tenant: Any, metric: str, quantity: int, idempotency_key: str | None
) -> None:
    """Store metered usage (reported to the gateway by a job)."""
    from .service import record_usage

    record_usage(tenant, metric, quantity, idempotency_key)


@hookimpl
def crm_tenant_created(tenant: Any, owner: Any) -> None:
    """A new tenant starts the default plan's trial."""
    from .service import start_trial

    start_trial(tenant, actor=owner)


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """A paid add-on module switched on or off joins or leaves the subscription."""
    from .service import module_switched, tenant_by_id

    if event.name in ("tenant.deletion_scheduled", "tenant.deletion_canceled"):
        _deletion_switched(event)
        return
    if event.name not in ("module.enabled", "module.disabled"):
        return
    tenant = tenant_by_id(event.tenant_id)
    if tenant is None:
        return
    actor = db.session.get(User, event.actor_id) if event.actor_id else None
    key = str(event.data.get("module", ""))
    module_switched(tenant, key, event.name == "module.enabled", actor=actor)


def _deletion_switched(event: DomainEvent) -> None:
    """A workspace scheduled for deletion stops being billed; canceling resumes billing."""
    from crm_platform.sdk import ValidationFailed

    from .service import resume, suspend, tenant_by_id

    tenant = tenant_by_id(event.tenant_id)
    if tenant is None:
        return
    try:
        if event.name == "tenant.deletion_scheduled":
            suspend(tenant, actor="tenant deletion")
        else:
            resume(tenant, actor="tenant deletion")
    except ValidationFailed:  # no live subscription, or not suspended: nothing to do
        pass


@hookimpl(optionalhook=True)
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """The demo workspace pays for the smallest plan that has every module it uses."""
    from .service import activate_demo

    activate_demo(tenant)


@hookimpl(optionalhook=True)
def crm_provider_navigation() -> list[NavItem]:
    """Plans and Stripe events in the provider console."""
    return [
        NavItem(_("Plans"), "billing_provider.plans", order=40),
        NavItem(_("Stripe events"), "billing_provider.events", order=50),
    ]


@hookimpl(optionalhook=True)
def crm_provider_tenant_summary(tenants: list[Any]) -> dict[Any, dict[str, Any]]:
    """Plan, state, seats and MRR of each tenant."""
    from .provider import tenant_summaries

    return tenant_summaries(tenants)


@hookimpl(optionalhook=True)
def crm_provider_tenant_panels(tenant: Any) -> list[Panel]:
    """The subscription, its invoices and the provider's billing actions."""
    from .provider import tenant_panel

    return [tenant_panel(tenant)]


@hookimpl(optionalhook=True)
def crm_provider_dashboard(period: Any) -> list[Widget]:
    """Invoiced and paid amounts per month."""
    from .provider import revenue_widget

    return [revenue_widget(period)]
