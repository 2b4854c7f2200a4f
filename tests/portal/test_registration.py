"""Deal registration in the partner portal: channel conflicts found against the workspace's
data (same company, same contact e-mail, a rep's open deal, another partner's registration),
review by the channel manager (approve creates the deal once, reject with a reason), expiry by
the scheduled job, and bad input refused with nothing written."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import events, last_mail
from sqlalchemy import func, select

from crm_platform.identity import User

from .helpers import deal_state, owner_client
from .partner_helpers import (
    decide,
    partner_client,
    partner_org,
    register,
    registration_count,
    registration_id,
    registration_row,
)


@pytest.fixture
def acme_partner(app: Any, shop: Any) -> str:
    """Partner organisation Acme Resellers of shop."""
    return partner_org(app, shop, "Acme Resellers", "gold")


@pytest.fixture
def pat(app: Any, shop: Any, acme_partner: str) -> Any:
    """A signed-in partner user of Acme Resellers."""
    return partner_client(app, shop, acme_partner, "pat@acme-resellers.example")


def _kinds(app: Any, shop: Any, reg_id: str) -> set[str]:
    return {c["kind"] for c in registration_row(app, shop, reg_id)["conflicts"]}


def _rep_deal(app: Any, who: Any, *, owned: bool = True) -> str:
    from plugins.sfa.deals import create_deal

    with in_tenant(app, who.tenant) as session:
        owner = session.scalars(select(User).where(User.email == who.tenant.owner_email)).one()
        data = {"name": "Rep's deal", "account_id": who.account_id, "currency": "EUR"}
        deal = create_deal(data, actor=owner if owned else None)
        if not owned:
            deal.owner_id = None
        session.commit()
        return str(deal.id)


def test_new_company_has_no_conflict(app: Any, shop: Any, pat: Any) -> None:
    reg = registration_id(register(pat))
    row = registration_row(app, shop, reg)
    assert row["status"] == "pending" and row["conflicts"] == []
    assert row["amount"] == Decimal("25000.00") and row["currency"] == "EUR"
    page = pat.get(f"/t/shop/portal/partner/registrations/{reg}").text
    assert "No conflict was found." in page and "Newco Industries" in page
    assert "Newco Industries" in pat.get("/t/shop/portal/partner/").text


def test_same_company_conflicts_with_the_existing_account(
    app: Any, shop: Any, alice: Any, pat: Any
) -> None:
    reg = registration_id(register(pat, company="ALPHA, ltd."))  # the account is "Alpha Ltd"
    assert _kinds(app, shop, reg) == {"account"}
    page = pat.get(f"/t/shop/portal/partner/registrations/{reg}").text
    assert "Conflicts with an existing customer." in page
    assert "Alpha Ltd" not in page  # never the workspace's own record
    staff = owner_client(app, shop)
    review = staff.get(f"/t/shop/portal-settings/channel/registrations/{reg}").text
    assert "Alpha Ltd" in review and "Existing account" in review


def test_same_contact_email_conflicts_with_the_existing_contact(
    app: Any, shop: Any, alice: Any, pat: Any
) -> None:
    reg = registration_id(register(pat, contact_email="ALICE@alpha.example"))
    assert _kinds(app, shop, reg) == {"contact"}
    page = pat.get(f"/t/shop/portal/partner/registrations/{reg}").text
    assert "Conflicts with an existing customer." in page and "Alice" not in page


def test_open_deal_owned_by_a_rep_conflicts(app: Any, shop: Any, alice: Any, pat: Any) -> None:
    _rep_deal(app, alice)
    reg = registration_id(register(pat, company="Alpha Ltd"))
    assert _kinds(app, shop, reg) == {"account", "deal"}
    page = pat.get(f"/t/shop/portal/partner/registrations/{reg}").text
    assert "Rep&#39;s deal" not in page and "Rep's deal" not in page
    assert "Owner of shop" not in page
    review = owner_client(app, shop).get("/t/shop/portal-settings/channel/").text
    assert "Open deal of a rep" in review


def test_a_deal_without_an_owner_is_no_rep_conflict(
    app: Any, shop: Any, alice: Any, pat: Any
) -> None:
    _rep_deal(app, alice, owned=False)
    reg = registration_id(register(pat, company="Alpha Ltd"))
    assert _kinds(app, shop, reg) == {"account"}


def test_another_partners_registration_conflicts(
    app: Any, shop: Any, acme_partner: str, pat: Any
) -> None:
    first = registration_id(register(pat, company="Zeta GmbH"))
    assert _kinds(app, shop, first) == set()
    other = partner_org(app, shop, "Bravo Distribution")
    quinn = partner_client(app, shop, other, "quinn@bravo.example")
    second = registration_id(register(quinn, company="zeta  gmbh", contact_email="z@zeta.example"))
    assert _kinds(app, shop, second) == {"registration"}
    page = quinn.get(f"/t/shop/portal/partner/registrations/{second}").text
    assert "Conflicts with another registration." in page and "Acme" not in page
    # a rejected registration no longer holds the company
    assert decide(app, shop, first, "reject", {"reason": "Duplicate"}).status_code == 303
    third = registration_id(register(quinn, company="Zeta GmbH", contact_email="y@zeta.example"))
    assert _kinds(app, shop, third) == set()  # her own partner's earlier one is no conflict


def test_approve_creates_the_deal_once(app: Any, shop: Any, pat: Any) -> None:
    reg = registration_id(register(pat))
    answer = decide(app, shop, reg, "approve", {"create_deal": "1"})
    assert answer.status_code == 303, answer.text
    row = registration_row(app, shop, reg)
    assert row["status"] == "approved" and row["deal_id"] is not None
    assert row["expires_on"] == date.today() + timedelta(days=90)
    assert row["decided_by_id"] is not None
    status, amount = deal_state(app, shop, str(row["deal_id"]))
    assert status == "open" and amount == Decimal("25000.00")
    from crm_platform.customers import Account, Contact
    from plugins.sfa.models import Deal

    with in_tenant(app, shop) as session:
        deal = session.scalars(select(Deal).where(Deal.id == row["deal_id"])).unique().one()
        assert "Acme Resellers" in deal.name and deal.owner_id is not None
        account = session.get(Account, (shop.id, row["account_id"]))
        assert account is not None and account.name == "Newco Industries"
        contact = session.scalars(select(Contact).where(Contact.id == row["contact_id"])).one()
        assert contact.email == "nina@newco.example" and contact.account_id == account.id
    again = decide(app, shop, reg, "approve", {"create_deal": "1"})
    assert again.status_code == 409 and "already decided" in again.text
    with in_tenant(app, shop) as session:
        assert session.scalar(select(func.count()).select_from(Deal)) == 1
    assert len(events(app, shop, "portal.registration_approved")) == 1
    staff = owner_client(app, shop)
    assert "Newco Industries" not in staff.get("/t/shop/portal-settings/channel/").text
    approved = staff.get("/t/shop/portal-settings/channel/?status=approved").text
    assert "Newco Industries" in approved and "Acme Resellers" in approved
    mail = last_mail(app, "pat@acme-resellers.example")
    assert "approved" in mail.subject and "Newco Industries" in mail.subject
    page = pat.get(f"/t/shop/portal/partner/registrations/{reg}").text
    assert 'id="shared-deal"' in page and "25,000.00 EUR" in page
    # the deal's stage name, and nothing else of the deal (not its owner)
    with in_tenant(app, shop) as session:
        deal = session.scalars(select(Deal).where(Deal.id == row["deal_id"])).unique().one()
        assert deal.stage.name in page
    assert "Owner of shop" not in page


def test_approve_without_a_deal_uses_existing_records(
    app: Any, shop: Any, alice: Any, pat: Any
) -> None:
    reg = registration_id(register(pat, company="Alpha Ltd", contact_email=alice.email))
    assert decide(app, shop, reg, "approve", {}).status_code == 303
    row = registration_row(app, shop, reg)
    assert row["status"] == "approved" and row["deal_id"] is None
    reg2 = registration_id(register(pat, company="Alpha Ltd", contact_email=alice.email))
    assert decide(app, shop, reg2, "approve", {"create_deal": "1"}).status_code == 303
    row2 = registration_row(app, shop, reg2)
    assert str(row2["account_id"]) == alice.account_id  # matched, not duplicated
    assert str(row2["contact_id"]) == alice.contact_id


def test_reject_needs_a_reason_and_tells_the_partner(app: Any, shop: Any, pat: Any) -> None:
    reg = registration_id(register(pat))
    empty = decide(app, shop, reg, "reject", {"reason": "  "})
    assert empty.status_code == 400 and "Say why the registration is rejected." in empty.text
    assert registration_row(app, shop, reg)["status"] == "pending"
    answer = decide(app, shop, reg, "reject", {"reason": "We already work with Newco."})
    assert answer.status_code == 303
    row = registration_row(app, shop, reg)
    assert row["status"] == "rejected" and row["reason"] == "We already work with Newco."
    assert row["deal_id"] is None
    assert [e.details["reason"] for e in events(app, shop, "portal.registration_rejected")] == [
        "We already work with Newco."
    ]
    assert "We already work with Newco." in last_mail(app, "pat@acme-resellers.example").body
    page = pat.get(f"/t/shop/portal/partner/registrations/{reg}").text
    assert "rejected" in page and "We already work with Newco." in page
    late = decide(app, shop, reg, "approve", {"create_deal": "1"})
    assert late.status_code == 409 and registration_row(app, shop, reg)["status"] == "rejected"


def test_expiry_job_expires_approved_registrations_unless_won(
    app: Any, shop: Any, pat: Any
) -> None:
    from crm_platform.schedules import enqueue_due_schedules
    from crm_platform.testing import run_jobs
    from plugins.portal.partner_models import DealRegistration
    from plugins.sfa.deals import move_deal
    from plugins.sfa.models import Deal, Stage

    staff = owner_client(app, shop)
    token_page = "/t/shop/portal-settings/channel/partners"
    from .partner_helpers import post_staff

    saved = post_staff(
        staff, "/t/shop/portal-settings/channel/settings", {"days": "30"}, token_page
    )
    assert saved.status_code == 303
    lapsing = registration_id(register(pat, company="Lapse Co", contact_email="l@lapse.example"))
    winning = registration_id(register(pat, company="Win Co", contact_email="w@win.example"))
    fresh = registration_id(register(pat, company="Fresh Co", contact_email="f@fresh.example"))
    early = registration_id(register(pat, company="Early Co", contact_email="e@early.example"))
    pending = registration_id(register(pat, company="Wait Co", contact_email="p@wait.example"))
    for reg in (lapsing, winning, fresh, early):
        assert decide(app, shop, reg, "approve", {"create_deal": "1"}).status_code == 303
    assert registration_row(app, shop, fresh)["expires_on"] == date.today() + timedelta(days=30)
    with in_tenant(app, shop) as session:
        for reg in (lapsing, winning, pending):
            row = session.scalars(
                select(DealRegistration).where(DealRegistration.id == uuid.UUID(reg))
            ).one()
            row.expires_on = date.today() - timedelta(days=1)
        for reg in (winning, early):  # early: won before its day came
            won_deal_id = registration_row(app, shop, reg)["deal_id"]
            deal = session.scalars(select(Deal).where(Deal.id == won_deal_id)).unique().one()
            won = session.scalars(
                select(Stage).where(Stage.pipeline_id == deal.pipeline_id, Stage.outcome == "won")
            ).first()
            move_deal(deal, str(won.id))
        session.commit()
    queued = enqueue_due_schedules(app, force=True)
    assert queued["portal.expire_registrations"] >= 1
    run_jobs(app)
    assert registration_row(app, shop, lapsing)["status"] == "expired"
    assert registration_row(app, shop, winning)["status"] == "won"
    assert registration_row(app, shop, fresh)["status"] == "approved"
    assert registration_row(app, shop, early)["status"] == "won"
    assert registration_row(app, shop, pending)["status"] == "pending"
    # once expired, the company is free for other partners again
    from plugins.portal.registration import find_conflicts

    with in_tenant(app, shop):
        kinds = {c["kind"] for c in find_conflicts("Lapse Co", None, partner_id=uuid.uuid4())}
        assert "registration" not in kinds


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"company": "  "}, "company", "Enter the company&#39;s name."),
        ({"amount": "-5"}, "amount", "The amount cannot be negative."),
        ({"amount": "lots"}, "amount", "Enter an amount"),
        ({"contact_email": "not-an-address"}, "contact_email", ""),
        ({"currency": "euro"}, "currency", "three-letter currency code"),
        (
            {"expected_close": (date.today() - timedelta(days=1)).isoformat()},
            "expected_close",
            "The expected close date is in the past.",
        ),
        ({"expected_close": "31/12/2030"}, "expected_close", "YYYY-MM-DD"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    app: Any, shop: Any, pat: Any, changes: dict[str, str], field: str, message: str
) -> None:
    response = register(pat, **changes)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text and message in response.text
    assert registration_count(app, shop) == 0
    assert events(app, shop, "portal.registration_sent") == []


def test_form_shows_every_problem_at_once(app: Any, shop: Any, pat: Any) -> None:
    response = register(pat, company="", amount="-1", contact_email="x@", expected_close="")
    assert response.status_code == 400
    for field in ("company", "amount", "contact_email", "expected_close"):
        assert f'id="{field}-error"' in response.text
    assert registration_count(app, shop) == 0


def test_member_may_not_review_registrations(app: Any, shop: Any, pat: Any) -> None:
    from conftest import login

    from crm_platform.provisioning import add_member, create_user

    with app.app_context():
        from crm_platform.extensions import db

        user = create_user("mia@shop.example", "Mia Member", "member-pass-Zebra-42")
        db.session.commit()
        uid = user.id
    with in_tenant(app, shop) as session:
        from crm_platform.identity import Tenant

        add_member(session.get(Tenant, shop.id), session.get(User, uid), "member")
        session.commit()
    reg = registration_id(register(pat))
    member = app.test_client()
    assert login(member, "mia@shop.example", "member-pass-Zebra-42").status_code == 302
    assert member.get("/t/shop/portal-settings/channel/").status_code == 403
    assert member.get(f"/t/shop/portal-settings/channel/registrations/{reg}").status_code == 403
