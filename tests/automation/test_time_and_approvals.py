"""Time-based rules (N days before a date, schedules) run once per record and day however
often the scan runs; approval steps hold a quote with a large discount until an approver
approves it, and the decision is recorded and sent to the requester."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from conftest import in_tenant
from helpers_automation import activities, make_rule, runs
from helpers_records import add
from helpers_sfa import deal, signed_in
from helpers_web import flashes, mails, post_form
from sqlalchemy import select

from crm_platform.audit import AuditEvent
from crm_platform.records.activity_service import create_activity
from crm_platform.sdk import approval_hold
from crm_platform.tenancy import utcnow
from crm_platform.testing import run_jobs
from plugins.automation.engine import scan_time_rules
from plugins.automation.models import ApprovalPolicy, ApprovalRequest
from plugins.sfa.models import Deal
from plugins.sfa.quote_models import Quote
from plugins.sfa.quotes import add_line, create_quote


def _scan(app: Any, tenant: Any) -> None:
    with in_tenant(app, tenant):
        scan_time_rules.enqueue()
    run_jobs(app)


def test_days_before_a_date_runs_once_per_record_and_day(app: Any, alpha: Any) -> None:
    today = utcnow().date()
    contact_id = add(app, alpha, "contact", first_name="Ida")
    with in_tenant(app, alpha) as session:
        for subject, days in (("Renewal", 3), ("Later", 4)):
            create_activity(
                {
                    "kind": "task",
                    "subject": subject,
                    "contact_id": contact_id,
                    "due_date": (today + timedelta(days=days)).isoformat(),
                }
            )
        session.commit()
    rule_id = make_rule(
        app,
        alpha,
        "Remind 3 days before",
        event=None,
        trigger_type="date",
        date_field="activity.due_date",
        date_days="3",
        date_when="before",
        conditions=[("kind", "equals", "task")],
        actions=[("timeline_note", {"text": "Due soon: {{ subject }}"})],
    )
    _scan(app, alpha)
    _scan(app, alpha)  # the hourly scan again the same day: nothing new
    done = runs(app, alpha, rule_id)
    assert len(done) == 1 and done[0]["status"] == "ok"
    assert done[0]["key"].endswith(today.isoformat())
    assert [n["subject"] for n in activities(app, alpha, "note")] == ["Due soon: Renewal"]

    # A deal's expected close date works the same way ("3 days before close date").
    deal_id = deal(app, alpha, name="Closing", expected_close=(today + timedelta(days=3)))
    deal_rule = make_rule(
        app,
        alpha,
        "Deal closes soon",
        event=None,
        trigger_type="date",
        date_field="deal.expected_close",
        date_days="3",
        actions=[("create_task", {"subject": "Push {{ name }}", "due_in_days": "1"})],
    )
    with in_tenant(app, alpha) as session:
        account_id = add(app, alpha, "account", name="Globex")
        session.get(Deal, (alpha.id, uuid.UUID(deal_id))).account_id = uuid.UUID(account_id)
        session.commit()
    _scan(app, alpha)
    _scan(app, alpha)
    (run,) = runs(app, alpha, deal_rule)
    assert run["status"] == "ok" and str(run["record_id"]) == deal_id
    assert [t["subject"] for t in activities(app, alpha, "task") if "Push" in t["subject"]] == [
        "Push Closing"
    ]


def test_a_daily_schedule_runs_once_a_day(app: Any, alpha: Any, receiver: Any) -> None:
    rule_id = make_rule(
        app,
        alpha,
        "Daily digest",
        event=None,
        trigger_type="schedule",
        schedule_every="daily",
        schedule_at="00:00",
        actions=[("call_webhook", {"url": receiver.url("/daily")})],
    )
    _scan(app, alpha)
    _scan(app, alpha)
    assert [r["status"] for r in runs(app, alpha, rule_id)] == ["ok"]
    assert len(receiver.requests) == 1


def _policy(app: Any, tenant: Any, threshold: str = "20", role: str = "manager") -> None:
    with in_tenant(app, tenant) as session:
        session.add(
            ApprovalPolicy(
                name="Big discounts",
                kind="quote",
                action="send",
                threshold_percent=Decimal(threshold),
                approver_role=role,
            )
        )
        session.commit()


def _quote(app: Any, tenant: Any, discount: str) -> str:
    deal_id = deal(app, tenant, name="Discounted")
    with in_tenant(app, tenant) as session:
        row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        quote = create_quote(row)
        add_line(
            quote,
            {
                "description": "Licence",
                "quantity": "1",
                "unit_price": "100",
                "discount_percent": discount,
            },
        )
        session.commit()
        return str(quote.id)


def _status(app: Any, tenant: Any, quote_id: str) -> str:
    with in_tenant(app, tenant) as session:
        return session.scalars(select(Quote.status).where(Quote.id == uuid.UUID(quote_id))).one()


def test_a_large_discount_waits_for_approval(
    app: Any, alpha: Any, owner: Any, factory: Any
) -> None:
    _policy(app, alpha)
    factory.member(alpha, "rep@alpha.example", "member")
    factory.member(alpha, "boss@alpha.example", "manager")
    rep, boss = signed_in(app, "rep@alpha.example"), signed_in(app, "boss@alpha.example")
    small, big = _quote(app, alpha, "10"), _quote(app, alpha, "25")

    sent = post_form(
        rep, f"/t/alpha/sales/quotes/{small}/send", page=f"/t/alpha/sales/quotes/{small}"
    )
    assert sent.status_code == 303 and _status(app, alpha, small) == "sent"

    held = post_form(rep, f"/t/alpha/sales/quotes/{big}/send", page=f"/t/alpha/sales/quotes/{big}")
    assert held.status_code == 303 and _status(app, alpha, big) == "draft"
    (message,) = flashes(rep.get(held.headers["Location"]).text)
    assert "needs approval" in message and "manager" in message
    run_jobs(app)  # the request is opened by a job (the refused send rolled back)
    post_form(rep, f"/t/alpha/sales/quotes/{big}/send", page=f"/t/alpha/sales/quotes/{big}")
    run_jobs(app)
    with in_tenant(app, alpha) as session:
        (request,) = session.scalars(select(ApprovalRequest)).all()
        assert (request.status, request.facts) == ("pending", {"discount_percent": "25.00"})
        request_id = str(request.id)

    # The rep cannot decide; the manager sees it in the navigation, the page and decides.
    assert "Approvals (1)" in boss.get("/t/alpha/").text
    assert "Approvals (1)" not in rep.get("/t/alpha/").text
    page = boss.get("/t/alpha/automation/approvals")
    assert request_id in page.text
    refused = post_form(
        rep,
        f"/t/alpha/automation/approvals/{request_id}/decide",
        {"decision": "approve"},
        page="/t/alpha/automation/approvals",
    )
    assert refused.status_code == 403
    no_reason = post_form(
        boss,
        f"/t/alpha/automation/approvals/{request_id}/decide",
        {"decision": "reject"},
        page="/t/alpha/automation/approvals",
    )
    assert "Say why" in flashes(boss.get(no_reason.headers["Location"]).text)[0]
    approved = post_form(
        boss,
        f"/t/alpha/automation/approvals/{request_id}/decide",
        {"decision": "approve", "comment": "Strategic customer"},
        page="/t/alpha/automation/approvals",
    )
    assert approved.status_code == 303
    (mail,) = mails(app, "rep@alpha.example")
    assert "approved" in mail.subject and "Strategic customer" in mail.body
    with in_tenant(app, alpha) as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "approval.approved" in actions

    sent = post_form(rep, f"/t/alpha/sales/quotes/{big}/send", page=f"/t/alpha/sales/quotes/{big}")
    assert _status(app, alpha, big) == "sent"


def test_hook_crm_approval_gate(app: Any, alpha: Any) -> None:
    """The gate answers from the policies: below the threshold nothing holds; above it the
    step waits, the same facts find the same request, a rejection says why."""
    _policy(app, alpha, threshold="15", role="admin")
    quote_id = _quote(app, alpha, "30")
    with in_tenant(app, alpha) as session:
        quote = session.get(Quote, (alpha.id, uuid.UUID(quote_id)))
        assert approval_hold("quote", quote, "send", {"discount_percent": "15.00"}) is None
        assert approval_hold("quote", quote, "accept", {"discount_percent": "90"}) is None
        held = approval_hold("quote", quote, "send", {"discount_percent": "30.00"})
        assert held and "15" in held and "30.00" in held
    run_jobs(app)
    with in_tenant(app, alpha) as session:
        request = session.scalars(select(ApprovalRequest)).one()
        request.status, request.comment = "rejected", "Too generous"
        session.commit()
    with in_tenant(app, alpha) as session:
        quote = session.get(Quote, (alpha.id, uuid.UUID(quote_id)))
        held = approval_hold("quote", quote, "send", {"discount_percent": "30.00"})
        assert "Too generous" in held
    run_jobs(app)
    with in_tenant(app, alpha) as session:
        assert len(session.scalars(select(ApprovalRequest)).all()) == 1
