"""Hook specifications: every hook a plugin may implement.

Each stub's docstring is its reference documentation (``docs/hooks.md`` repeats it with an
example, and a test fails when a hook is missing there or has no test). Hooks are called with
keyword arguments; a plugin implements only the ones it needs and may accept only some of the
arguments. Hooks marked *per tenant* fire only for the modules the current tenant has switched
on; plugins that declare no module (``crm_module``) are part of every tenant. A plugin that
raises in a per-tenant hook is logged with its name and skipped; the page still renders.
"""

from __future__ import annotations

from typing import Any

import pluggy

from .plugin_types import (
    ApiResource,
    AutomationAction,
    DashboardPeriod,
    DomainEvent,
    ImportTarget,
    ModuleDescriptor,
    NavItem,
    Panel,
    ReportSource,
    Schedule,
    SearchResult,
    TenantPolicy,
    TimelineEntry,
    Widget,
)

hookspec = pluggy.HookspecMarker("crm")


# ----------------------------------------------------------------- start-up (all plugins)


@hookspec(historic=True)
def crm_addhooks(plugin_manager: pluggy.PluginManager) -> None:
    """Add hook specifications of your own with ``plugin_manager.add_hookspecs(module)``.

    Called once when the plugin is registered, before any other hook, so that other plugins
    can implement the hooks this plugin defines (the ERP module does this for connectors).
    """


@hookspec(firstresult=True)
def crm_module() -> ModuleDescriptor | None:
    """Return this plugin's ``ModuleDescriptor``: it makes the plugin a switchable module.

    Called once at start-up for each plugin separately. A plugin with no descriptor is part
    of every tenant (like the core); one with a descriptor is off for a tenant until an owner
    or admin switches it on (or ``default_on`` is set), and its pages answer 404 while off.
    """


@hookspec
def crm_blueprints() -> list[Any]:
    """Return Flask blueprints this plugin serves.

    Called once at start-up. A blueprint whose ``url_prefix`` starts with ``/t/<tenant_slug>``
    serves tenant pages: the core resolves the tenant, requires a signed-in member, enters the
    tenant context and answers 404 while the plugin's module is off for that tenant.
    """


@hookspec
def crm_migration_locations() -> list[str]:
    """Return directories of Alembic revision files for this plugin's tables.

    Called at start-up. Give your first revision ``branch_labels=("<module key>",)`` and
    ``depends_on="0001_core"``; ``crm db upgrade`` applies every branch (``heads``). Use
    ``sdk.secure_tenant_table`` in the revision so row-level security covers your tables.
    """


@hookspec
def crm_schedules() -> list[Schedule]:
    """Return ``Schedule(name, func, every)`` entries: periodic jobs.

    The worker's scheduler queues ``func`` (a ``@job``) every ``every`` seconds for each tenant
    that has the plugin's module on, in that tenant's context.
    """


@hookspec
def crm_startup(app: Any) -> None:
    """Called once when the app has been built, with every blueprint registered."""


# ----------------------------------------------------------------- module lifecycle


@hookspec
def crm_module_allowed(tenant: Any, module: ModuleDescriptor) -> bool | None:
    """Return ``False`` to forbid ``tenant`` from switching ``module`` on (e.g. its plan).

    Called for every plugin when the module catalogue is shown and before switching on.
    ``None`` means no opinion; any ``False`` forbids. Billing implements this.
    """


@hookspec
def crm_module_enabled(tenant: Any, module: ModuleDescriptor) -> None:
    """The tenant switched ``module`` on: create its onboarding data (stages, policies...).

    Called only on the plugin that owns ``module``, inside the tenant's context and the same
    transaction as the switch; raising aborts the switch with nothing written. Must be
    idempotent: a module switched off and on again finds its earlier data still there.
    """


@hookspec
def crm_module_disabled(tenant: Any, module: ModuleDescriptor) -> None:
    """The tenant switched ``module`` off. Data is kept; stop anything running for it."""


@hookspec
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """Add sample data to the demo workspace (``crm demo``, ``make run``). Per tenant.

    Called once, when the demo tenant is created: after the core's sample accounts, contacts
    and teams and with every module the plan allows switched on, inside the tenant's context
    and the demo's transaction. ``members`` are the demo's memberships (owner first).
    """


# ----------------------------------------------------------------- pages (per tenant)


@hookspec
def crm_navigation(membership: Any) -> list[NavItem]:
    """Return ``NavItem`` entries for the workspace navigation of ``membership``.

    Per tenant, called on each tenant page render. Return only items the member may use
    (check ``membership.can(permission)``).
    """


@hookspec
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """Return ``Panel`` entries shown on a customer record page.

    Per tenant. ``kind`` is ``"account"`` or ``"contact"``; ``record`` is the model instance.
    """


@hookspec
def crm_timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Return ``TimelineEntry`` lines for the timeline of a customer record.

    Per tenant. The core merges them with its own activities, newest first.
    """


@hookspec
def crm_dashboard_widgets(membership: Any) -> list[Widget]:
    """Return ``Widget`` entries for the workspace home page of ``membership``. Per tenant."""


@hookspec
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Return at most ``limit`` ``SearchResult`` hits for the global search box. Per tenant."""


# ----------------------------------------------------------------- data in and out (per tenant)


@hookspec
def crm_import_targets() -> list[ImportTarget]:
    """Return ``ImportTarget`` entries that spreadsheet imports may write to. Per tenant."""


