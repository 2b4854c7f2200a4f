"""Each built-in action, the marketing module's "add to a static list" (contributed through
``crm_automation_actions``) and the webhook action against a local receiver."""

from __future__ import annotations

import uuid
from typing import Any

from conftest import in_tenant
from helpers_automation import OWNER, Receiver, activities, make_rule, runs
from helpers_records import add
from helpers_sfa import user_uuid
from helpers_web import mails
from sqlalchemy import select

from crm_platform.customers import Account, Contact
from crm_platform.plugin_types import AutomationAction
from crm_platform.records.service import update_record
from crm_platform.testing import run_jobs
from crm_platform.webhooks import verify_signature
from plugins.automation.models import EmailTemplate, Rule
from plugins.marketing.models import SegmentMember
from plugins.marketing.segments import create_segment


def _touch(app: Any, tenant: Any, kind: str, record_id: str, **values: Any) -> None:
    model = Account if kind == "account" else Contact
    with in_tenant(app, tenant) as session:
        update_record(session.get(model, (tenant.id, uuid.UUID(record_id))), values)
        session.commit()


def _row(app: Any, tenant: Any, model: Any, record_id: str) -> dict[str, Any]:
    with in_tenant(app, tenant) as session:
        row = session.scalars(select(model).where(model.id == uuid.UUID(record_id))).unique().one()
        return {c.key: getattr(row, c.key) for c in model.__table__.columns}


def test_set_field_and_assign(app: Any, alpha: Any, factory: Any) -> None:
    rep = factory.member(alpha, "rep@alpha.example", "member")
    make_rule(
        app,
        alpha,
        "Qualify",
        event="account.updated",
        conditions=[("industry", "equals", "Banking")],
        actions=[
            ("set_field", {"field": "lifecycle_stage", "value": "customer"}),
            ("assign", {"owner_id": str(rep.id)}),
        ],
    )
    account_id = add(app, alpha, "account", name="Initech")
    _touch(app, alpha, "account", account_id, industry="banking")  # equals ignores case
    run_jobs(app)
    row = _row(app, alpha, Account, account_id)
    assert (row["lifecycle_stage"], row["owner_id"]) == ("customer", rep.id)
    (run,) = runs(app, alpha)
    assert run["status"] == "ok" and run["results"][0].startswith("set_field")


def test_create_task_for_the_owner_and_timeline_note(app: Any, alpha: Any) -> None:
    make_rule(
        app,
        alpha,
        "Follow up",
        event="contact.created",
        actions=[
            ("create_task", {"subject": "Call {{ first_name }}", "due_in_days": "2"}),
            ("timeline_note", {"text": "Created by {{ first_name }}'s rule"}),
        ],
    )
    contact_id = add(app, alpha, "contact", first_name="Eve", owner_id=str(user_uuid(app, OWNER)))
    run_jobs(app)
    (task,) = activities(app, alpha, "task")
    assert task["subject"] == "Call Eve" and str(task["contact_id"]) == contact_id
    assert task["owner_id"] == user_uuid(app, OWNER) and task["due_date"] is not None
    (note,) = activities(app, alpha, "note")
    assert note["subject"] == "Created by Eve's rule"


def test_send_email_from_a_sandboxed_template(app: Any, alpha: Any) -> None:
    with in_tenant(app, alpha) as session:
        template = EmailTemplate(
            name="Hello",
            subject="Hello {{ first_name }}",
            body="Dear {{ first_name }} {{ last_name }}, {{ ''.__class__.__mro__ }}",
        )
        session.add(template)
        session.commit()
        template_id = str(template.id)
    rule_id = make_rule(
        app,
        alpha,
        "Mail",
        event="contact.created",
        actions=[("send_email", {"template_id": template_id, "to": "record"})],
    )
    add(app, alpha, "contact", first_name="Fay", last_name="Wu", email="fay@example.com")
    run_jobs(app)
    # The sandbox refuses the unsafe attribute: the run fails with the reason, nothing sent.
    (run,) = runs(app, alpha, rule_id)
    assert run["status"] == "failed" and "template" in run["error"]
    assert mails(app, "fay@example.com") == []
    with in_tenant(app, alpha) as session:
        session.get(
            EmailTemplate, (alpha.id, uuid.UUID(template_id))
        ).body = "Dear {{ first_name }} {{ last_name }}"
        session.commit()
    add(app, alpha, "contact", first_name="Gus", last_name="Ho", email="gus@example.com")
    run_jobs(app)
    (mail,) = mails(app, "gus@example.com")
    assert (mail.subject, mail.body) == ("Hello Gus", "Dear Gus Ho")


