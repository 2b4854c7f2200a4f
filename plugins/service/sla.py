"""SLA clocks of a ticket: which policy applies, when its targets fall due, pausing.

Every due time is counted in business time from the ticket's creation:
``due = created_at + target + time the clocks stood still`` (all in the policy calendar's
opening hours). The clocks stand still while the ticket waits on the customer and while it
is solved (a reopened ticket goes on where it stopped), so pausing and resuming only adds to
``sla_paused_seconds`` and recomputes the due times; a priority change recomputes them too.
The scheduled scan (:mod:`.sla_scan`) marks warnings and breaches from these columns.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select

from crm_platform.sdk import db, emit_event, utcnow

from .business_hours import BusinessHours, add_business_seconds, business_seconds_between
from .models import RUNNING_STATUSES, Calendar, Holiday, SlaPolicy, SlaTarget, Ticket

#: Statuses in which the clocks stand still.
STOPPED = ("pending", "solved", "closed")
#: Opening hours of a policy without a calendar: always open.
ALWAYS_OPEN = BusinessHours.build(
    "UTC",
    {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    (),
)


def aware(at: datetime | None) -> datetime | None:
    """A stored datetime as aware UTC (SQLite gives naive ones back)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=utcnow().tzinfo)


def hours_of(calendar: Calendar | None) -> BusinessHours:
    """The opening hours of ``calendar`` with its holidays (always open without one)."""
    if calendar is None:
        return ALWAYS_OPEN
    days: list[date] = list(
        db.session.scalars(select(Holiday.day).where(Holiday.calendar_id == calendar.id))
    )
    return BusinessHours.build(calendar.timezone, calendar.hours or {}, days)


def _tags(ticket: Ticket) -> set[str]:
    tags: set[str] = set()
    for record in (ticket.contact, ticket.account):
        if record is not None:
            tags.update(str(t).strip().lower() for t in record.tags or [])
    if ticket.contact is not None and ticket.contact.account is not None:
        tags.update(str(t).strip().lower() for t in ticket.contact.account.tags or [])
    return tags


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    """The first policy (by position) whose tag the customer carries, else the default."""
    policies = db.session.scalars(
        select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.name)
    ).all()
    tags = _tags(ticket)
    for policy in policies:
        if policy.match_tag and policy.match_tag.strip().lower() in tags:
            return policy
    return next((p for p in policies if p.is_default), None)


def target_for(policy: SlaPolicy, priority: str) -> SlaTarget | None:
    """The policy's targets for ``priority``."""
    return db.session.scalars(
        select(SlaTarget).where(SlaTarget.policy_id == policy.id, SlaTarget.priority == priority)
    ).one_or_none()


def compute_clocks(ticket: Ticket) -> None:
    """Set the ticket's due and warning times from its policy, priority and pauses."""
    policy = ticket.sla_policy if ticket.sla_policy_id else None
    if policy is None and ticket.sla_policy_id is not None:
        policy = db.session.get(SlaPolicy, (ticket.tenant_id, ticket.sla_policy_id))
    target = target_for(policy, ticket.priority) if policy is not None else None
    if policy is None or target is None:
        ticket.response_due_at = ticket.response_warn_at = None
        ticket.resolution_due_at = ticket.resolution_warn_at = None
        return
    hours = hours_of(policy.calendar)
    start = aware(ticket.created_at) or utcnow()
    extra = ticket.sla_paused_seconds or 0
    share = min(max(policy.warn_percent or 0, 0), 100) / 100

    def at(minutes: float) -> datetime:
        return add_business_seconds(start, minutes * 60 + extra, hours)

    ticket.response_due_at = at(target.first_response_minutes)
    ticket.response_warn_at = at(target.first_response_minutes * share)
    ticket.resolution_due_at = at(target.resolution_minutes)
    ticket.resolution_warn_at = at(target.resolution_minutes * share)


def start_clocks(ticket: Ticket) -> None:
    """Choose the ticket's policy and start its clocks (a new ticket)."""
    policy = policy_for(ticket)
    ticket.sla_policy_id = policy.id if policy else None
    ticket.sla_policy = policy
    compute_clocks(ticket)


def move_clocks(ticket: Ticket, old_status: str, now: datetime | None = None) -> None:
    """After a status change from ``old_status``: stop or restart the clocks."""
    now = now or utcnow()
    stopped_before, stopped_after = old_status in STOPPED, ticket.status in STOPPED
    if stopped_after and not stopped_before:
        settle(ticket, now)
        ticket.sla_paused_at = now
    elif stopped_before and not stopped_after and ticket.sla_paused_at is not None:
        policy = ticket.sla_policy
        hours = hours_of(policy.calendar) if policy is not None else ALWAYS_OPEN
        paused = business_seconds_between(aware(ticket.sla_paused_at), now, hours)
        ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + max(paused, 0)
        ticket.sla_paused_at = None
        ticket.sla_warned = False
        compute_clocks(ticket)


def settle(ticket: Ticket, now: datetime | None = None) -> list[str]:
    """Mark the targets the ticket missed, at a moment its clock was running (first response
    given, paused, solved), so a miss between two scans is not lost; emits ``sla.breached``
    for each new mark (the scan does the same for tickets nobody touches)."""
    now = now or utcnow()
    missed = []
    response_due = aware(ticket.response_due_at)
    answered = aware(ticket.first_responded_at) or now
    if not ticket.response_breached and response_due is not None and answered > response_due:
        ticket.response_breached = True
        missed.append("first_response")
    resolution_due = aware(ticket.resolution_due_at)
    if not ticket.resolution_breached and resolution_due is not None and now > resolution_due:
        ticket.resolution_breached = True
        missed.append("resolution")
    if missed:
        ticket.breached_at = ticket.breached_at or now
        db.session.flush()
    for target in missed:
        emit_event(
            "sla.breached",
            record_id=ticket.id,
            data={"number": ticket.number, "subject": ticket.subject, "target": target},
        )
    return missed


def time_left(ticket: Ticket, now: datetime | None = None) -> dict[str, Any]:
    """What the ticket page shows of the running (or paused) target."""
    now = now or utcnow()
    due = ticket.next_due_at
    if due is None:
        return {"target": None, "due": None, "seconds": None}
    target = "first_response" if ticket.first_responded_at is None else "resolution"
    reference = aware(ticket.sla_paused_at) or now
    return {"target": target, "due": due, "seconds": int((due - reference).total_seconds())}


def breached_clause(now: datetime) -> Any:
    """SQL: the ticket breached a target (marked by the scan, or past due while running)."""
    return or_(
        Ticket.response_breached.is_(True),
        Ticket.resolution_breached.is_(True),
        and_(
            Ticket.status.in_(RUNNING_STATUSES),
            or_(
                and_(Ticket.first_responded_at.is_(None), Ticket.response_due_at <= now),
                Ticket.resolution_due_at <= now,
            ),
        ),
    )


def at_risk_clause(now: datetime) -> Any:
    """SQL: a running ticket past its warning time (combine with ``~breached_clause``)."""
    return and_(
        Ticket.status.in_(RUNNING_STATUSES),
        or_(
            Ticket.sla_warned.is_(True),
            and_(Ticket.first_responded_at.is_(None), Ticket.response_warn_at <= now),
            and_(Ticket.first_responded_at.is_not(None), Ticket.resolution_warn_at <= now),
        ),
    )
