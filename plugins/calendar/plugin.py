"""The hooks of the Calendar module: CalDAV sync of members' meetings and tasks and their
read-only iCalendar feeds (see docs/modules/calendar.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Activity,
    DomainEvent,
    ModuleDescriptor,
    NavItem,
    Schedule,
    db,
    hookimpl,
)

from . import models  # noqa: F401 - registers the tables

KEY = "calendar"
#: How often the scheduler looks for connections due a sync (each has its own interval).
SCHEDULE_SECONDS = 300


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Calendar sync is a switchable module; every member but read-only ones may use it."""
    return ModuleDescriptor(
        key=KEY,
        name="Calendar sync",
        version="1.0.0",
        description=(
            "Two-way CalDAV sync of each member's meetings and tasks with their own "
            "calendar, and private iCalendar feed addresses."
        ),
        permissions={"calendar.use": ("admin", "manager", "member")},
        author="CRM platform",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The settings page and the feed."""
    from .views import bp

    return [bp]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``calendar``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """ "Calendar sync" for members who may use it."""
    if membership.can("calendar.use"):
        return [NavItem(_("Calendar sync"), "calendar.settings", order=905, group="me")]
    return []


@hookimpl
def crm_schedules() -> list[Schedule]:
    """Every few minutes, queue the syncs of connections whose interval has passed."""
    from .sync import sync_due

    return [Schedule(name="calendar.sync_due", func=sync_due, every=SCHEDULE_SECONDS)]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """A new meeting or task goes to its owner's calendar soon after it is logged."""
    if event.name != "activity.created" or event.data.get("kind") not in ("meeting", "task"):
        return
    from .sync import sync_soon_for

    stmt = select(Activity.owner_id).where(Activity.id == event.record_id)
    owner_id = db.session.scalar(stmt)
    sync_soon_for(owner_id)
