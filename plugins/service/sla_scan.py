"""The scheduled SLA scan: one set-based pass over the tenant's running tickets.

Three ``UPDATE … RETURNING`` statements mark, in the database, the tickets whose
first-response target passed, whose resolution target passed, and whose warning time
passed; only the rows that change come back. Those get the escalation rules (notify, assign,
raise priority) in a few more set-based statements, and their ``sla.breached`` events from a
follow-up job queued when the scan commits (see :func:`queue_breach_events`).
Solved tickets older than the workspace's auto-close delay are closed in the same pass.
The scan never loops over tickets in Python, so it stays fast with 100,000 open tickets.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select, update

from crm_platform.sdk import User, db, emit_event, job, send_mail, utcnow

from .models import RUNNING_STATUSES, EscalationRule, Ticket
from .settings import WorkspaceSettings

CHUNK = 1000
EVENTS_PER_JOB = 500
RAISE = {"low": "normal", "normal": "high", "high": "urgent"}


@dataclass
class ScanResult:
    """What one scan changed (ticket ids per transition)."""

    response_breached: list[uuid.UUID] = field(default_factory=list)
    resolution_breached: list[uuid.UUID] = field(default_factory=list)
    warned: list[uuid.UUID] = field(default_factory=list)
    escalations: int = 0
    closed: int = 0

    def as_dict(self) -> dict[str, int]:
        """Counts, for the job's result and the benchmark."""
        return {
            "response_breached": len(self.response_breached),
            "resolution_breached": len(self.resolution_breached),
            "warned": len(self.warned),
            "escalations": self.escalations,
            "closed": self.closed,
        }


def _mark(condition: Any, values: dict[str, Any]) -> list[Any]:
    statement = (
        update(Ticket)
        .where(Ticket.status.in_(RUNNING_STATUSES), condition)
        .values(**values)
        .returning(Ticket.id, Ticket.number, Ticket.subject, Ticket.queue_id, Ticket.priority)
        .execution_options(synchronize_session=False)
    )
    return list(db.session.execute(statement).all())


def scan(now: datetime | None = None, *, events: bool = True) -> ScanResult:
    """Mark breaches and warnings of the tenant in context as of ``now``; escalate."""
    now = now or utcnow()
    result = ScanResult()
    first = _mark(
        and_(
            Ticket.first_responded_at.is_(None),
            Ticket.response_breached.is_(False),
            Ticket.response_due_at <= now,
        ),
        {"response_breached": True, "breached_at": func.coalesce(Ticket.breached_at, now)},
    )
    resolution = _mark(
        and_(Ticket.resolution_breached.is_(False), Ticket.resolution_due_at <= now),
        {"resolution_breached": True, "breached_at": func.coalesce(Ticket.breached_at, now)},
    )
    warned = _mark(
        and_(
            Ticket.sla_warned.is_(False),
            Ticket.response_breached.is_(False),
            Ticket.resolution_breached.is_(False),
            or_(
                and_(Ticket.first_responded_at.is_(None), Ticket.response_warn_at <= now),
                and_(Ticket.first_responded_at.is_not(None), Ticket.resolution_warn_at <= now),
            ),
        ),
        {"sla_warned": True},
    )
    result.response_breached = [r.id for r in first]
    result.resolution_breached = [r.id for r in resolution]
    result.warned = [r.id for r in warned]
    if events:
        queue_breach_events(
            [(r, "first_response") for r in first] + [(r, "resolution") for r in resolution]
        )
    breached = {r.id: r for r in (*first, *resolution)}
    result.escalations = escalate("breached", list(breached.values()))
    result.escalations += escalate("at_risk", warned)
    result.closed = auto_close(now)
    return result


def queue_breach_events(breaches: Sequence[tuple[Any, str]]) -> None:
    """Emit ``sla.breached`` for each breach from a job queued when the scan commits.

    Every event fans out to the tenant's plugins and webhooks one by one; doing that after
    the marks are committed keeps the scan itself short however many tickets it marks.
    """
    rows = [[str(r.id), r.number, r.subject, target] for r, target in breaches]
    for start in range(0, len(rows), EVENTS_PER_JOB):
        emit_breach_events.enqueue_after_commit(rows[start : start + EVENTS_PER_JOB])


@job(retries=3)
def emit_breach_events(rows: list[list[Any]]) -> int:
    """``sla.breached`` for breaches the scan marked (``[id, number, subject, target]``).

    Delivery is at least once: a retried job may repeat an event (webhooks carry a
    delivery id receivers can dedupe on).
    """
    for ticket_id, number, subject, target in rows:
        emit_event(
            "sla.breached",
            record_id=uuid.UUID(ticket_id),
            data={"number": number, "subject": subject, "target": target},
        )
    return len(rows)


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def escalate(trigger: str, rows: Sequence[Any]) -> int:
    """Apply the active rules of ``trigger`` to the tickets in ``rows``; actions taken."""
    if not rows:
        return 0
    rules = db.session.scalars(
        select(EscalationRule).where(
            EscalationRule.trigger == trigger, EscalationRule.active.is_(True)
        )
    ).all()
    taken = 0
    for rule in rules:
        ids = [
            r.id
            for r in rows
            if (rule.queue_id is None or r.queue_id == rule.queue_id)
            and (rule.priority is None or r.priority == rule.priority)
        ]
        if not ids:
            continue
        taken += len(ids)
        if rule.action == "notify" and rule.user is not None:
            wanted = set(ids)
            _notify(rule, [r for r in rows if r.id in wanted], trigger)
            continue
        if rule.action == "assign" and rule.user_id is not None:
            values: dict[str, Any] = {"assignee_id": rule.user_id}
        elif rule.action == "raise_priority":
            values = {"priority": case(RAISE, value=Ticket.priority, else_=Ticket.priority)}
        else:
            continue
        for chunk in _chunks(ids):
            db.session.execute(
                update(Ticket)
                .where(Ticket.id.in_(chunk))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    return taken


def _notify(rule: EscalationRule, rows: Sequence[Any], trigger: str) -> None:
    user: User = rule.user
    label = _("SLA breached") if trigger == "breached" else _("SLA at risk")
    lines = "\n".join(f"#{r.number} {r.subject}" for r in rows[:200])
    more = len(rows) - 200
    if more > 0:
        lines += "\n" + _("… and %(num)d more.", num=more)
    send_mail(
        user.email,
        f"{label}: {len(rows)}",
        _("Escalation rule “%(rule)s”:", rule=rule.name) + "\n\n" + lines,
    )


def auto_close(now: datetime) -> int:
    """Close tickets solved longer ago than the workspace's auto-close delay."""
    days = WorkspaceSettings.load().auto_close_days
    if not days or days <= 0:
        return 0
    statement = (
        update(Ticket)
        .where(Ticket.status == "solved", Ticket.solved_at <= now - timedelta(days=days))
        .values(status="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(db.session.execute(statement).rowcount or 0)


@job(retries=1, timeout=300)
def sla_scan_job() -> dict[str, int]:
    """The scheduled scan of the tenant in context (every minute)."""
    return scan().as_dict()
