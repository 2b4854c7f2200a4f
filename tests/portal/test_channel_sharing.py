"""Shared opportunities (only the exposed fields), the product configurator and its B2B order
requests (which become Sales quotes), the channel activity feed, and the linked-account
picker of the partner form."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from sqlalchemy import func, select

from .helpers import deal_state, owner_client, post
from .partner_helpers import (
    CHANNEL,
    decide,
    partner_client,
    partner_org,
    post_staff,
    register,
    registration_id,
    registration_row,
)

PARTNER = "/t/shop/portal/partner"
STAFF = CHANNEL.format(slug="shop")


def catalogue(app: Any, tenant: Any) -> dict[str, str]:
    """Two products (list prices 100 and 40 EUR), a partner price book at 80 and 30, an
    account for the partner; returns their ids."""
    from crm_platform.records.service import create_record
    from plugins.sfa.products import create_price_book, create_product, set_entry

    with in_tenant(app, tenant) as session:
        widget = create_product(
            {"code": "W-1", "name": "Widget", "unit_price": "100", "currency": "EUR"}
        )
        gadget = create_product(
            {"code": "G-2", "name": "Gadget", "unit_price": "40", "currency": "EUR"}
        )
        retired = create_product(
            {"code": "R-9", "name": "Retired", "unit_price": "5", "currency": "EUR"}
        )
        retired.active = False
        book = create_price_book({"name": "Partners EUR", "currency": "EUR", "active": "1"})
        set_entry(book, widget.id, "80")
        set_entry(book, gadget.id, "30")
        account = create_record("account", {"name": "Acme Resellers GmbH"})
        session.commit()
        return {
            "widget": str(widget.id),
            "gadget": str(gadget.id),
            "retired": str(retired.id),
            "book": str(book.id),
            "account": str(account.id),
        }


def set_up_partner(app: Any, tenant: Any, org: str, ids: dict[str, str]) -> Any:
    """The channel manager links the partner's account and price book on its page."""
    staff = owner_client(app, tenant)
    page = f"{STAFF}/partners/{org}"
    return post_staff(
        staff,
        page,
        {
            "name": ids.get("name", "Acme"),
            "tier": "silver",
            "status": "active",
            "account_id": ids["account"],
            "price_book_id": ids["book"],
        },
    )


@pytest.fixture
def acme(app: Any, shop: Any) -> tuple[str, Any]:
    """A partner organisation Acme and a signed-in user of it."""
    org = partner_org(app, shop, "Acme")
    return org, partner_client(app, shop, org, "pat@acme.example")


def order_rows(app: Any, tenant: Any) -> list[Any]:
    from plugins.portal.partner_models import OrderRequest

    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(OrderRequest)).all()
        session.expunge_all()
        return list(rows)


# --------------------------------------------------------------------------- opportunities


def test_approved_registration_shares_its_deal_with_exposed_fields_only(
    app: Any, shop: Any, acme: tuple[str, Any]
) -> None:
    org, pat = acme
    reg = registration_id(register(pat, company="Newco Industries", amount="25000"))
    assert decide(app, shop, reg, "approve", {"create_deal": "1"}).status_code == 303
    deal_id = str(registration_row(app, shop, reg)["deal_id"])
    listing = pat.get(f"{PARTNER}/opportunities")
    assert listing.status_code == 200
    assert "Newco Industries (partner Acme)" in listing.text
    assert "25,000.00 EUR" in listing.text  # the amount is exposed by default
    assert deal_id not in listing.text  # the partner gets share ids, never deal ids
    # the workspace stops exposing the amount: the partner sees only the stage
    staff = owner_client(app, shop)
    answer = post_staff(
        staff, f"{STAFF}/settings/shared-fields", {"fields": ["stage"]}, page=f"{STAFF}/partners"
    )
    assert answer.status_code == 303
    listing = pat.get(f"{PARTNER}/opportunities").text
    assert "25,000.00" not in listing and "Stage" in listing
    registration_page = pat.get(f"{PARTNER}/registrations/{reg}").text
    assert "25,000.00 EUR" in registration_page  # the partner's own registration amount...
    assert registration_page.count("25,000.00") == 1  # ...but not the deal's amount
    refused = post_staff(
        staff,
        f"{STAFF}/settings/shared-fields",
        {"fields": ["stage", "competitors"]},
        page=f"{STAFF}/partners",
    )
    assert refused.status_code == 303
    assert "Choose among the listed fields." in staff.get(f"{STAFF}/partners").text


