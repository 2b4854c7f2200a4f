"""Rules run in jobs after the save: exactly once per matching change (retries included),
never for a change that does not match, a failing action never fails the user's save, and
two rules that would ping-pong stop at the chain limit."""

from __future__ import annotations

import uuid
from typing import Any

from conftest import in_tenant
from helpers_automation import activities, make_rule, rule_row, runs
from helpers_records import add
from helpers_web import post_form
from sqlalchemy import select

from crm_platform.customers import Contact
from crm_platform.jobs import get_queue
from crm_platform.records.service import update_record
from crm_platform.testing import run_jobs
from plugins.automation.engine import MAX_DEPTH


def _update(app: Any, tenant: Any, contact_id: str, **values: Any) -> None:
    with in_tenant(app, tenant) as session:
        contact = session.get(Contact, (tenant.id, uuid.UUID(contact_id)))
        update_record(contact, values)
        session.commit()


def _contact(app: Any, tenant: Any, contact_id: str) -> Contact:
    with in_tenant(app, tenant) as session:
        row = (
            session.scalars(select(Contact).where(Contact.id == uuid.UUID(contact_id)))
            .unique()
            .one()
        )
        session.expunge(row)
        return row


def _queued(app: Any) -> list[Any]:
    with app.app_context():
        queue = get_queue(app)
        return [queue.fetch_job(i) for i in queue.job_ids]


def test_a_matching_change_runs_the_rule_exactly_once(app: Any, alpha: Any) -> None:
    rule_id = make_rule(
        app,
        alpha,
        "Welcome customers",
        conditions=[("lifecycle_stage", "changed_to", "customer")],
        actions=[("timeline_note", {"text": "Now a customer: {{ first_name }}"})],
    )
    contact_id = add(app, alpha, "contact", first_name="Ann", last_name="Lee")
    run_jobs(app)
    assert runs(app, alpha) == []  # contact.created: no rule listens

    _update(app, alpha, contact_id, lifecycle_stage="customer")
    queued = _queued(app)
    assert [j.kwargs or j.args[0] for j in queued if "run_event" in j.args[0]]  # one job
    assert len([j for j in queued if "run_event" in j.args[0]]) == 1
    jobs = run_jobs(app)
    event_job = next(j for j in jobs if "run_event" in j.args[0])
    done = runs(app, alpha, rule_id)
    assert [(r["status"], r["event"], str(r["record_id"])) for r in done] == [
        ("ok", "contact.updated", contact_id)
    ]
    notes = activities(app, alpha, "note")
    assert [n["subject"] for n in notes] == ["Now a customer: Ann"]
    assert rule_row(app, alpha, rule_id)["last_status"] == "ok"

    # The same job again (a retry after a lost acknowledgement): nothing runs twice.
    with in_tenant(app, alpha):
        _path, tenant_id, args, kwargs = event_job.args
        get_queue(app).enqueue(event_job.func_name, *event_job.args)
    run_jobs(app)
    assert len(runs(app, alpha, rule_id)) == 1
    assert len(activities(app, alpha, "note")) == 1

    # A change that does not match: no run, no effect.
    _update(app, alpha, contact_id, title="CTO")
    run_jobs(app)
    assert len(runs(app, alpha, rule_id)) == 1
    # Another matching change (back to lead, then customer again): one more run.
    _update(app, alpha, contact_id, lifecycle_stage="lead")
    _update(app, alpha, contact_id, lifecycle_stage="customer")
    run_jobs(app)
    assert [r["status"] for r in runs(app, alpha, rule_id)] == ["ok", "ok"]
    assert len(activities(app, alpha, "note")) == 2


def test_an_inactive_rule_queues_nothing(app: Any, alpha: Any) -> None:
    rule_id = make_rule(app, alpha, "Off", actions=[("timeline_note", {"text": "x"})])
    with in_tenant(app, alpha) as session:
        from plugins.automation.models import Rule

        session.get(Rule, (alpha.id, uuid.UUID(rule_id))).active = False
        session.commit()
    contact_id = add(app, alpha, "contact", first_name="Bo")
    _update(app, alpha, contact_id, title="CEO")
    assert not [j for j in _queued(app) if "run_event" in j.args[0]]
    run_jobs(app)
    assert runs(app, alpha) == []


def test_a_failing_action_does_not_fail_the_save(app: Any, alpha: Any, owner: Any) -> None:
    rule_id = make_rule(
        app,
        alpha,
        "Broken",
        actions=[
            ("timeline_note", {"text": "before the failure"}),
            ("set_field", {"field": "email", "value": "not an address"}),
        ],
    )
    contact_id = add(app, alpha, "contact", first_name="Cy", last_name="Ng")
    saved = post_form(
        owner,
        f"/t/alpha/contacts/{contact_id}/edit",
        {"first_name": "Cy", "last_name": "Ng", "title": "Buyer", "lifecycle_stage": "lead"},
    )
    assert saved.status_code in (302, 303)  # the user's save succeeded
    assert _contact(app, alpha, contact_id).title == "Buyer"
    run_jobs(app)
    (run,) = runs(app, alpha, rule_id)
    assert run["status"] == "failed"
    assert "email" in run["error"]
    assert activities(app, alpha, "note") == []  # the rule's earlier action rolled back
    assert _contact(app, alpha, contact_id).email is None
    page = owner.get(f"/t/alpha/automation/rules/{rule_id}")
    assert "failed" in page.text and "email" in page.text

    # The admin fixes the rule and retries the failed run: it runs for the same change.
    with in_tenant(app, alpha) as session:
        from plugins.automation.models import Rule

        rule = session.get(Rule, (alpha.id, uuid.UUID(rule_id)))
        rule.actions = [
            {"type": "set_field", "params": {"field": "email", "value": "cy@example.com"}}
        ]
        session.commit()
    retried = post_form(
        owner,
        f"/t/alpha/automation/rules/{rule_id}/runs/{run['id']}/retry",
        page=f"/t/alpha/automation/rules/{rule_id}",
    )
    assert retried.status_code == 303
    run_jobs(app)
    (run,) = runs(app, alpha, rule_id)
    assert (run["status"], run["attempts"], run["error"]) == ("ok", 2, None)
    assert _contact(app, alpha, contact_id).email == "cy@example.com"


def test_two_rules_that_would_ping_pong_stop_at_the_chain_limit(app: Any, alpha: Any) -> None:
    ping = make_rule(
        app, alpha, "Ping", actions=[("set_field", {"field": "notes", "value": "{{ notes }}a"})]
    )
    pong = make_rule(
        app, alpha, "Pong", actions=[("set_field", {"field": "notes", "value": "{{ notes }}b"})]
    )
    contact_id = add(app, alpha, "contact", first_name="Di", notes="-")
    _update(app, alpha, contact_id, title="Boss")
    run_jobs(app)  # the burst worker runs the jobs the rules' changes queue, too
    assert _queued(app) == []
    done = runs(app, alpha)
    assert max(r["depth"] for r in done) == MAX_DEPTH
    for rule_id in (ping, pong):
        mine = [r for r in done if str(r["rule_id"]) == rule_id]
        assert [r["depth"] for r in mine if r["status"] == "ok"] == list(range(MAX_DEPTH))
        (stopped,) = [r for r in mine if r["status"] == "skipped"]
        assert stopped["depth"] == MAX_DEPTH and "loop protection" in stopped["error"]
    # Each rule acted once per depth; neither reacted to its own change.
    notes = _contact(app, alpha, contact_id).notes
    assert notes.count("a") == MAX_DEPTH and notes.count("b") == MAX_DEPTH
