"""What a workspace gets when it switches Service on: a queue, business hours, an SLA
policy with targets per priority, canned responses, a call script, a knowledge-base section.
Idempotent: switching off and on again adds nothing when the data is still there."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm_platform.sdk import db

from .business_hours import DEFAULT_HOURS
from .models import (
    Calendar,
    CallScript,
    CannedResponse,
    KbCategory,
    Queue,
    Sequence,
    SlaPolicy,
    SlaTarget,
)

#: Default targets in business minutes: (first response, resolution) per priority.
DEFAULT_TARGETS = {
    "urgent": (30, 4 * 60),
    "high": (2 * 60, 8 * 60),
    "normal": (8 * 60, 3 * 8 * 60),
    "low": (3 * 8 * 60, 10 * 8 * 60),
}


def _none(model: Any) -> bool:
    return not db.session.scalar(select(func.count()).select_from(model))


def canned_defaults() -> list[tuple[str, str]]:
    """The canned responses a new service desk starts with."""
    return [
        (
            _("First reply"),
            _(
                "Hello {{ customer.first_name }},\n\nthank you for your message about "
                "“{{ ticket.subject }}”. We are looking into it and will get back to you "
                "shortly.\n\nBest regards,\n{{ agent.name }}\n{{ workspace.name }}"
            ),
        ),
        (
            _("Need more details"),
            _(
                "Hello {{ customer.first_name }},\n\nto help you with request "
                "#{{ ticket.number }} we need a few more details: could you send us the "
                "order number and a screenshot of the problem?\n\nThank you,\n{{ agent.name }}"
            ),
        ),
        (
            _("Solved"),
            _(
                "Hello {{ customer.first_name }},\n\nwe have solved your request "
                "#{{ ticket.number }}. If anything is still not right, just reply to this "
                "e-mail and we will reopen it.\n\nBest regards,\n{{ agent.name }}"
            ),
        ),
    ]


def onboard(tenant: Any) -> None:
    """Create the defaults that are missing; caller commits (the module switch does)."""
    if _none(Queue):
        db.session.add(Queue(name=_("Support"), is_default=True, assignment="manual"))
    calendar = db.session.scalars(select(Calendar).order_by(Calendar.name)).first()
    if calendar is None:
        calendar = Calendar(
            name=_("Business hours"), timezone=tenant.timezone or "UTC", hours=DEFAULT_HOURS
        )
        db.session.add(calendar)
        db.session.flush()
    if _none(SlaPolicy):
        policy = SlaPolicy(
            name=_("Standard"), is_default=True, position=100, calendar_id=calendar.id
        )
        db.session.add(policy)
        db.session.flush()
        for priority, (response, resolution) in DEFAULT_TARGETS.items():
            db.session.add(
                SlaTarget(
                    policy_id=policy.id,
                    priority=priority,
                    first_response_minutes=response,
                    resolution_minutes=resolution,
                )
            )
    if _none(CannedResponse):
        for title, body in canned_defaults():
            db.session.add(CannedResponse(title=title, body=body))
    if _none(CallScript):
        db.session.add(
            CallScript(
                title=_("Standard call"),
                steps=[
                    _("Greet the caller and give your name."),
                    _("Confirm who is calling: name, company, e-mail."),
                    _("Ask what the call is about and note it."),
                    _("Look for an open ticket; open one if there is none."),
                    _("Agree on the next step and when they will hear from us."),
                ],
            )
        )
    if _none(KbCategory):
        db.session.add(KbCategory(name=_("General"), position=0))
    if _none(Sequence):
        db.session.add(Sequence(name="ticket", value=0))
    db.session.flush()