def test_channel_manager_shares_and_unshares_a_deal_found_by_search(
    app: Any, shop: Any, acme: tuple[str, Any]
) -> None:
    from helpers_sfa import deal

    org, pat = acme
    deal_id = deal(app, shop, name="Big Rollout", amount="9000", currency="EUR")
    staff = owner_client(app, shop)
    found = staff.get(f"{STAFF}/partners/{org}/deal-search?deal_q=rollout")
    assert found.status_code == 200 and deal_id in found.text and "Big Rollout" in found.text
    nothing = staff.get(f"{STAFF}/partners/{org}/deal-search?deal_q=zzz")
    assert deal_id not in nothing.text and "No open deal matches" in nothing.text
    page = f"{STAFF}/partners/{org}"
    assert post_staff(staff, f"{page}/shares", {"deal_id": deal_id}, page=page).status_code == 303
    post_staff(staff, f"{page}/shares", {"deal_id": deal_id}, page=page)  # twice: one share
    listing = pat.get(f"{PARTNER}/opportunities").text
    assert listing.count("Big Rollout") == 1
    # already shared: the search no longer offers it
    assert deal_id not in staff.get(f"{STAFF}/partners/{org}/deal-search?deal_q=big").text
    bad = post_staff(staff, f"{page}/shares", {"deal_id": str(uuid.uuid4())}, page=page)
    assert bad.status_code == 303
    assert "Choose one of the deals found." in staff.get(page).text
    from plugins.portal.partner_models import DealShare

    with in_tenant(app, shop) as session:
        share_id = session.scalar(select(DealShare.id))
    assert pat.get(f"{PARTNER}/opportunities/{share_id}").status_code == 200
    assert "Opportunity Big Rollout shared with the partner." in pat.get(f"{PARTNER}/").text
    removed = post_staff(staff, f"{page}/shares/{share_id}/delete", {}, page=page)
    assert removed.status_code == 303
    assert pat.get(f"{PARTNER}/opportunities/{share_id}").status_code == 404
    assert "Big Rollout" not in pat.get(f"{PARTNER}/opportunities").text


# --------------------------------------------------------------------------- ordering


def test_order_needs_a_linked_account_and_price_book(
    app: Any, shop: Any, acme: tuple[str, Any]
) -> None:
    _org, pat = acme
    page = pat.get(f"{PARTNER}/order")
    assert page.status_code == 200 and "Ordering is not set up for your organisation" in page.text
    refused = post(pat, f"{PARTNER}/order", {"qty-" + str(uuid.uuid4()): "1"})
    assert refused.status_code == 400 and order_rows(app, shop) == []


def test_configurator_prices_from_the_partners_book_and_the_order_becomes_a_quote(
    app: Any, shop: Any, acme: tuple[str, Any]
) -> None:
    org, pat = acme
    ids = catalogue(app, shop)
    assert set_up_partner(app, shop, org, ids).status_code == 303
    page = pat.get(f"{PARTNER}/order")
    assert page.status_code == 200
    assert "80.00 EUR" in page.text and "30.00 EUR" in page.text  # the book, not list prices
    assert "100.00" not in page.text and "Retired" not in page.text
    # live totals (htmx): 3 widgets and 2 gadgets
    form = {f"qty-{ids['widget']}": "3", f"qty-{ids['gadget']}": "2"}
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    totals = pat.post(
        f"{PARTNER}/order/totals", data={"csrf_token": token, **form}, headers={"HX-Request": "1"}
    )
    assert totals.status_code == 200 and "300.00 EUR" in totals.text
    # bad input: nothing written, every problem shown
    bad = post(
        pat,
        f"{PARTNER}/order",
        {f"qty-{ids['widget']}": "-1", f"qty-{ids['retired']}": "2"},
        page=f"{PARTNER}/order",
    )
    assert bad.status_code == 400
    assert "Enter a whole number from 0 to 100000." in bad.text
    assert "This product is not for sale." in bad.text
    empty = post(pat, f"{PARTNER}/order", {}, page=f"{PARTNER}/order")
    assert empty.status_code == 400 and "Enter a quantity for at least one product." in empty.text
    assert order_rows(app, shop) == []
    sent = post(pat, f"{PARTNER}/order", {**form, "reference": "PO-77"}, page=f"{PARTNER}/order")
    assert sent.status_code == 303, sent.text
    [row] = order_rows(app, shop)
    assert row.total == Decimal("300.00") and row.reference == "PO-77"
    from plugins.sfa.quote_models import Quote, QuoteLine

    with in_tenant(app, shop) as session:
        quote = session.scalars(select(Quote).where(Quote.id == row.quote_id)).unique().one()
        lines = session.scalars(select(QuoteLine).where(QuoteLine.quote_id == quote.id)).all()
        assert quote.status == "draft" and str(quote.price_book_id) == ids["book"]
        assert sorted((ln.quantity, ln.unit_price) for ln in lines) == [
            (Decimal("2"), Decimal("30")),
            (Decimal("3"), Decimal("80")),
        ]
        quote_id = quote.id
    detail = pat.get(sent.location)
    assert "PO-77" in detail.text and "being prepared" in detail.text
    assert "Order PO-77 (partner Acme)" in pat.get(f"{PARTNER}/opportunities").text
    assert "Order request PO-77 became quote" in pat.get(f"{PARTNER}/").text
    # Sales sends the quote; the partner accepts it online and the deal is won
    from plugins.sfa.quotes import mark_sent

    with in_tenant(app, shop) as session:
        mark_sent(session.scalars(select(Quote).where(Quote.id == quote_id)).unique().one())
        session.commit()
    detail = pat.get(sent.location)
    assert "Accept the quote" in detail.text
    accepted = post(pat, f"{sent.location}/accept", {}, page=sent.location)
    assert accepted.status_code == 303
    assert deal_state(app, shop, str(row.deal_id))[0] == "won"
    again = post(pat, f"{sent.location}/accept", {}, page=sent.location)
    assert again.status_code == 409


