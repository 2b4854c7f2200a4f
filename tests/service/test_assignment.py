"""New tickets of a queue go to agents by its rule: round-robin or least loaded, skipping
agents who are busy or away."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant
from sqlalchemy import select

from plugins.service import admin, agents
from plugins.service.models import Queue, Ticket

from .helpers import open_ticket


def _queue(app: Any, tenant: Any, mode: str, members: list[Any]) -> None:
    with in_tenant(app, tenant) as session:
        queue = session.scalars(select(Queue)).one()
        admin.save_queue(
            queue,
            {"name": queue.name, "assignment": mode, "is_default": "y"},
            [str(m.id) for m in members],
        )
        session.commit()


def _assignees(app: Any, tenant: Any) -> list[Any]:
    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(Ticket).order_by(Ticket.number)).unique()
        return [t.assignee_id for t in rows]


def test_round_robin_takes_turns_and_skips_the_away(app: Any, acme: Any, factory: Any) -> None:
    ann = factory.member(acme, "ann@acme.example")
    bob = factory.member(acme, "bob@acme.example")
    _queue(app, acme, "round_robin", [ann, bob])
    for _ in range(3):
        open_ticket(app, acme)
    with in_tenant(app, acme) as session:
        agents.set_status(bob.id, "away")
        session.commit()
    open_ticket(app, acme)
    assert _assignees(app, acme) == [ann.id, bob.id, ann.id, ann.id]


def test_least_loaded_picks_the_agent_with_fewest_open(app: Any, acme: Any, factory: Any) -> None:
    ann = factory.member(acme, "ann@acme.example")
    bob = factory.member(acme, "bob@acme.example")
    open_ticket(app, acme, assignee_id=str(ann.id))
    open_ticket(app, acme, assignee_id=str(ann.id))
    _queue(app, acme, "least_loaded", [ann, bob])
    open_ticket(app, acme)
    open_ticket(app, acme)
    assert _assignees(app, acme)[2:] == [bob.id, bob.id]


def test_manual_queues_leave_tickets_unassigned(app: Any, acme: Any) -> None:
    open_ticket(app, acme)
    assert _assignees(app, acme) == [None]