def test_add_to_a_static_list_comes_from_marketing(app: Any, alpha: Any) -> None:
    with in_tenant(app, alpha) as session:
        segment = create_segment({"name": "VIP", "kind": "static"})
        session.commit()
        segment_id = str(segment.id)
    make_rule(
        app,
        alpha,
        "VIPs",
        conditions=[("tags", "contains", "vip")],
        actions=[("marketing.add_to_segment", {"segment_id": segment_id})],
    )
    contact_id = add(app, alpha, "contact", first_name="Hal")
    _touch(app, alpha, "contact", contact_id, tags="vip, golf")
    run_jobs(app)
    with in_tenant(app, alpha) as session:
        members = session.scalars(select(SegmentMember.contact_id)).all()
    assert [str(m) for m in members] == [contact_id]


def test_call_webhook_signed_to_a_local_receiver(app: Any, alpha: Any, receiver: Receiver) -> None:
    rule_id = make_rule(
        app,
        alpha,
        "Tell the ERP",
        event="account.created",
        actions=[("call_webhook", {"url": receiver.url("/crm")})],
    )
    with in_tenant(app, alpha) as session:
        secret = session.get(Rule, (alpha.id, uuid.UUID(rule_id))).actions[0]["params"]["secret"]
    assert secret.startswith("whsec_")
    account_id = add(app, alpha, "account", name="Umbrella")
    run_jobs(app)
    (request,) = receiver.requests
    assert request.path == "/crm" and request.headers["X-CRM-Event"] == "account.created"
    assert verify_signature(secret, request.headers["X-CRM-Signature"], request.body)
    body = request.json()
    assert (body["rule"], body["record_id"], body["data"]["name"]) == (
        "Tell the ERP",
        account_id,
        "Umbrella",
    )
    # A failing receiver fails the run with the HTTP status; the account is saved anyway.
    receiver.status = 500
    add(app, alpha, "account", name="Soylent")
    run_jobs(app)
    failed = [r for r in runs(app, alpha, rule_id) if r["status"] == "failed"]
    assert len(failed) == 1 and "HTTP 500" in failed[0]["error"]


def test_call_webhook_refuses_private_addresses(app: Any, alpha: Any, receiver: Any) -> None:
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    rule_id = make_rule(
        app,
        alpha,
        "Internal",
        event="account.created",
        actions=[("call_webhook", {"url": receiver.url()})],
    )
    add(app, alpha, "account", name="Hooli")
    run_jobs(app)
    (run,) = runs(app, alpha, rule_id)
    assert run["status"] == "failed" and "loopback" in run["error"]
    assert receiver.requests == []


def test_hook_crm_automation_actions(app: Any, alpha: Any) -> None:
    """Every module that is on contributes its actions; automation offers them all."""
    from crm_platform.sdk import automation_actions

    with in_tenant(app, alpha):
        actions = automation_actions()
    assert {
        "set_field",
        "assign",
        "create_task",
        "send_email",
        "call_webhook",
        "timeline_note",
        "marketing.add_to_segment",
    } <= set(actions)
    assert all(isinstance(a, AutomationAction) for a in actions.values())
    assert actions["marketing.add_to_segment"].kinds == ("contact",)


def test_a_deal_stage_change_triggers_with_conditions_on_the_stage(app: Any, alpha: Any) -> None:
    from helpers_sfa import deal, stages

    from plugins.sfa.deals import move_deal
    from plugins.sfa.models import Deal

    names = list(stages(app, alpha).by_name)
    target = names[1]
    rule_id = make_rule(
        app,
        alpha,
        "Stage task",
        event="deal.stage_changed",
        conditions=[("to_stage", "equals", target), ("amount", "gt", "1000")],
        actions=[("create_task", {"subject": "Next step for {{ name }}", "due_in_days": "1"})],
    )
    account_id = add(app, alpha, "account", name="Initrode")
    small = deal(app, alpha, name="Small", amount="10", account_id=account_id)
    big = deal(app, alpha, name="Big", amount="5000", account_id=account_id)
    ids = stages(app, alpha)
    with in_tenant(app, alpha) as session:
        for deal_id in (small, big):
            row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
            move_deal(row, ids[target])
        session.commit()
    run_jobs(app)
    (run,) = runs(app, alpha, rule_id)
    assert (run["status"], str(run["record_id"])) == ("ok", big)
    (task,) = activities(app, alpha, "task")
    assert task["subject"] == "Next step for Big" and str(task["account_id"]) == account_id
