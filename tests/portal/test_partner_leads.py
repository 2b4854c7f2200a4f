"""Leads handed to partners: a channel manager hands an open, unowned Sales lead to a partner
with a deadline (audited, the partner's users mailed); the partner sees only the shared
fields and accepts (the lead stays with them, noted on the lead) or declines (back to the
pool); the hourly job expires overdue handoffs (back to the pool); partner X never sees or
answers partner Y's leads; bad input writes nothing; Sales or the module off answers 404."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import events, last_mail
from sqlalchemy import func, select

from .helpers import owner_client, post, shows_sign_in, switch
from .partner_helpers import partner_client, partner_org, post_staff

LEADS = "/t/shop/portal-settings/channel/leads"
PARTNER_LEADS = "/t/shop/portal/partner/leads"


def make_lead(app: Any, tenant: Any, name: str, company: str, **extra: Any) -> str:
    """An open lead of the pool (nobody owns it), made through Sales' service."""
    from plugins.sfa.leads import add_lead

    values = {
        "name": name,
        "company": company,
        "email": f"{name.split()[0].lower()}@{company.split()[0].lower()}.example",
        "phone": "+44 20 7946 0000",
        "source": "Trade fair",
        "notes": "Budget is tight; call after 3pm.",
        **extra,
    }
    with in_tenant(app, tenant) as session:
        lead = add_lead(values, assign=False)
        session.commit()
        return str(lead.id)


def handoffs(app: Any, tenant: Any) -> list[dict[str, Any]]:
    """Every handoff's columns, oldest first."""
    from plugins.portal.partner_models import LeadHandoff

    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(LeadHandoff).order_by(LeadHandoff.created_at))
        return [{c.name: getattr(r, c.name) for c in LeadHandoff.__table__.columns} for r in rows]


def hand(app: Any, tenant: Any, lead_id: str, partner_id: str, days: Any = "") -> Any:
    """The owner (a channel manager) hands a lead on the staff page."""
    staff = owner_client(app, tenant)
    data = {"lead_id": lead_id, "partner_id": partner_id, "days": days}
    return post_staff(staff, f"/t/{tenant.slug}/portal-settings/channel/leads", data)


def answer(client: Any, handoff_id: Any, decision: str) -> Any:
    """A partner user accepts or declines on the partner leads page."""
    url = f"{PARTNER_LEADS}/{decision}"
    return post(client, url, {"handoff_id": str(handoff_id)}, page="/t/shop/portal/partner/")


def in_pool(app: Any, tenant: Any) -> str:
    """The staff handoff page (its lead picker lists the pool)."""
    return owner_client(app, tenant).get(f"/t/{tenant.slug}/portal-settings/channel/leads").text


@pytest.fixture
def acme(app: Any, shop: Any) -> str:
    return partner_org(app, shop, "Acme Resellers", "gold")


@pytest.fixture
def pat(app: Any, shop: Any, acme: str) -> Any:
    return partner_client(app, shop, acme, "pat@acme-resellers.example")


@pytest.fixture
def lead(app: Any, shop: Any) -> str:
    return make_lead(app, shop, "Lena Lead", "Leadwell Ltd")