def test_partner_price_book_must_be_an_active_book(
    app: Any, shop: Any, acme: tuple[str, Any]
) -> None:
    org, _pat = acme
    ids = catalogue(app, shop)
    answer = set_up_partner(app, shop, org, {**ids, "book": str(uuid.uuid4())})
    assert answer.status_code == 400 and "Choose one of the active price books." in answer.text


# --------------------------------------------------------------------------- feed, picker


def test_channel_feed_is_scoped_to_the_partner_and_its_tier(app: Any, shop: Any) -> None:
    x_org = partner_org(app, shop, "Xenon", tier="gold")
    y_org = partner_org(app, shop, "Yttrium", tier="silver")
    xavier = partner_client(app, shop, x_org, "x@xenon.example")
    yara = partner_client(app, shop, y_org, "y@yttrium.example")
    reg = registration_id(register(xavier, company="Xavier's Prospect"))
    decide(app, shop, reg, "reject", {"reason": "Known customer."})
    staff = owner_client(app, shop)
    page = f"{STAFF}/announcements"
    post_staff(staff, page, {"title": "Gold promo", "body": "x", "tier": "gold"})
    post_staff(staff, page, {"title": "For everyone", "body": "y", "tier": ""})
    x_home, y_home = xavier.get(f"{PARTNER}/").text, yara.get(f"{PARTNER}/").text
    assert "Deal registration sent for Xavier&#39;s Prospect." in x_home
    assert "Deal registration for Xavier&#39;s Prospect rejected." in x_home
    assert "Announcement: Gold promo" in x_home and "Announcement: For everyone" in x_home
    assert "Xavier" not in y_home and "Gold promo" not in y_home
    assert "Announcement: For everyone" in y_home
    feed = staff.get(f"{STAFF}/activity")
    assert feed.status_code == 200 and "Xavier&#39;s Prospect" in feed.text and "Xenon" in feed.text
    only_y = staff.get(f"{STAFF}/activity?partner={y_org}").text
    assert "Xavier" not in only_y


def test_linked_account_is_picked_by_search(app: Any, shop: Any) -> None:
    from crm_platform.records.service import create_record

    with in_tenant(app, shop) as session:
        account = create_record("account", {"name": "Omega Distribution"})
        session.commit()
        account_id = str(account.id)
    staff = owner_client(app, shop)
    options = staff.get(f"{STAFF}/accounts/search?account_q=omega")
    assert options.status_code == 200
    assert f'value="{account_id}"' in options.text and "Omega Distribution" in options.text
    assert "No account matches" in staff.get(f"{STAFF}/accounts/search?account_q=zzz").text
    made = post_staff(staff, f"{STAFF}/partners", {"name": "Omega", "account_id": account_id})
    assert made.status_code == 303
    page = staff.get(made.location).text
    assert f'<option value="{account_id}" selected>Omega Distribution</option>' in page
    from plugins.portal.partner_models import PartnerOrg

    with in_tenant(app, shop) as session:
        assert session.scalar(select(func.count()).select_from(PartnerOrg)) == 1
