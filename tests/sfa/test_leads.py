"""Leads: capture by form and import, validation, scoring rules, assignment rules, the shared
pool (claiming, and the scheduled job that reclaims leads nobody worked)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from conftest import in_tenant
from helpers_sfa import get_lead, lead, user_uuid
from helpers_web import csrf, field_error, flashes, post_form
from sqlalchemy import func, select

from crm_platform.provisioning import ValidationFailed
from crm_platform.tenancy import utcnow
from crm_platform.testing import run_jobs
from plugins.sfa import assignment, scoring
from plugins.sfa.leads import claim, log_activity, reclaim_stale_leads, update_lead
from plugins.sfa.models import Lead, LeadActivity

LEADS = "/t/acme/sales/leads"


def _rule(app: Any, acme: Any, module: Any, **data: Any) -> None:
    with in_tenant(app, acme) as session:
        module.add_rule(data)
        session.commit()


def _lead_row(session: Any, lead_id: str) -> Lead:
    return session.scalars(select(Lead).where(Lead.id == uuid.UUID(lead_id))).unique().one()


# --------------------------------------------------------------------------- capture


def test_capture_a_lead_with_the_form(app: Any, owner: Any, acme: Any) -> None:
    page = owner.get(f"{LEADS}/new")
    assert page.status_code == 200 and "Assign by the rules" in page.text
    created = post_form(
        owner,
        f"{LEADS}/new",
        {
            "name": "Grace Hopper",
            "company": "Navy Labs",
            "email": "Grace@Navy.Example",
            "phone": "+1 555 0100 200",
            "source": "website",  # case ignored: the settings say "Website"
            "status": "new",
            "owner_id": str(user_uuid(app, "owner@acme.example")),
            "industry": "banking",
        },
    )
    assert created.status_code == 303
    shown = owner.get(created.headers["Location"])
    assert flashes(shown.text, "success") == ["Lead “Grace Hopper” created."]
    for text in ("Navy Labs", "grace@navy.example", "+15550100200", "Website", "Entered by hand"):
        assert text in shown.text
    listed = owner.get(LEADS)
    assert "Grace Hopper" in listed.text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"email": "not an address"}, "email", None),
        ({"phone": "12"}, "phone", None),
        ({"source": "Carrier pigeon"}, "source", "Choose one of the lead sources"),
    ],
)
def test_bad_leads_are_refused_on_the_form(
    app: Any, owner: Any, acme: Any, data: dict[str, str], field: str, message: str | None
) -> None:
    response = post_form(owner, f"{LEADS}/new", {"name": "Someone", **data})
    assert response.status_code == 400
    error = field_error(response.text, field)
    assert error and (message is None or error.startswith(message))
    with in_tenant(app, acme) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_a_converted_status_cannot_be_set_by_hand(app: Any, acme: Any) -> None:
    lead_id = lead(app, acme)
    with in_tenant(app, acme) as session:
        with pytest.raises(ValidationFailed) as refused:
            update_lead(_lead_row(session, lead_id), {"status": "converted"})
        assert refused.value.errors == {"status": "Convert the lead to mark it converted."}


# --------------------------------------------------------------------------- scoring


def test_scoring_rules_for_fields_and_activities(app: Any, owner: Any, acme: Any) -> None:
    page = "/t/acme/sales/settings/scoring"
    for data in (
        {
            "kind": "field",
            "field": "industry",
            "operator": "equals",
            "value": "Banking",
            "points": "10",
        },
        {
            "kind": "field",
            "field": "email",
            "operator": "contains",
            "value": "@gmail.",
            "points": "-5",
        },
        {"kind": "activity", "activity_kind": "call", "points": "5"},
    ):
        assert post_form(owner, page, data).status_code == 303
    assert run_jobs(app)  # changing the rules rescores every open lead
    banker = lead(app, acme, industry="banking", email="x@gmail.com")
    other = lead(app, acme, name="Nobody special", industry="retail")
    assert get_lead(app, acme, banker)["score"] == 5
    assert get_lead(app, acme, other)["score"] == 0
    with in_tenant(app, acme) as session:
        row = _lead_row(session, banker)
        for _ in range(2):
            log_activity(row, {"kind": "call", "subject": "Called"})
        log_activity(row, {"kind": "note", "subject": "A note scores nothing"})
        session.commit()
        assert row.status == "working"  # logging work on a new lead starts it
    assert get_lead(app, acme, banker)["score"] == 15
    with in_tenant(app, acme) as session:
        update_lead(_lead_row(session, banker), {"industry": "retail"})
        session.commit()
    assert get_lead(app, acme, banker)["score"] == 5  # recomputed on change
    shown = owner.get(page)
    assert "Industry is “Banking”" in shown.text and "+10" in shown.text


def test_rescoring_job_follows_rule_changes(app: Any, owner: Any, acme: Any) -> None:
    lead_id = lead(app, acme, region="North")
    page = "/t/acme/sales/settings/scoring"
    data = {"kind": "field", "field": "region", "operator": "is_set", "points": "7"}
    assert post_form(owner, page, data).status_code == 303
    assert get_lead(app, acme, lead_id)["score"] == 0  # not yet: the job does it
    jobs = run_jobs(app)
    assert [j.return_value() for j in jobs] == [1]
    assert get_lead(app, acme, lead_id)["score"] == 7


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {
                "kind": "field",
                "field": "industry",
                "operator": "equals",
                "value": "",
                "points": "3",
            },
            "value",
        ),
        (
            {
                "kind": "field",
                "field": "shoe_size",
                "operator": "equals",
                "value": "9",
                "points": "3",
            },
            "field",
        ),
        ({"kind": "activity", "activity_kind": "task", "points": "3"}, "activity_kind"),
        ({"kind": "activity", "activity_kind": "call", "points": "0"}, "points"),
        ({"kind": "activity", "activity_kind": "call", "points": "9999"}, "points"),
    ],
)
def test_bad_scoring_rules_are_refused(app: Any, acme: Any, data: dict, field: str) -> None:
    with in_tenant(app, acme), pytest.raises(ValidationFailed) as refused:
        scoring.add_rule(data)
    assert field in refused.value.errors


# --------------------------------------------------------------------------- assignment


def test_assignment_rules_first_match_wins_round_robin(app: Any, acme: Any, factory: Any) -> None:
    ann = factory.member(acme, "ann@acme.example").id
    bob = factory.member(acme, "bob@acme.example").id
    cat = factory.member(acme, "cat@acme.example").id
    _rule(
        app,
        acme,
        assignment,
        name="Banks",
        match_field="industry",
        match_value="banking, finance",
        member_ids=[str(cat)],
    )
    _rule(
        app,
        acme,
        assignment,
        name="North",
        match_field="region",
        match_value="North",
        member_ids=[str(ann), str(bob)],
    )
    owners = [
        get_lead(app, acme, lead(app, acme, name=f"N{i}", region="north"))["owner_id"]
        for i in range(3)
    ]
    assert owners == [ann, bob, ann]
    banker = lead(app, acme, name="Banker", region="North", industry="Finance")
    assert get_lead(app, acme, banker)["owner_id"] == cat  # the first matching rule wins
    nobody = lead(app, acme, name="Elsewhere", region="South")
    assert get_lead(app, acme, nobody)["owner_id"] is None  # no rule: the shared pool


def test_assignment_skips_members_who_left_and_rules_switched_off(
    app: Any, owner: Any, acme: Any, factory: Any
) -> None:
    ann = factory.member(acme, "ann@acme.example").id
    _rule(
        app,
        acme,
        assignment,
        name="Everyone",
        match_field="any",
        member_ids=[str(ann), str(user_uuid(app, "owner@acme.example"))],
    )
    with in_tenant(app, acme) as session:
        from crm_platform.identity import Membership

        session.delete(session.scalars(select(Membership).where(Membership.user_id == ann)).one())
        session.commit()
    assert get_lead(app, acme, lead(app, acme))["owner_id"] == user_uuid(app, "owner@acme.example")
    page = "/t/acme/sales/settings/assignment"
    with in_tenant(app, acme) as session:
        rule_id = session.scalars(select(assignment.AssignmentRule.id)).one()
    assert post_form(owner, f"{page}/{rule_id}/toggle", page=page).status_code == 303
    assert get_lead(app, acme, lead(app, acme, name="Later"))["owner_id"] is None
    assert "Switch on" in owner.get(page).text


def test_bad_assignment_rules_are_refused(app: Any, owner: Any, acme: Any) -> None:
    page = "/t/acme/sales/settings/assignment"
    response = post_form(
        owner,
        page,
        {
            "name": "Nobody",
            "match_field": "region",
            "match_value": "",
            "member_ids": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 400
    assert field_error(response.text, "match_value")
    assert (
        field_error(response.text, "member_ids") == "Choose one or more members of this workspace."
    )


# --------------------------------------------------------------------------- the pool


def test_claiming_and_releasing_pool_leads(app: Any, owner: Any, rep: Any, acme: Any) -> None:
    lead_id = lead(app, acme, name="Pool lead")
    pool = owner.get(f"{LEADS}?owner=pool")
    assert "Pool lead" in pool.text and "Take it" in pool.text
    url = f"{LEADS}/{lead_id}"
    assert post_form(rep, f"{url}/claim", page=url).status_code == 302
    assert get_lead(app, acme, lead_id)["owner_id"] == user_uuid(app, "rep@acme.example")
    taken = post_form(owner, f"{url}/claim", page=url)
    assert flashes(owner.get(taken.headers["Location"]).text) == [
        "Rep took this lead a moment ago."
    ]
    assert post_form(rep, f"{url}/release", page=url).status_code == 302
    assert get_lead(app, acme, lead_id)["owner_id"] is None


def test_the_pool_reclaims_leads_nobody_worked(app: Any, owner: Any, acme: Any) -> None:
    owner_id = user_uuid(app, "owner@acme.example")
    stale = lead(app, acme, name="Forgotten", owner_id=str(owner_id))
    fresh = lead(app, acme, name="Fresh", owner_id=str(owner_id))
    worked = lead(app, acme, name="Worked", owner_id=str(owner_id))
    done = lead(app, acme, name="Done", owner_id=str(owner_id), status="unqualified")
    with in_tenant(app, acme) as session:
        long_ago = utcnow() - timedelta(days=20)
        for lead_id in (stale, worked, done):
            _lead_row(session, lead_id).worked_at = long_ago
        session.commit()
        log_activity(_lead_row(session, worked), {"kind": "email", "subject": "Sent info"})
        session.commit()
    post_form(
        owner,
        "/t/acme/sales/settings",
        {"currency": "USD", "pool_days": "14", "lead_sources": "Website"},
    )
    from crm_platform.schedules import enqueue_due_schedules

    queued = enqueue_due_schedules(app, force=True)
    assert queued["sfa.reclaim_leads"] == 1
    results = [j.return_value() for j in run_jobs(app)]
    assert 1 in results
    assert get_lead(app, acme, stale)["owner_id"] is None
    assert get_lead(app, acme, stale)["reclaimed_at"] is not None
    for kept in (fresh, worked, done):
        assert get_lead(app, acme, kept)["owner_id"] == owner_id
    with in_tenant(app, acme) as session:
        assert reclaim_stale_leads(14) == 0  # idempotent


def test_hook_crm_schedules_reclaim_only_for_tenants_with_sales_on(
    app: Any, acme: Any, factory: Any
) -> None:
    factory.tenant("bare", owner_email="owner@bare.example")
    from crm_platform.schedules import enqueue_due_schedules

    queued = enqueue_due_schedules(app, force=True)
    assert queued["sfa.reclaim_leads"] == 1
    jobs = run_jobs(app)
    reclaims = [j for j in jobs if j.meta["func"] == "plugins.sfa.jobs:reclaim_leads"]
    assert [j.meta["tenant_id"] for j in reclaims] == [str(acme.id)]


def test_a_claim_by_someone_else_is_refused_in_the_service(
    app: Any, acme: Any, factory: Any
) -> None:
    ann = factory.member(acme, "ann@acme.example").id
    lead_id = lead(app, acme, owner_id=str(ann))
    with in_tenant(app, acme) as session, pytest.raises(ValidationFailed):
        claim(_lead_row(session, lead_id), uuid.uuid4())


# --------------------------------------------------------------------------- import


def test_import_leads_through_the_core_importer(app: Any, owner: Any, acme: Any) -> None:
    lead(app, acme, name="Existing", email="dup@example.com")
    data = (
        b"Name,Company,E-mail,Owner,Source,Region\n"
        b"Ann Lee,Globex,ann@example.com,owner@acme.example,Referral,North\n"
        b"Bob Ray,Initech,dup@example.com,,Website,\n"
        b"Cid Ng,Umbrella,cid@example.com,nobody@acme.example,,\n"
        b",No name Inc,x@example.com,,,\n"
        b"Dee Ko,Hooli,ann@example.com,,,\n"
    )
    imports = "/t/acme/imports"
    page = owner.get(f"{imports}?target=leads")
    assert 'value="leads" selected' in page.text or "Leads" in page.text
    uploaded = owner.post(
        f"{imports}/upload",
        data={
            "csrf_token": csrf(owner, imports),
            "target": "leads",
            "file": (io.BytesIO(data), "leads.csv"),
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303, uploaded.text
    url = uploaded.headers["Location"]
    mapping = {
        "col_0": "name",
        "col_1": "company",
        "col_2": "email",
        "col_3": "owner_id",
        "col_4": "source",
        "col_5": "region",
    }
    started = owner.post(
        url, data={"csrf_token": csrf(owner, url), **mapping, "dedupe": "skip", "action": "start"}
    )
    assert started.status_code == 303, started.text
    run_jobs(app)
    with in_tenant(app, acme) as session:
        rows = {r.name: r for r in session.scalars(select(Lead)).unique()}
        assert set(rows) == {"Existing", "Ann Lee"}
        assert rows["Ann Lee"].captured_via == "import"
        assert rows["Ann Lee"].owner_id == user_uuid(app, "owner@acme.example")
        assert rows["Ann Lee"].source == "Referral"
    done = owner.get(url).text
    assert "No member has the e-mail address “nobody@acme.example”." in done
    assert "Same as line 2." in done  # Dee repeats Ann's address
    with in_tenant(app, acme) as session:
        assert session.scalar(select(func.count()).select_from(LeadActivity)) == 0
