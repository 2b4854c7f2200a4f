"""The hooks of the marketing module: everything it adds to the CRM goes through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm_platform.sdk import (
    ApiResource,
    Contact,
    DomainEvent,
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
    parse_uuid,
)

from . import models  # noqa: F401 - registers the tables

MANAGERS = ("admin", "manager")
WELCOME_SUBJECT = "Welcome, {{ contact.first_name }}!"
WELCOME_BODY = (
    "<p>Hello {{ contact.first_name }},</p>\n<p>Thank you for being with us.</p>\n"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · '
    '<a href="{{ preferences_url }}">Preferences</a></p>'
)


@hookimpl
def crm_module() -> ModuleDescriptor:
    """Marketing is a switchable module for managers and admins (segments span every
    contact of the workspace)."""
    return ModuleDescriptor(
        key="marketing",
        name="Marketing",
        version="1.0.0",
        description=(
            "Database marketing: segments, RFM customer analysis, e-mail campaigns with A/B "
            "tests, drip sequences, campaign effectiveness."
        ),
        permissions={
            "marketing.read": MANAGERS,
            "marketing.manage": MANAGERS,
            "marketing.send": MANAGERS,
        },
        events={
            "campaign.sent": _l("A marketing campaign finished sending"),
            "contact.unsubscribed": _l("A contact unsubscribed from marketing e-mail"),
        },
        author="CRM platform",
    )


@hookimpl
def crm_blueprints() -> list[Any]:
    """The marketing pages (``/t/<slug>/marketing/``) and the public mail links."""
    from .web import register_views

    return [register_views()]


@hookimpl
def crm_api_resources() -> list[ApiResource]:
    """``/api/v1/segments``, ``/api/v1/campaigns``, ``/api/v1/suppression``."""
    from . import api

    return [
        ApiResource("segments", api.segments_api, api.SEGMENT_SCHEMA),
        ApiResource("campaigns", api.campaigns_api, api.CAMPAIGN_SCHEMA),
        ApiResource("suppression", api.suppression_api, api.SUPPRESSION_SCHEMA),
    ]


@hookimpl
def crm_migration_locations() -> list[str]:
    """The module's own Alembic branch (``marketing``)."""
    return [str(Path(__file__).parent / "migrations" / "versions")]


@hookimpl
def crm_navigation(membership: Any) -> list[NavItem]:
    """A Marketing entry for members who may read it."""
    if not membership.can("marketing.read"):
        return []
    return [NavItem(_("Marketing"), "marketing.index", order=300)]


@hookimpl
def crm_module_enabled(tenant: Any, module: ModuleDescriptor) -> None:
    """Onboarding: a welcome e-mail template (once; switching on again adds nothing)."""
    from .models import EmailTemplate

    if not db.session.scalar(select(func.count()).select_from(EmailTemplate)):
        db.session.add(
            EmailTemplate(name=_("Welcome"), subject=WELCOME_SUBJECT, body_html=WELCOME_BODY)
        )


@hookimpl(optionalhook=True)
def crm_demo_data(tenant: Any, members: list[Any]) -> None:
    """The demo workspace's orders, scores, segments, campaigns and a sequence."""
    from .demo import add_demo_data

    add_demo_data(members[0].user if members else None)


@hookimpl
def crm_record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """The Marketing panel on contact pages: value, lifecycle, campaign history, sequences."""
    if kind != "contact" or not membership.can("marketing.read"):
        return []
    from .panels import contact_panel

    return [
        Panel(
            title=_("Marketing"), html=contact_panel(record, membership), order=60, key="marketing"
        )
    ]


@hookimpl
def crm_timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Campaign e-mail sent, opened and clicked on the contact's timeline."""
    if kind != "contact":
        return []
    from .panels import timeline_entries

    return timeline_entries(record)


@hookimpl
def crm_dashboard_widgets(membership: Any) -> list[Widget]:
    """The last campaign's results and customers by lifecycle."""
    if not membership.can("marketing.read"):
        return []
    from .panels import dashboard_widget

    return [Widget(title=_("Marketing"), html=dashboard_widget(), order=300)]


@hookimpl
def crm_search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Campaigns and segments by name."""
    if not membership.can("marketing.read"):
        return []
    from .panels import search

    return search(query, limit)


@hookimpl
def crm_schedules() -> list[Schedule]:
    """The dispatcher every minute, segment refreshes every 15 minutes, scores daily."""
    from .jobs import dispatch, recompute_scores_job, refresh_due_segments

    return [
        Schedule(name="marketing.dispatch", func=dispatch, every=60),
        Schedule(name="marketing.refresh_segments", func=refresh_due_segments, every=900),
        Schedule(name="marketing.scores", func=recompute_scores_job, every=24 * 3600),
    ]


def _contacts_of(event: DomainEvent) -> list[Any]:
    """The contacts an event is about: its ``contact_id``, else its account's contacts."""
    contact = parse_uuid(str(event.data.get("contact_id") or ""))
    if contact is not None:
        return [contact]
    account = parse_uuid(str(event.data.get("account_id") or ""))
    if account is None:
        return []
    return list(db.session.scalars(select(Contact.id).where(Contact.account_id == account)))


@hookimpl
def crm_event(event: DomainEvent) -> None:
    """Conversions and sequence exits: ``deal.won`` is recorded as a conversion; a won deal
    or a new order stops the contact's sequences (converted), an e-mail logged on the contact
    or ``contact.replied`` (replied), a contact moved to the trash (removed)."""
    from .sequences import stop_enrollments

    name = event.name
    if name == "deal.won" and event.record_id is not None:
        from .conversions import record_deal_won

        record_deal_won(event)
        stop_enrollments(_contacts_of(event), "converted")
    elif name == "order.created" and event.data.get("status") not in ("cancelled", "refunded"):
        stop_enrollments([event.data.get("contact_id")], "converted")
    elif name == "activity.created" and event.data.get("kind") == "email":
        stop_enrollments([event.data.get("contact_id")], "replied")
    elif name == "contact.replied" and event.record_id is not None:
        stop_enrollments([event.record_id], "replied")
    elif name == "contact.deleted" and event.record_id is not None:
        stop_enrollments([event.record_id], "removed")


@hookimpl
def crm_report_sources() -> list[ReportSource]:
    """Campaigns for the report builder."""
    from .report_sources import report_sources

    return report_sources()


@hookimpl
def crm_automation_actions() -> list[Any]:
    """Workflow rules may add a contact to a static list."""
    from .automation_actions import automation_actions

    return automation_actions()