def test_hand_off_accept_keeps_the_lead_with_the_partner(
    app: Any, shop: Any, acme: str, pat: Any, lead: str
) -> None:
    assert "Lena Lead" in in_pool(app, shop)
    response = hand(app, shop, lead, acme)
    assert response.status_code == 303, response.text
    (row,) = handoffs(app, shop)
    assert row["status"] == "pending" and str(row["partner_id"]) == acme
    delta = row["deadline_at"].replace(tzinfo=None) - row["created_at"].replace(tzinfo=None)
    assert abs(delta - timedelta(days=3)) < timedelta(minutes=1)  # the default
    [event] = events(app, shop, "portal.lead_handed")
    assert event.details["partner"] == "Acme Resellers" and event.details["days"] == 3
    mail = last_mail(app, "pat@acme-resellers.example")
    assert "Leadwell Ltd" in mail.subject and "3 days" in mail.body
    # the pool's picker no longer offers it; the handoff table shows it
    page = in_pool(app, shop)
    assert f'value="{lead}"' not in page and "waiting for the partner" in page
    listing = pat.get(PARTNER_LEADS)
    assert listing.status_code == 200
    for shown in ("Leadwell Ltd", "Lena Lead", "lena@leadwell.example", "+44 20 7946 0000"):
        assert shown in listing.text
    assert "Trade fair" in listing.text
    assert "Budget is tight" not in listing.text  # only the shared fields
    accepted = answer(pat, row["id"], "accept")
    assert accepted.status_code == 303 and "done=accepted" in accepted.location
    assert handoffs(app, shop)[0]["status"] == "accepted"
    assert handoffs(app, shop)[0]["responded_by_id"] is not None
    assert "Lead accepted" in pat.get(accepted.location).text
    assert "Lena Lead" in pat.get(PARTNER_LEADS).text  # stays with the partner
    assert f'value="{lead}"' not in in_pool(app, shop)
    [event] = events(app, shop, "portal.lead_accepted")
    assert event.actor_label == "portal:pat@acme-resellers.example"
    from plugins.sfa.models import LeadActivity

    with in_tenant(app, shop) as session:
        notes = session.scalars(
            select(LeadActivity.subject).where(LeadActivity.lead_id == uuid.UUID(lead))
        ).all()
    assert notes == ["Accepted by partner Acme Resellers"]
    again = answer(pat, row["id"], "decline")
    assert again.status_code == 409 and "answered already" in again.text
    assert handoffs(app, shop)[0]["status"] == "accepted"


def test_decline_returns_the_lead_to_the_pool(
    app: Any, shop: Any, acme: str, pat: Any, lead: str
) -> None:
    assert hand(app, shop, lead, acme, days="5").status_code == 303
    (row,) = handoffs(app, shop)
    forged = pat.post(f"{PARTNER_LEADS}/decline", data={"handoff_id": str(row["id"])})
    assert forged.status_code == 400 and handoffs(app, shop)[0]["status"] == "pending"  # no CSRF
    declined = answer(pat, row["id"], "decline")
    assert declined.status_code == 303
    assert handoffs(app, shop)[0]["status"] == "declined"
    assert "Lena Lead" not in pat.get(PARTNER_LEADS).text
    assert f'value="{lead}"' in in_pool(app, shop)
    assert len(events(app, shop, "portal.lead_declined")) == 1
    # it can be handed again (to the same or another partner)
    assert hand(app, shop, lead, acme).status_code == 303
    assert [h["status"] for h in handoffs(app, shop)] == ["declined", "pending"]


def test_deadline_passed_the_job_returns_the_lead_to_the_pool(
    app: Any, shop: Any, acme: str, pat: Any, lead: str
) -> None:
    from crm_platform.schedules import enqueue_due_schedules
    from crm_platform.testing import run_jobs
    from plugins.portal.partner_models import LeadHandoff

    fresh = make_lead(app, shop, "Fred Fresh", "Freshco")
    assert hand(app, shop, lead, acme, days="1").status_code == 303
    assert hand(app, shop, fresh, acme, days="2").status_code == 303
    with in_tenant(app, shop) as session:
        row = session.scalars(select(LeadHandoff).where(LeadHandoff.lead_id == uuid.UUID(lead)))
        row.one().deadline_at -= timedelta(days=1, minutes=1)
        session.commit()
    overdue = next(h for h in handoffs(app, shop) if str(h["lead_id"]) == lead)
    late = answer(pat, overdue["id"], "accept")  # the job has not run yet: still refused
    assert late.status_code == 409 and "deadline" in late.text
    queued = enqueue_due_schedules(app, force=True)
    assert queued["portal.expire_lead_handoffs"] >= 1
    run_jobs(app)
    states = {str(h["lead_id"]): h["status"] for h in handoffs(app, shop)}
    assert states == {lead: "expired", fresh: "pending"}
    assert f'value="{lead}"' in in_pool(app, shop)
    assert f'value="{fresh}"' not in in_pool(app, shop)
    page = pat.get(PARTNER_LEADS).text
    assert "Lena Lead" not in page and "Fred Fresh" in page
    assert len(events(app, shop, "portal.lead_expired")) == 1


