"""The rule builder for tenant admins: validation with a message per field, htmx rows,
on/off switch, run history; permissions; another tenant's rules and runs answer 404."""

from __future__ import annotations

import re
import uuid
from typing import Any

from conftest import in_tenant
from helpers_automation import OWNER, make_rule, rule_row, runs
from helpers_records import add
from helpers_sfa import signed_in
from helpers_web import field_error, post_form
from sqlalchemy import select

from crm_platform.testing import run_jobs
from plugins.automation.models import EmailTemplate, Rule


def _tokens(html: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([a-z0-9]+)"', html)


def test_rule_form_validation_and_save(app: Any, alpha: Any, owner: Any) -> None:
    page = owner.get("/t/alpha/automation/rules/new")
    assert page.status_code == 200 and "<script>" not in page.text
    (action,) = _tokens(page.text, "action")
    bad = post_form(
        owner,
        "/t/alpha/automation/rules/new",
        {
            "name": "",
            "trigger_type": "event",
            "event": "nothing.happened",
            "condition": "abcd1234",
            "c_abcd1234_field": "lifecycle_stage",
            "c_abcd1234_op": "gt",
            "c_abcd1234_value": "",
            "action": action,
            f"a_{action}_type": "create_task",
            f"a_{action}_subject": "",
            f"a_{action}_due_in_days": "soon",
        },
    )
    assert bad.status_code == 400
    assert field_error(bad.text, "name") == "Give the rule a name."
    assert field_error(bad.text, "event") == "Choose the event that starts the rule."
    assert field_error(bad.text, "c_abcd1234_value") == "Enter the value to compare with."
    assert field_error(bad.text, f"a_{action}_subject") == "This field is required."
    assert field_error(bad.text, f"a_{action}_due_in_days") == "Enter a whole number of days."
    assert 'value="lifecycle_stage"' in bad.text  # the rows come back as typed

    schedule = post_form(
        owner,
        "/t/alpha/automation/rules/new",
        {"name": "S", "trigger_type": "schedule", "schedule_every": "daily",
         "schedule_at": "25:00", "schedule_weekday": "0"},
    )  # fmt: skip
    assert field_error(schedule.text, "schedule_at") == "Enter a time as HH:MM (UTC)."
    assert field_error(schedule.text, "actions") == "Add at least one action."
    with in_tenant(app, alpha) as session:
        assert session.scalars(select(Rule)).all() == []

    good = post_form(
        owner,
        "/t/alpha/automation/rules/new",
        {
            "name": "Customers get a task",
            "active": "y",
            "trigger_type": "event",
            "event": "contact.updated",
            "condition": "abcd1234",
            "c_abcd1234_field": "lifecycle_stage",
            "c_abcd1234_op": "changed_to",
            "c_abcd1234_value": "customer",
            "action": action,
            f"a_{action}_type": "create_task",
            f"a_{action}_subject": "Kick-off with {{ first_name }}",
            f"a_{action}_due_in_days": "2",
            f"a_{action}_owner_id": "",
        },
    )
    assert good.status_code == 303
    with in_tenant(app, alpha) as session:
        rule = session.scalars(select(Rule)).one()
        assert (rule.event, rule.conditions, rule.actions[0]["type"]) == (
            "contact.updated",
            [{"field": "lifecycle_stage", "op": "changed_to", "value": "customer"}],
            "create_task",
        )
        rule_id = str(rule.id)
    duplicate = post_form(
        owner,
        "/t/alpha/automation/rules/new",
        {"name": "Customers get a task", "trigger_type": "event", "event": "contact.updated"},
    )
    assert field_error(duplicate.text, "name") == "Another rule has this name."
    edit = owner.get(f"/t/alpha/automation/rules/{rule_id}/edit")
    assert "Kick-off with {{ first_name }}" in edit.text


def test_htmx_rows_list_toggle_and_history(app: Any, alpha: Any, owner: Any) -> None:
    row = owner.get("/t/alpha/automation/rows/condition", headers={"HX-Request": "true"})
    assert row.status_code == 200 and 'name="condition"' in row.text
    action = owner.get("/t/alpha/automation/rows/action?token=abcd9999&a_abcd9999_type=send_email")
    assert 'name="a_abcd9999_template_id"' in action.text and 'name="a_abcd9999_to"' in action.text
    assert owner.get("/t/alpha/automation/rows/none").text == ""

    rule_id = make_rule(app, alpha, "Note it", actions=[("timeline_note", {"text": "x"})])
    listing = owner.get("/t/alpha/automation/")
    assert "Note it" in listing.text and "never run" in listing.text
    assert "/t/alpha/automation/" in owner.get("/t/alpha/").text  # Administration menu
    contact_id = add(app, alpha, "contact", first_name="Jo")
    with in_tenant(app, alpha) as session:
        from crm_platform.customers import Contact
        from crm_platform.records.service import update_record

        update_record(session.get(Contact, (alpha.id, uuid.UUID(contact_id))), {"title": "X"})
        session.commit()
    run_jobs(app)
    history = owner.get(f"/t/alpha/automation/rules/{rule_id}")
    assert "contact.updated" in history.text and contact_id in history.text
    off = post_form(
        owner, f"/t/alpha/automation/rules/{rule_id}/toggle", page="/t/alpha/automation/"
    )
    assert off.status_code == 303 and rule_row(app, alpha, rule_id)["active"] is False
    assert len(runs(app, alpha)) == 1


def test_templates_and_policies_validate(app: Any, alpha: Any, owner: Any) -> None:
    bad = post_form(
        owner,
        "/t/alpha/automation/templates/new",
        {"name": "T", "subject": "Hi {{ name", "body": ""},
    )
    assert bad.status_code == 400
    assert field_error(bad.text, "subject").startswith("This is not a valid template")
    assert field_error(bad.text, "body") == "This field is required."
    good = post_form(
        owner,
        "/t/alpha/automation/templates/new",
        {"name": "T", "subject": "Hi {{ name }}", "body": "Hello"},
    )
    assert good.status_code == 303
    with in_tenant(app, alpha) as session:
        assert session.scalars(select(EmailTemplate.name)).all() == ["T"]
    policy = post_form(
        owner,
        "/t/alpha/automation/approval-policies",
        {"name": "P", "threshold_percent": "120", "approver": "role:nobody"},
    )
    assert field_error(policy.text, "threshold_percent") == "Enter a percentage from 0 to 99.99."
    assert field_error(policy.text, "approver") == "Choose who approves."
    ok = post_form(
        owner,
        "/t/alpha/automation/approval-policies",
        {"name": "P", "threshold_percent": "20", "approver": "role:manager"},
    )
    assert ok.status_code == 303


def test_members_cannot_manage_rules(app: Any, alpha: Any, factory: Any) -> None:
    factory.member(alpha, "rep@alpha.example", "member")
    rep = signed_in(app, "rep@alpha.example")
    rule_id = make_rule(app, alpha, "Secret", actions=[("timeline_note", {"text": "x"})])
    assert rep.get("/t/alpha/automation/").status_code == 403
    assert rep.get(f"/t/alpha/automation/rules/{rule_id}").status_code == 403
    assert "/t/alpha/automation/" not in rep.get("/t/alpha/").text


def test_another_tenants_rules_and_runs_are_404(app: Any, alpha: Any, factory: Any) -> None:
    bravo = factory.tenant("bravo", owner_email="owner@bravo.example")
    from helpers_sfa import enable

    enable(app, bravo, "automation")
    theirs = make_rule(app, bravo, "Bravo rule", actions=[("timeline_note", {"text": "x"})])
    contact_id = add(app, bravo, "contact", first_name="Kim")
    with in_tenant(app, bravo) as session:
        from crm_platform.customers import Contact
        from crm_platform.records.service import update_record

        update_record(session.get(Contact, (bravo.id, uuid.UUID(contact_id))), {"title": "X"})
        session.commit()
    run_jobs(app)
    (run,) = runs(app, bravo)
    owner = signed_in(app, OWNER)
    base = "/t/alpha/automation"
    for url in (f"{base}/rules/{theirs}", f"{base}/rules/{theirs}/edit"):
        assert owner.get(url).status_code == 404
    for url in (
        f"{base}/rules/{theirs}/toggle",
        f"{base}/rules/{theirs}/delete",
        f"{base}/rules/{theirs}/runs/{run['id']}/retry",
    ):
        assert post_form(owner, url, page=f"{base}/").status_code == 404
    assert "Bravo rule" not in owner.get(f"{base}/").text
    assert rule_row(app, bravo, theirs)["active"] is True
    # Bravo sees its own rules.
    assert signed_in(app, "owner@bravo.example").get("/t/bravo/automation/").status_code == 200


def test_demo_workspace_has_sample_rules_the_builder_accepts(app: Any, runner: Any) -> None:
    from crm_platform.sdk import Tenant
    from plugins.automation.models import ApprovalPolicy
    from plugins.automation.rules import RuleDraft, check

    result = runner.invoke(args=["demo", "--accounts", "3"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from crm_platform.extensions import db

        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "demo")).one()
        tenant_id = tenant.id
    with in_tenant(app, tenant) as session:
        rules = session.scalars(select(Rule).order_by(Rule.name)).all()
        assert [r.name for r in rules] == ["Note big new accounts", "Onboard new customers"]
        for rule in rules:  # exactly what the form would save
            values = check(RuleDraft.of(rule), rule)
            assert values["actions"] == rule.actions and values["conditions"] == rule.conditions
        assert session.scalars(select(ApprovalPolicy)).one().approver_role == "manager"
    assert tenant_id
