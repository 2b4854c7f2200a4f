"""SLA policies, clocks and the scheduled scan: onboarding defaults, due times in business
hours, the pause while waiting on the customer, breach and warning marks, escalations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import in_tenant
from sqlalchemy import select

from crm_platform.sdk import Account, Contact
from crm_platform.testing import run_jobs
from plugins.service import admin, sla, tickets
from plugins.service.models import (
    Calendar,
    CannedResponse,
    EscalationRule,
    Queue,
    SlaPolicy,
    SlaTarget,
    Ticket,
)
from plugins.service.sla_scan import scan

from .helpers import get_ticket, open_ticket

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the tenant's time zone is UTC
HOUR = timedelta(hours=1)


def _at(session: Any, ticket_id: str, created: datetime, priority: str = "normal") -> Ticket:
    """The ticket, as if opened at ``created`` with ``priority``."""
    ticket = get_ticket(session, ticket_id)
    ticket.created_at, ticket.priority = created, priority
    sla.compute_clocks(ticket)
    session.flush()
    return ticket


def test_switching_on_creates_the_defaults(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        assert [q.name for q in session.scalars(select(Queue))] == ["Support"]
        calendar = session.scalars(select(Calendar)).one()
        assert calendar.hours["mon"] == [["09:00", "17:00"]] and calendar.hours["sat"] == []
        policy = session.scalars(select(SlaPolicy)).one()
        assert policy.is_default and policy.calendar_id == calendar.id
        targets = {t.priority: t for t in session.scalars(select(SlaTarget))}
        assert set(targets) == {"low", "normal", "high", "urgent"}
        assert targets["urgent"].first_response_minutes < targets["low"].first_response_minutes
        assert len(session.scalars(select(CannedResponse)).all()) == 3


def test_due_times_follow_business_hours(app: Any, acme: Any) -> None:
    ticket_id = open_ticket(app, acme)
    with in_tenant(app, acme) as session:
        ticket = _at(session, ticket_id, MONDAY_10)
        # normal: first response 8 business hours, resolution 24 (three working days)
        assert sla.aware(ticket.response_due_at) == MONDAY_10 + 24 * HOUR  # Tuesday 10:00
        assert sla.aware(ticket.resolution_due_at) == MONDAY_10 + 72 * HOUR  # Thursday 10:00
        assert sla.aware(ticket.response_warn_at) == MONDAY_10 + 6 * HOUR  # 75 %: 16:00
        urgent = _at(session, ticket_id, MONDAY_10, "urgent")
        assert sla.aware(urgent.response_due_at) == MONDAY_10 + timedelta(minutes=30)


def test_tagged_customers_get_their_policy(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        hours = {f"{p}_response": "1" for p in ("low", "normal", "high", "urgent")}
        hours |= {f"{p}_resolution": "2" for p in ("low", "normal", "high", "urgent")}
        admin.save_policy(None, {"name": "VIP", "match_tag": "VIP", **hours})
        account = Account(name="Big Bank", tags=["vip"])
        session.add(account)
        session.flush()
        contact = Contact(first_name="Vera", account_id=account.id, email="vera@bank.example")
        session.add(contact)
        session.commit()
    vip = open_ticket(app, acme, requester_email="vera@bank.example")
    plain = open_ticket(app, acme, requester_email="nobody@else.example")
    with in_tenant(app, acme) as session:
        names = {str(t.id): t.sla_policy.name for t in session.scalars(select(Ticket)).unique()}
        assert names[vip] == "VIP" and names[plain] == "Standard"


def test_waiting_on_the_customer_pauses_the_clock(app: Any, acme: Any) -> None:
    ticket_id = open_ticket(app, acme)
    with in_tenant(app, acme) as session:
        ticket = _at(session, ticket_id, MONDAY_10)
        due = sla.aware(ticket.resolution_due_at)
        ticket.status = "pending"
        sla.move_clocks(ticket, "open", now=MONDAY_10 + 2 * HOUR)  # Monday 12:00
        assert ticket.sla_status == "paused"
        ticket.status = "open"
        sla.move_clocks(ticket, "pending", now=MONDAY_10 + 24 * HOUR)  # Tuesday 10:00
        # paused 12:00-17:00 Monday and 09:00-10:00 Tuesday: six business hours
        assert ticket.sla_paused_seconds == 6 * 3600
        assert sla.aware(ticket.resolution_due_at) == due + 6 * HOUR  # Thursday 16:00
        assert ticket.sla_paused_at is None


def test_pause_through_the_service_and_reopen_by_the_customer(app: Any, acme: Any) -> None:
    ticket_id = open_ticket(app, acme, requester_email="carol@customer.example")
    with in_tenant(app, acme) as session:
        ticket = get_ticket(session, ticket_id)
        tickets.reply(ticket, "Which order?", actor=None, status="pending")
        assert ticket.status == "pending" and ticket.sla_paused_at is not None
        assert ticket.first_responded_at is not None
        tickets.customer_wrote(
            ticket, body_text="Order 1042", channel="email", from_address="carol@customer.example"
        )
        assert ticket.status == "open" and ticket.sla_paused_at is None
        session.commit()


def test_scan_marks_breaches_and_warnings_once(app: Any, acme: Any, events: Any) -> None:
    late = open_ticket(app, acme, subject="Late one")
    soon = open_ticket(app, acme, subject="Soon due")
    fine = open_ticket(app, acme, subject="Plenty of time")
    waiting = open_ticket(app, acme, subject="Waiting")
    now = MONDAY_10 + 30 * HOUR  # Tuesday 16:00
    with in_tenant(app, acme) as session:
        _at(session, late, MONDAY_10)  # response due Tuesday 10:00: breached
        _at(session, soon, MONDAY_10 + 23 * HOUR)  # Tuesday 09:00: warn 15:00, due 17:00
        _at(session, fine, MONDAY_10 + 29 * HOUR)
        paused = _at(session, waiting, MONDAY_10)
        paused.status, paused.sla_paused_at = "pending", MONDAY_10
        session.commit()
        result = scan(now)
        session.commit()
        assert [str(i) for i in result.response_breached] == [late]
        assert [str(i) for i in result.warned] == [soon]
        states = {t.subject: t.sla_status for t in session.scalars(select(Ticket)).unique()}
    assert states == {
        "Late one": "breached",
        "Soon due": "at_risk",
        "Plenty of time": "on_track",
        "Waiting": "paused",
    }
    assert events.of("sla.breached") == []  # emitted by a job queued when the scan commits
    run_jobs(app)
    breaches = events.of("sla.breached")
    assert [(str(rid), data["target"]) for rid, data in breaches] == [(late, "first_response")]
    with in_tenant(app, acme) as session:
        again = scan(now)  # nothing new: marks are set once
        assert again.as_dict()["response_breached"] == 0 and again.as_dict()["warned"] == 0


def test_escalation_rules_notify_assign_and_raise(app: Any, acme: Any, factory: Any) -> None:
    boss = factory.member(acme, "boss@acme.example", "manager")
    late = open_ticket(app, acme, subject="Late", priority="low")
    with in_tenant(app, acme) as session:
        _at(session, late, MONDAY_10, "low")
        for action in ("notify", "assign", "raise_priority"):
            admin.save_rule(
                {"name": action, "trigger": "breached", "action": action, "user_id": str(boss.id)}
            )
        session.commit()
        result = scan(MONDAY_10 + 200 * HOUR)
        session.commit()
        assert result.escalations == 3
        ticket = session.scalars(select(Ticket)).one()
        session.refresh(ticket)
        assert ticket.assignee_id == boss.id and ticket.priority == "normal"
        assert session.scalars(select(EscalationRule)).all()
    from helpers_web import last_mail

    assert "#1 Late" in last_mail(app, "boss@acme.example").body


def test_solving_late_marks_the_miss_and_auto_close(app: Any, acme: Any) -> None:
    ticket_id = open_ticket(app, acme, requester_email="carol@customer.example")
    with in_tenant(app, acme) as session:
        ticket = _at(session, ticket_id, MONDAY_10 - 30 * 24 * HOUR)
        tickets.set_status(ticket, "solved")
        assert ticket.response_breached and ticket.resolution_breached
        assert ticket.sla_status == "breached"
        ticket.solved_at = MONDAY_10 - 20 * 24 * HOUR
        session.commit()
        assert scan().closed == 1
        session.commit()
        assert session.scalars(select(Ticket)).one().status == "closed"


def test_the_scan_is_a_scheduled_job(app: Any, acme: Any) -> None:
    from crm_platform.schedules import enqueue_due_schedules

    queued = enqueue_due_schedules(app, force=True)
    assert queued["service.sla_scan"] == 1
    jobs = [j for j in run_jobs(app) if j.meta.get("module") == "service"]
    assert [j.meta["tenant_id"] for j in jobs] == [str(acme.id)]
    assert jobs[0].return_value() == {
        "response_breached": 0,
        "resolution_breached": 0,
        "warned": 0,
        "escalations": 0,
        "closed": 0,
    }
