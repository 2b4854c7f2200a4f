"""The hooks of the Workflow automation module: everything it adds goes through here.

Written only against ``crm_platform.sdk``, like a third-party plugin; registered by the
entry point ``automation = "plugins.automation.plugin"`` of the ``crm.plugins`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import (
    AutomationAction,
    DomainEvent,
    ModuleDescriptor,
    NavItem,
    Schedule,
    Widget,
    hookimpl,
)

from . import models  # noqa: F401 - registers the tables

KEY = "automation"


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Automation is a switchable module; admins build rules, approvers decide requests."""
    return ModuleDescriptor(
        key=KEY,
        name="Workflow automation",
        version="1.0.0",
        description=(
            "Rules without code: when a record is created or changed, a deal changes stage, "
            "a date comes near or on a schedule, check conditions and run actions. Approval "
            "steps for discounts above a threshold."
        ),
        permissions={
            "automation.manage": ("admin",),
            "automation.approve": ("admin", "manager"),
        },
        author="CRM platform",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The rule builder, run history, templates and approvals."""
    from .views import bp

    return [bp]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``automation``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """Automation in the Administration menu; Approvals (with the number waiting) for
    approvers."""
    items = []
    if membership.can("automation.manage"):
        items.append(NavItem(_("Automation"), "automation.index", order=918, group="admin"))
    from .approvals import pending_count

    waiting = pending_count(membership)
    if waiting or membership.can("automation.approve"):
        label = _("Approvals (%(num)d)", num=waiting) if waiting else _("Approvals")
        items.append(NavItem(label, "automation.approvals", order=919, group="admin"))
    return items


@hookimpl
def crm_dashboard_widgets(membership: Any) -> list[Widget]:
    """Requests waiting for this member's decision."""
    from .approvals import pending_for
    from .views import approvals_widget

    waiting = pending_for(membership)
    if not waiting:
        return []
    return [Widget(title=_("Waiting for your approval"), html=approvals_widget(waiting), order=5)]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """Queue one job for an event some active rule listens to (never runs rules here)."""
    from .engine import on_event

    on_event(event)


@hookimpl
def crm_schedules() -> list[Schedule]:
    """Date-relative and scheduled rules, every hour (each once per record and day)."""
    from .engine import scan_time_rules

    return [Schedule(name="automation.time_rules", func=scan_time_rules, every=3600)]


@hookimpl
def crm_automation_actions() -> list[AutomationAction]:
    """Set a field, assign, create a task, send an e-mail, call a webhook, post a note."""
    from .actions import builtin_actions

    return builtin_actions()


@hookimpl
def crm_approval_gate(
    kind: str, record: Any, action: str, facts: dict[str, Any], actor: Any
) -> str | None:
    """Hold a step an approval policy controls until an approver says yes."""
    from .approvals import gate

    return gate(kind, record, action, facts, actor)


@hookimpl
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """Two sample rules and a discount approval policy."""
    from .demo import add_demo_data

    add_demo_data(members)