def test_a_lead_sales_took_meanwhile_is_withdrawn(
    app: Any, shop: Any, acme: str, pat: Any, lead: str
) -> None:
    from crm_platform.identity import User
    from plugins.sfa.models import Lead

    assert hand(app, shop, lead, acme).status_code == 303
    with in_tenant(app, shop) as session:
        owner = session.scalars(select(User).where(User.email == shop.owner_email)).one()
        row = session.scalars(select(Lead).where(Lead.id == uuid.UUID(lead))).unique().one()
        row.owner_id = owner.id  # a rep claimed it from Sales' pool
        session.commit()
    refused = answer(pat, handoffs(app, shop)[0]["id"], "accept")
    assert refused.status_code == 409 and "no longer available" in refused.text
    assert handoffs(app, shop)[0]["status"] == "withdrawn"


def test_partner_x_cannot_see_or_answer_partner_ys_leads(
    app: Any, shop: Any, rival: Any, acme: str, pat: Any, lead: str
) -> None:
    other = partner_org(app, shop, "Bravo Distribution")
    quinn = partner_client(app, shop, other, "quinn@bravo.example")
    secret = make_lead(app, shop, "Sara Secret", "Secretive Inc")
    assert hand(app, shop, lead, acme).status_code == 303
    assert hand(app, shop, secret, other).status_code == 303
    theirs = next(h for h in handoffs(app, shop) if str(h["lead_id"]) == secret)
    page = pat.get(PARTNER_LEADS).text
    assert "Lena Lead" in page and "Sara Secret" not in page and "Secretive" not in page
    assert "Sara Secret" in quinn.get(PARTNER_LEADS).text
    for decision in ("accept", "decline"):
        response = answer(pat, theirs["id"], decision)
        assert response.status_code == 404 and "Sara Secret" not in response.text
    for bad in ("", "not-a-uuid", str(uuid.uuid4()), secret):  # a lead id is no handoff id
        assert answer(pat, bad, "accept").status_code == 404
    assert post(pat, f"{PARTNER_LEADS}/steal", {}, page=PARTNER_LEADS).status_code == 404
    assert next(h for h in handoffs(app, shop) if h["id"] == theirs["id"])["status"] == "pending"
    # another workspace's partner
    r_org = partner_org(app, rival, "Rival Partner")
    rita = partner_client(app, rival, r_org, "rita@rival.example")
    assert "Sara Secret" not in rita.get("/t/rival/portal/partner/leads").text
    token_page = "/t/rival/portal/partner/"
    refused = post(
        rita,
        "/t/rival/portal/partner/leads/accept",
        {"handoff_id": str(theirs["id"])},
        page=token_page,
    )
    assert refused.status_code == 404


def test_customers_and_staff_sessions_get_no_partner_leads(
    app: Any, shop: Any, alice: Any, acme: str, lead: str
) -> None:
    from .helpers import portal_client

    assert hand(app, shop, lead, acme).status_code == 303
    customer = portal_client(app, alice)
    assert customer.get(PARTNER_LEADS).status_code == 404
    staff = owner_client(app, shop)
    response = staff.get(PARTNER_LEADS)
    assert shows_sign_in(response) and "Lena Lead" not in response.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"days": "-2"}, "days", "Enter a number of days from 1 to 30."),
        ({"days": "0"}, "days", "Enter a number of days from 1 to 30."),
        ({"days": "31"}, "days", "Enter a number of days from 1 to 30."),
        ({"days": "soon"}, "days", "Enter a number of days from 1 to 30."),
        ({"lead_id": ""}, "lead_id", "Choose a lead."),
        ({"lead_id": "nope"}, "lead_id", "no longer in the pool"),
        ({"partner_id": ""}, "partner_id", "Choose one of the active partners."),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    app: Any, shop: Any, acme: str, lead: str, changes: dict[str, str], field: str, message: str
) -> None:
    data = {"lead_id": lead, "partner_id": acme, "days": "3", **changes}
    response = hand(app, shop, data["lead_id"], data["partner_id"], data["days"])
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text and message in response.text
    assert handoffs(app, shop) == [] and events(app, shop, "portal.lead_handed") == []


