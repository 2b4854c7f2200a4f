"""Who gets a new ticket of a queue: nobody (manual), the next agent in turn (round-robin),
or the agent with the fewest open tickets (least loaded). Agents who set themselves busy
or away are skipped; an agent who never set a status counts as available."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from crm_platform.sdk import User, db

from .models import OPEN_STATUSES, AgentStatus, Queue, QueueMember, Ticket


def available_agents(queue: Queue) -> list[uuid.UUID]:
    """User ids of the queue's agents who are not busy or away, by name."""
    away = select(AgentStatus.user_id).where(AgentStatus.status != "available")
    rows = db.session.execute(
        select(QueueMember.user_id)
        .join(User, User.id == QueueMember.user_id)
        .where(QueueMember.queue_id == queue.id, QueueMember.user_id.not_in(away))
        .order_by(User.name, User.id)
    ).all()
    return [r[0] for r in rows]


def open_load(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Open tickets assigned to each of ``user_ids``."""
    rows = db.session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.in_(user_ids), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.assignee_id)
    ).all()
    load = {uid: 0 for uid in user_ids}
    load.update({uid: count for uid, count in rows})
    return load


def pick_agent(queue: Queue | None) -> uuid.UUID | None:
    """The agent a new ticket of ``queue`` goes to, or ``None`` (manual, nobody available)."""
    if queue is None or queue.assignment == "manual":
        return None
    agents = available_agents(queue)
    if not agents:
        return None
    if queue.assignment == "least_loaded":
        load = open_load(agents)
        chosen = min(agents, key=lambda uid: load[uid])  # ties: first by name
    else:
        after = queue.last_assigned_id
        position = agents.index(after) + 1 if after in agents else 0
        chosen = agents[position % len(agents)]
    queue.last_assigned_id = chosen
    return chosen
