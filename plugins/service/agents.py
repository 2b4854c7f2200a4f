"""Agents' availability and the live queue board (what the board page polls)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select

from crm_platform.sdk import Membership, User, ValidationFailed, db, utcnow

from .models import AGENT_STATUSES, OPEN_STATUSES, AgentStatus, Queue, Ticket
from .sla import at_risk_clause, breached_clause


def status_of(user_id: uuid.UUID) -> str:
    """An agent's status (``available`` until they set another)."""
    row = db.session.scalars(select(AgentStatus).where(AgentStatus.user_id == user_id)).first()
    return row.status if row else "available"


def set_status(user_id: uuid.UUID, status: str) -> AgentStatus:
    """Set an agent's status; caller commits."""
    if status not in AGENT_STATUSES:
        raise ValidationFailed({"status": _("Choose one of the listed options.")})
    row = db.session.scalars(select(AgentStatus).where(AgentStatus.user_id == user_id)).first()
    if row is None:
        row = AgentStatus(user_id=user_id)
        db.session.add(row)
    row.status, row.changed_at = status, utcnow()
    return row


@dataclass(frozen=True)
class QueueLine:
    """One queue on the board."""

    queue_id: uuid.UUID | None
    name: str
    open: int
    unassigned: int
    waiting: int
    at_risk: int
    breached: int
    oldest: datetime | None


@dataclass(frozen=True)
class AgentLine:
    """One agent on the board."""

    user_id: uuid.UUID
    name: str
    status: str
    changed_at: datetime | None
    open: int


def queue_board(now: datetime | None = None) -> list[QueueLine]:
    """Open work per queue, counted in one grouped query."""
    now = now or utcnow()
    breached = breached_clause(now)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    rows = db.session.execute(
        select(
            Ticket.queue_id,
            func.count(),
            count(Ticket.assignee_id.is_(None)),
            count(Ticket.status == "pending"),
            count(and_(at_risk_clause(now), ~breached)),
            count(breached),
            func.min(Ticket.created_at),
        )
        .where(Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.queue_id)
    ).all()
    names = {q.id: q.name for q in db.session.scalars(select(Queue))}
    lines = {
        qid: QueueLine(qid, names.get(qid, _("No queue")), n, u or 0, w or 0, r or 0, b or 0, o)
        for qid, n, u, w, r, b, o in rows
    }
    for qid, name in names.items():
        lines.setdefault(qid, QueueLine(qid, name, 0, 0, 0, 0, 0, None))
    return sorted(lines.values(), key=lambda line: (line.queue_id is None, line.name.lower()))


def agent_board(members: list[Membership] | None = None) -> list[AgentLine]:
    """Every member who can work tickets, with status and open tickets."""
    memberships = members if members is not None else list(db.session.scalars(select(Membership)))
    agents = [m for m in memberships if m.can("service.work")]
    ids = [m.user_id for m in agents]
    statuses = {
        row.user_id: row
        for row in db.session.scalars(select(AgentStatus).where(AgentStatus.user_id.in_(ids)))
    }
    load = dict(
        db.session.execute(
            select(Ticket.assignee_id, func.count())
            .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(OPEN_STATUSES))
            .group_by(Ticket.assignee_id)
        ).all()
    )
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    lines = [
        AgentLine(
            uid,
            users[uid].name if uid in users else "?",
            statuses[uid].status if uid in statuses else "available",
            statuses[uid].changed_at if uid in statuses else None,
            load.get(uid, 0),
        )
        for uid in ids
    ]
    return sorted(lines, key=lambda line: line.name.lower())