def test_owned_inactive_or_handed_leads_cannot_be_handed(
    app: Any, shop: Any, acme: str, lead: str
) -> None:
    from crm_platform.identity import User
    from plugins.sfa.models import Lead

    owned = make_lead(app, shop, "Olga Owned", "Ownco")
    with in_tenant(app, shop) as session:
        owner = session.scalars(select(User).where(User.email == shop.owner_email)).one()
        session.scalars(
            select(Lead).where(Lead.id == uuid.UUID(owned))
        ).unique().one().owner_id = owner.id
        session.commit()
    assert "Olga Owned" not in in_pool(app, shop)
    assert hand(app, shop, owned, acme).status_code == 400
    assert hand(app, shop, lead, acme).status_code == 303
    twice = hand(app, shop, lead, acme)
    assert twice.status_code == 400 and "no longer in the pool" in twice.text
    other = partner_org(app, shop, "Sleepy Partner")
    staff = owner_client(app, shop)
    page = f"/t/shop/portal-settings/channel/partners/{other}"
    post_staff(staff, page, {"name": "Sleepy Partner", "tier": "silver", "status": "inactive"})
    fresh = make_lead(app, shop, "Nora New", "Newish")
    refused = hand(app, shop, fresh, other)
    assert refused.status_code == 400 and 'id="partner_id-error"' in refused.text
    assert len(handoffs(app, shop)) == 1
    with in_tenant(app, shop) as session:
        from plugins.portal.partner_models import LeadHandoff

        assert session.scalar(select(func.count()).select_from(LeadHandoff)) == 1


def test_sales_or_portal_off_answers_404(
    app: Any, shop: Any, acme: str, pat: Any, lead: str
) -> None:
    assert hand(app, shop, lead, acme).status_code == 303
    assert 'href="/t/shop/portal/partner/leads"' in pat.get("/t/shop/portal/partner/").text
    switch(app, shop, "sfa", False)
    assert pat.get(PARTNER_LEADS).status_code == 404
    row = handoffs(app, shop)[0]
    assert answer(pat, row["id"], "accept").status_code == 404
    assert 'href="/t/shop/portal/partner/leads"' not in pat.get("/t/shop/portal/partner/").text
    staff = owner_client(app, shop)
    assert staff.get(LEADS).status_code == 404
    assert "Leads for partners" not in staff.get("/t/shop/portal-settings/channel/").text
    assert handoffs(app, shop)[0]["status"] == "pending"
    switch(app, shop, "sfa", True)
    switch(app, shop, "portal", False)
    assert pat.get(PARTNER_LEADS).status_code == 404
    assert staff.get(LEADS).status_code == 404


def test_member_may_not_hand_leads(app: Any, shop: Any, acme: str, lead: str) -> None:
    from conftest import login

    from crm_platform.identity import Tenant, User
    from crm_platform.provisioning import add_member, create_user

    with app.app_context():
        from crm_platform.extensions import db

        user = create_user("mia@shop.example", "Mia Member", "member-pass-Zebra-42")
        db.session.commit()
        uid = user.id
    with in_tenant(app, shop) as session:
        add_member(session.get(Tenant, shop.id), session.get(User, uid), "member")
        session.commit()
    member = app.test_client()
    assert login(member, "mia@shop.example", "member-pass-Zebra-42").status_code == 302
    assert member.get(LEADS).status_code == 403


def test_handoff_table_follows_the_model_rules_and_migration(app: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from crm_platform.extensions import db
    from crm_platform.schema_rules import model_problems
    from crm_platform.tenancy import tenant_tables

    with app.app_context():
        problems = model_problems(db.metadata, tenant_tables())
        assert [p for p in problems if p.startswith("portal_lead")] == []
        assert "portal_lead_handoffs" in {t.name for t in tenant_tables()}
        engine = create_engine(app.config["MIGRATION_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, db.metadata)
        finally:
            engine.dispose()
    assert [d for d in diff if "portal_" in repr(d)] == []


@pytest.mark.postgres
def test_row_level_security_covers_handoffs(
    app: Any, shop: Any, rival: Any, acme: str, lead: str
) -> None:
    from sqlalchemy import text

    from crm_platform.extensions import db
    from crm_platform.schema_rules import rls_problems
    from crm_platform.tenancy import tenant_tables

    assert hand(app, shop, lead, acme).status_code == 303
    with app.app_context(), db.engine.connect() as conn:
        tables = [t for t in tenant_tables() if t.name == "portal_lead_handoffs"]
        assert rls_problems(conn, tables) == []
    with in_tenant(app, rival) as session:
        assert session.execute(text("SELECT count(*) FROM portal_lead_handoffs")).scalar() == 0
    with in_tenant(app, shop) as session:
        assert session.execute(text("SELECT count(*) FROM portal_lead_handoffs")).scalar() == 1
