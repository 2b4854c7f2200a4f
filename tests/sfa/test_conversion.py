"""Converting a lead: account, contact and deal in one step and one transaction, the
duplicate check that offers existing customers, and a second conversion refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant
from helpers_records import add
from helpers_sfa import get_lead, lead, stages
from helpers_web import field_error, flashes, post_form
from sqlalchemy import func, select

from crm_platform.customers import Account, Contact
from crm_platform.records.activities import Activity
from plugins.sfa.conversion import AlreadyConverted, convert_lead
from plugins.sfa.leads import log_activity
from plugins.sfa.models import Deal, Lead


def _counts(app: Any, tenant: Any) -> tuple[int, int, int]:
    with in_tenant(app, tenant) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m)) for m in (Account, Contact, Deal)
        )


def _lead_row(session: Any, lead_id: str) -> Lead:
    return session.scalars(select(Lead).where(Lead.id == uuid.UUID(lead_id))).unique().one()


def test_convert_a_lead_in_one_step(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    lead_id = lead(
        app,
        acme,
        name="Ada Lovelace",
        company="Analytical Engines",
        email="ada@engines.example",
        phone="+44 20 7946 0000",
        industry="b2b",
        region="London",
        source="Referral",
    )
    with in_tenant(app, acme) as session:
        log_activity(_lead_row(session, lead_id), {"kind": "call", "subject": "First call"})
        session.commit()
    url = f"/t/acme/sales/leads/{lead_id}/convert"
    page = owner.get(url)
    assert page.status_code == 200 and "Create a new account" in page.text
    done = post_form(
        owner,
        url,
        {
            "account": "new",
            "account_name": "Analytical Engines Ltd",
            "contact": "new",
            "create_deal": "y",
            "deal_name": "Engines: first order",
            "deal_amount": "25000",
            "deal_currency": "GBP",
            "deal_stage_id": s["Proposal"],
            "deal_expected_close": "2031-03-31",
        },
    )
    assert done.status_code == 303
    deal_page = owner.get(done.headers["Location"])
    assert flashes(deal_page.text, "success") == ["“Ada Lovelace” converted."]
    assert "Engines: first order" in deal_page.text and "Proposal" in deal_page.text
    with in_tenant(app, acme) as session:
        account = session.scalars(select(Account)).unique().one()
        contact = session.scalars(select(Contact)).unique().one()
        deal = session.scalars(select(Deal)).unique().one()
        assert (account.name, account.region, account.source) == (
            "Analytical Engines Ltd",
            "London",
            "referral",
        )
        assert (contact.first_name, contact.last_name, contact.email, contact.account_id) == (
            "Ada",
            "Lovelace",
            "ada@engines.example",
            account.id,
        )
        assert (deal.account_id, deal.contact_id, str(deal.amount), deal.currency) == (
            account.id,
            contact.id,
            "25000.00",
            "GBP",
        )
        (moved,) = session.scalars(select(Activity)).unique().all()
        assert (moved.subject, moved.contact_id, moved.done) == ("First call", contact.id, True)
    row = get_lead(app, acme, lead_id)
    assert row["status"] == "converted" and row["converted_deal_id"] is not None
    # The account and contact pages show where they came from and their deal.
    account_page = owner.get(f"/t/acme/accounts/{row['converted_account_id']}").text
    assert "Engines: first order" in account_page
    assert "Converted from the lead Ada Lovelace" in account_page


def test_converting_twice_is_refused_and_changes_nothing(app: Any, owner: Any, acme: Any) -> None:
    lead_id = lead(app, acme, company="Once Inc")
    url = f"/t/acme/sales/leads/{lead_id}/convert"
    assert (
        post_form(owner, url, {"account": "new", "contact": "new", "create_deal": "y"}).status_code
        == 303
    )
    before = _counts(app, acme)
    page = f"/t/acme/sales/leads/{lead_id}"
    again = post_form(owner, url, {"account": "new", "contact": "new"}, page=page)
    assert again.status_code == 303
    assert flashes(owner.get(again.headers["Location"]).text) == [
        "This lead was already converted: nothing was changed."
    ]
    with in_tenant(app, acme) as session, pytest.raises(AlreadyConverted) as refused:
        convert_lead(_lead_row(session, lead_id), {"account": "new", "contact": "new"})
    assert "already converted" in refused.value.errors["lead"]
    assert _counts(app, acme) == before


def test_duplicates_are_offered_and_can_be_linked(app: Any, owner: Any, acme: Any) -> None:
    account_id = add(app, acme, "account", name="Globex Corporation")
    contact_id = add(
        app,
        acme,
        "contact",
        first_name="Hank",
        last_name="Scorpio",
        email="hank@globex.example",
        account_id=account_id,
    )
    lead_id = lead(
        app, acme, name="Hank Scorpio", company="GLOBEX corporation", email="Hank@Globex.example"
    )
    url = f"/t/acme/sales/leads/{lead_id}/convert"
    page = owner.get(url).text
    assert f'value="{account_id}"' in page and "same name" in page
    assert f'value="{contact_id}"' in page and "same e-mail" in page
    before = _counts(app, acme)
    done = post_form(
        owner,
        url,
        {"account": account_id, "contact": contact_id, "create_deal": "y", "deal_amount": "100"},
    )
    assert done.status_code == 303
    accounts, contacts, deals = _counts(app, acme)
    assert (accounts, contacts, deals) == (before[0], before[1], before[2] + 1)
    row = get_lead(app, acme, lead_id)
    assert str(row["converted_account_id"]) == account_id
    assert str(row["converted_contact_id"]) == contact_id


def test_a_failing_conversion_writes_nothing(app: Any, owner: Any, acme: Any) -> None:
    lead_id = lead(app, acme, company="Half Done")
    url = f"/t/acme/sales/leads/{lead_id}/convert"
    response = post_form(
        owner, url, {"account": "new", "contact": "new", "create_deal": "y", "deal_amount": "-5"}
    )
    assert response.status_code == 400
    assert field_error(response.text, "deal_amount") == "The amount cannot be negative."
    assert _counts(app, acme) == (0, 0, 0)  # the account and contact were rolled back too
    assert get_lead(app, acme, lead_id)["status"] == "new"
    other = post_form(owner, url, {"account": str(uuid.uuid4()), "contact": "new"})
    assert other.status_code == 400
    assert field_error(other.text, "account") == "Choose one of the records offered, or create one."
    assert _counts(app, acme) == (0, 0, 0)


def test_convert_without_a_deal(app: Any, acme: Any) -> None:
    lead_id = lead(app, acme, name="Solo", company=None)
    with in_tenant(app, acme) as session:
        done = convert_lead(
            _lead_row(session, lead_id), {"account": "new", "contact": "new", "create_deal": "0"}
        )
        session.commit()
        assert done.deal is None and done.account.name == "Solo"
    assert _counts(app, acme) == (1, 1, 0)
