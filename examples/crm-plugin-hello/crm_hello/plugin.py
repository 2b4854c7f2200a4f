"""The hooks of the Hello plugin: everything it adds to the CRM goes through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import render_template, url_for
from sqlalchemy import func, select

from crm_platform.sdk import (
    ApiResource,
    DomainEvent,
    ModuleDescriptor,
    NavItem,
    Panel,
    Schedule,
    SearchResult,
    TimelineEntry,
    Widget,
    db,
    hookimpl,
)

from .jobs import send_queued_greetings
from .models import Greeting

WELCOME = "Welcome aboard! We are glad to work with you."


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Hello is a switchable module; members may read and send greetings."""
    return ModuleDescriptor(
        key="hello",
        name="Hello",
        version="1.0.0",
        description="Greet your contacts: a greetings page, a panel on contacts, a mail job.",
        permissions={
            "hello.read": ("admin", "manager", "member", "readonly"),
            "hello.send": ("admin", "manager", "member"),
        },
        author="Example Plugins Ltd.",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The Greetings page."""
    from .views import bp

    return [bp]


@hookimpl
def crm_api_resources() -> list[ApiResource]:
    """``/api/v1/greetings``: list and queue greetings with an API key."""
    from .api import SCHEMA, bp

    return [ApiResource("greetings", bp, SCHEMA)]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The plugin's own Alembic branch (``hello``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """A Greetings entry for members who may read greetings."""
    if not membership.can("hello.read"):
        return []
    return [NavItem("Greetings", "hello.index", order=500)]


@hookimpl
def crm_module_enabled(tenant: Any, module: ModuleDescriptor) -> None:
    """Onboarding: a default greeting template (once; switching on again adds nothing)."""
    exists = db.session.scalar(
        select(func.count()).select_from(Greeting).where(Greeting.status == "template")
    )
    if not exists:
        db.session.add(Greeting(message=WELCOME, status="template"))


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """A Greetings panel on contact pages, with a form to send one."""
    if kind != "contact" or not membership.can("hello.read"):
        return []
    from .views import GreetingForm

    greetings = db.session.scalars(
        select(Greeting).where(Greeting.contact_id == record.id).order_by(Greeting.id.desc())
    ).all()
    template = db.session.scalars(select(Greeting).where(Greeting.status == "template")).first()
    form = GreetingForm(message=template.message if template else WELCOME)
    html = render_template(
        "hello/panel.html",
        contact=record,
        greetings=greetings,
        form=form,
        can_send=membership.can("hello.send"),
        action=url_for("hello.greet", contact_id=record.id),
    )
    return [Panel(title="Greetings", html=html, order=50, key="hello")]


@hookimpl
def crm_timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Sent greetings on the contact's timeline."""
    if kind != "contact":
        return []
    sent = db.session.scalars(
        select(Greeting).where(Greeting.contact_id == record.id, Greeting.status == "sent")
    ).all()
    return [
        TimelineEntry(at=g.sent_at, title="Greeting sent", body=g.message, kind="hello")
        for g in sent
        if g.sent_at
    ]


@hookimpl
def crm_dashboard_widgets(membership: Any) -> list[Widget]:
    """How many greetings were sent and are waiting."""
    if not membership.can("hello.read"):
        return []
    counts = dict(
        db.session.execute(select(Greeting.status, func.count()).group_by(Greeting.status)).all()
    )
    html = render_template("hello/widget.html", counts=counts)
    return [Widget(title="Greetings", html=html, order=200)]


@hookimpl
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Greetings whose text contains the query."""
    if not membership.can("hello.read"):
        return []
    rows = db.session.scalars(
        select(Greeting)
        .where(Greeting.contact_id.is_not(None), Greeting.message.ilike(f"%{query}%"))
        .limit(limit)
    ).all()
    return [
        SearchResult(
            title=g.message[:80],
            url=url_for("workspace.contact", contact_id=g.contact_id),
            kind="Greeting",
            subtitle=g.status,
        )
        for g in rows
    ]


@hookimpl
def crm_schedules() -> list[Schedule]:
    """Send queued greetings every hour."""
    return [Schedule(name="hello.send_queued", func=send_queued_greetings, every=3600)]


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """A new contact gets a draft greeting, ready to send from their record."""
    if event.name == "contact.created" and event.record_id is not None:
        db.session.add(Greeting(contact_id=event.record_id, message=WELCOME, status="draft"))
