"""Service reports with known numbers: backlog by status and queue, volume by channel,
first-response and resolution times, SLA attainment (overall and by queue), CSAT per agent
and per queue; merged and old tickets left out."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from conftest import in_tenant
from sqlalchemy import select

from crm_platform.sdk import utcnow
from plugins.service import admin, reports
from plugins.service.models import Queue, Survey

from .helpers import get_ticket, open_ticket

HOUR = timedelta(hours=1)


def _desk(app: Any, acme: Any, factory: Any) -> dict[str, Any]:
    """Six tickets with set times in two queues, two answered surveys."""
    ann = factory.member(acme, "ann@acme.example", "member")
    bob = factory.member(acme, "bob@acme.example", "member")
    ids = {
        name: open_ticket(app, acme, subject=name, channel=channel)
        for name, channel in (
            ("fast", "email"),
            ("late", "phone"),
            ("waiting", "web"),
            ("pending", "email"),
            ("merged", "email"),
            ("old", "agent"),
        )
    }
    now = utcnow()
    with in_tenant(app, acme) as session:
        support = session.scalars(select(Queue).where(Queue.is_default.is_(True))).one()
        billing = admin.save_queue(None, {"name": "Billing", "assignment": "manual"}, [])
        session.flush()
        t = {name: get_ticket(session, tid) for name, tid in ids.items()}
        for name, queue, status, created, responded, solved, late in (
            ("fast", support, "solved", 10, 9, 6, False),
            ("late", billing, "solved", 20, 17, 12, True),
            ("waiting", billing, "open", 2, None, None, False),
            ("pending", support, "pending", 24, 22, None, False),
            ("merged", support, "closed", 1, None, None, False),
            ("old", support, "closed", 24 * 40, 24 * 40 - 1, 24 * 39, False),
        ):
            ticket = t[name]
            ticket.queue_id, ticket.status = queue.id, status
            ticket.created_at = now - created * HOUR
            ticket.first_responded_at = now - responded * HOUR if responded else None
            ticket.solved_at = now - solved * HOUR if solved else None
            ticket.resolution_breached = late
        t["merged"].merged_into_id = t["fast"].id
        assert t["fast"].sla_policy_id is not None and t["late"].sla_policy_id is not None
        session.add_all(
            [
                Survey(
                    ticket_id=t["fast"].id,
                    agent_id=ann.id,
                    queue_id=support.id,
                    answered_at=now - 5 * HOUR,
                    rating=5,
                    comment="Quick and kind",
                ),
                Survey(
                    ticket_id=t["late"].id,
                    agent_id=bob.id,
                    queue_id=billing.id,
                    answered_at=now - 11 * HOUR,
                    rating=2,
                ),
            ]
        )
        session.commit()
    return {"now": now}


def test_report_numbers(app: Any, acme: Any, factory: Any) -> None:
    desk = _desk(app, acme, factory)
    with in_tenant(app, acme):
        report = reports.build(7, desk["now"] + timedelta(minutes=1))
    assert report.created == 4  # the merged one and the 40-day-old one are left out
    assert report.channel_totals == {"email": 2, "phone": 1, "web": 1}
    assert {line["name"]: sum(line["values"]) for line in report.volume_by_channel} == {
        "email": 2,
        "phone": 1,
        "web": 1,
    }
    assert report.backlog_by_status == {"new": 0, "open": 1, "pending": 1, "on_hold": 0}
    assert sorted(report.backlog_by_queue) == [("Billing", 1), ("Support", 1)]
    assert report.first_response_hours == {"average": 2.0, "median": 2.0, "count": 3}
    assert report.resolution_hours == {"average": 6.0, "median": 6.0, "count": 2}
    assert (report.sla_done, report.sla_met, report.sla_attainment) == (2, 1, 50)
    assert report.sla_by_queue == [("Billing", 1, 0), ("Support", 1, 1)]
    assert (report.csat.answers, report.csat.average, report.csat.score) == (2, 3.5, 50)
    by_queue = {s.name: (s.answers, s.score) for s in report.csat_by_queue}
    assert by_queue == {"Billing": (1, 0), "Support": (1, 100)}
    by_agent = {s.name: (s.answers, s.average, s.score) for s in report.csat_by_agent}
    assert by_agent == {"Ann": (1, 5.0, 100), "Bob": (1, 2.0, 0)}


def test_report_page_shows_them(app: Any, owner: Any, acme: Any, factory: Any) -> None:
    _desk(app, acme, factory)
    page = owner.get("/t/acme/service/reports?days=7").text
    assert re.search(r'id="sla-attainment"><span>50%</span>', page)
    assert re.search(r'id="csat-score"><span>50%</span>', page)
    assert re.search(r"<span>2</span>Open now \(backlog\)", page)
    assert re.search(r"<span>4</span>Tickets opened", page)
    assert "Quick and kind" in page and "2/5" in page
    quarter = owner.get("/t/acme/service/reports?days=90").text
    assert re.search(r"<span>5</span>Tickets opened", quarter)  # the old one is in it