@hookspec
def crm_api_resources() -> list[ApiResource]:
    """Return ``ApiResource`` entries served under ``/api/v1``.

    Called at start-up; each blueprint is registered under ``/api/v1/<name>`` (make it with
    ``sdk.api_blueprint``), authenticated with the API key like the core's resources, and
    answers 404 for tenants that have its module off.
    """


@hookspec
def crm_event(event: DomainEvent) -> None:
    """React to a domain event (``contact.created``, ``account.updated``, ``deal.won``...).

    Per tenant, called inside the tenant's context and the transaction that caused the
    event, so writes you make commit or roll back with it. Queue slow work as a job.
    """


@hookspec
def crm_report_sources() -> list[ReportSource]:
    """Return ``ReportSource`` entries: record types reports can be built on. Per tenant.

    Each names its model, its ``ReportField`` entries (columns or SQL expressions, which may
    be grouped, filtered and aggregated), who may see which rows, and how to link to the
    records. The core contributes accounts, contacts, activities and orders; the analytics
    module offers every source of the modules the tenant has on.
    """


# ----------------------------------------------------------------- plans and usage


@hookspec
def crm_tenant_created(tenant: Any, owner: Any) -> None:
    """A workspace was just provisioned (sign-up, ``crm tenant create``, the demo).

    Called for every always-on plugin inside the new tenant's context and the transaction
    that creates it, after its owner joined and before its default modules are switched on.
    A plugin that raises is logged and skipped; the tenant is still created. Billing starts
    the default plan's trial here.
    """


@hookspec(firstresult=True)
def crm_tenant_policy(tenant: Any) -> TenantPolicy | None:
    """Return the ``TenantPolicy`` of ``tenant``: what its plan and subscription allow.

    ``tenant`` is a ``Tenant`` or the tenant context's reference (both have ``id`` and
    ``slug``). Called through ``crm_platform.policy.tenant_policy`` at most once per request
    (or job) and tenant; the first answer that is not ``None`` wins, and with none the tenant
    has no limits. The core enforces the answer: read-only refuses every write, the banner
    shows on tenant pages, the API rate limit, seats and record limits apply. Billing
    implements this. Requests keep the answer per process (``tenant_cache``) until a table it
    depends on changes: declare yours with ``sdk.watch_for_cache(Model, tenant_of=...)``
    (billing watches its plans, subscriptions and invoices); at most
    ``CRM_TENANT_CACHE_SECONDS`` otherwise.
    """


@hookspec
def crm_usage_recorded(
    tenant: Any, metric: str, quantity: int, idempotency_key: str | None
) -> None:
    """Metered usage happened in ``tenant`` (``sdk.record_usage``): store it (billing does).

    Called for every plugin inside the tenant's context and the caller's transaction, so the
    record commits or rolls back with the work it measures. ``idempotency_key``, when given,
    identifies the usage: the same key recorded twice counts once.
    """


# ----------------------------------------------------------------- provider console (all plugins)


@hookspec
def crm_provider_navigation() -> list[NavItem]:
    """Return ``NavItem`` entries for the provider console's navigation (platform staff).

    Called on each console page for every plugin, with no tenant in context. Each endpoint
    must be a view decorated with ``sdk.require_staff`` whose template extends
    ``provider/base.html``.
    """


@hookspec
def crm_provider_tenant_summary(tenants: list[Any]) -> dict[Any, dict[str, Any]]:
    """Return facts per tenant for the console: ``{tenant.id: {"plan": "Small business", ...}}``.

    ``tenants`` are the ``Tenant`` rows of one console page (or one batch of the dashboard's
    counts), with no tenant in context: read your rows of several tenants inside
    ``sdk.provider_scope(reason, actor)``. The console shows ``plan``, ``state``, ``seats``
    and ``mrr_cents`` with ``currency``; a fact no plugin gives shows as "—". The answers of
    several plugins are merged per tenant.
    """


@hookspec
def crm_provider_tenant_panels(tenant: Any) -> list[Panel]:
    """Return ``Panel`` entries for the console's page of ``tenant`` (subscription, invoices).

    Called with no tenant in context. Forms in a panel's ``html`` post (with the CSRF token)
    to your own views decorated with ``sdk.require_staff``, which record the action with
    ``sdk.record_staff_action`` and redirect back to ``provider.tenant``.
    """


@hookspec
def crm_provider_dashboard(period: DashboardPeriod) -> list[Widget]:
    """Return ``Widget`` entries for the provider console's dashboard (e.g. MRR over time).

    ``period.months`` are the dashboard's months (the last 12, oldest first); use
    ``period.labels`` as chart labels and the macros of ``_charts.html`` to draw.
    """


# ----------------------------------------------------------------- process automation (per tenant)


@hookspec
def crm_automation_actions() -> list[AutomationAction]:
    """Return ``AutomationAction`` entries that workflow rules may run. Per tenant.

    The automation module offers every action of the modules the tenant has on in its rule
    builder and runs them in a job after the change that triggered the rule committed.
    """


@hookspec
def crm_approval_gate(
    kind: str, record: Any, action: str, facts: dict[str, Any], actor: Any
) -> str | None:
    """Return why ``action`` on ``record`` (a ``kind``) must wait for an approval, or ``None``.

    Per tenant; called through ``sdk.approval_hold`` by a module before a controlled step
    (Sales before sending a quote, with ``facts`` such as ``{"discount_percent": 25}``). Any
    answer holds the step; the caller refuses it with that message. The automation module
    answers from its approval policies and opens an approval request for an approver.
    """
