"""What a customer does in the portal, through the owning modules' own services: requests
(staff replies shown, internal notes never), the help centre, orders, quotes (PDF, accept
online: the deal is won once), their details and mail preferences; sections follow the
workspace's modules; branding set by admins."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from conftest import csrf_token_from, in_tenant, login
from helpers_web import events
from sqlalchemy import select

from crm_platform.customers import Contact
from crm_platform.records.service import create_record

from .helpers import (
    Customer,
    customer,
    deal_state,
    order,
    owner_client,
    portal_client,
    post,
    quote,
    switch,
    ticket,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_tickets_list_read_reply_and_open(app: Any, shop: Any, alice: Any) -> None:
    tid = ticket(app, alice, "Broken widget", answer="We are on it.", note="VIP, be nice")
    client = portal_client(app, alice)
    listing = client.get("/t/shop/portal/tickets")
    assert listing.status_code == 200 and "Broken widget" in listing.text
    page = client.get(f"/t/shop/portal/tickets/{tid}").text
    assert "We are on it." in page and "Please help." in page
    assert "VIP" not in page  # internal notes never reach the customer
    reply_url, page_url = f"/t/shop/portal/tickets/{tid}/reply", f"/t/shop/portal/tickets/{tid}"
    answer = post(client, reply_url, {"body": "Thanks!"}, page=page_url)
    assert answer.status_code == 303
    assert "Thanks!" in client.get(f"/t/shop/portal/tickets/{tid}").text
    empty = post(client, reply_url, {"body": "  "}, page=page_url)
    assert empty.status_code == 400 and "Write a message." in empty.text

    bad = post(client, "/t/shop/portal/tickets/new", {"subject": "", "description": ""})
    assert bad.status_code == 400 and "Enter a subject." in bad.text
    made = post(
        client, "/t/shop/portal/tickets/new", {"subject": "Invoice copy", "description": "Pls"}
    )
    assert made.status_code == 303
    from plugins.service.models import Ticket

    with in_tenant(app, shop) as session:
        row = session.scalars(select(Ticket).where(Ticket.subject == "Invoice copy")).one()
        assert row.channel == "portal"
        assert str(row.contact_id) == alice.contact_id
        assert str(row.account_id) == alice.account_id
    staff = owner_client(app, shop)
    assert "Invoice copy" in staff.get("/t/shop/service/").text


def test_help_centre_shows_public_articles_only(app: Any, shop: Any, alice: Any) -> None:
    from plugins.service.kb import create_article

    with in_tenant(app, shop) as session:
        public = create_article(
            {
                "title": "Reset the widget",
                "body": "Hold the button.",
                "visibility": "public",
                "status": "published",
            }
        )
        internal = create_article(
            {
                "title": "Escalation secrets",
                "body": "x",
                "visibility": "internal",
                "status": "published",
            }
        )
        session.commit()
        public_id, internal_id = str(public.id), str(internal.id)
    client = portal_client(app, alice)
    listing = client.get("/t/shop/portal/help").text
    assert "Reset the widget" in listing and "Escalation secrets" not in listing
    assert "Hold the button." in client.get(f"/t/shop/portal/help/{public_id}").text
    assert client.get(f"/t/shop/portal/help/{internal_id}").status_code == 404


def test_orders(app: Any, shop: Any, alice: Any) -> None:
    oid = order(app, alice, "SO-1001", status="paid")
    client = portal_client(app, alice)
    listing = client.get("/t/shop/portal/orders").text
    assert "SO-1001" in listing and "100.00 USD" in listing
    detail = client.get(f"/t/shop/portal/orders/{oid}")
    assert detail.status_code == 200 and "Widget" in detail.text
    assert re.search(r'id="order-status">[Pp]aid<', detail.text)


def test_quote_pdf_and_accept_online_wins_the_deal_once(app: Any, shop: Any, alice: Any) -> None:
    sent = quote(app, alice)
    draft = quote(app, alice, sent=False)
    client = portal_client(app, alice)
    listing = client.get("/t/shop/portal/quotes").text
    assert f"/quotes/{sent.id}" in listing and f"/quotes/{draft.id}" not in listing
    assert client.get(f"/t/shop/portal/quotes/{draft.id}").status_code == 404
    page = client.get(f"/t/shop/portal/quotes/{sent.id}")
    assert page.status_code == 200 and "Accept quote" in page.text
    pdf = client.get(f"/t/shop/portal/quotes/{sent.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")

    url = f"/t/shop/portal/quotes/{sent.id}/accept"
    unticked = post(client, url, {}, page=f"/t/shop/portal/quotes/{sent.id}")
    assert unticked.status_code == 400 and deal_state(app, shop, sent.deal_id)[0] == "open"
    accepted = post(client, url, {"agree": "1"}, page=f"/t/shop/portal/quotes/{sent.id}")
    assert accepted.status_code == 303
    assert deal_state(app, shop, sent.deal_id) == ("won", Decimal("300.00"))
    shown = client.get(accepted.location).text
    assert "you accepted this quote" in shown and "Accept quote" not in shown
    token = csrf_token_from(client.get("/t/shop/portal/").text)
    again = client.post(url, data={"csrf_token": token, "agree": "1"})
    assert again.status_code == 409 and "already decided" in again.text
    audit = events(app, shop, "portal.quote_accepted")
    assert len(audit) == 1
    staff = owner_client(app, shop)
    assert "Won" in staff.get(f"/t/shop/sales/deals/{sent.deal_id}").text


def test_an_expired_quote_cannot_be_accepted(app: Any, shop: Any, alice: Any) -> None:
    from datetime import date, timedelta

    from plugins.sfa.quote_models import Quote

    offer = quote(app, alice)
    with in_tenant(app, shop) as session:
        row = session.scalars(select(Quote).where(Quote.id == uuid.UUID(offer.id))).one()
        row.valid_until = date.today() - timedelta(days=1)
        session.commit()
    client = portal_client(app, alice)
    page = f"/t/shop/portal/quotes/{offer.id}"
    shown = client.get(page).text
    assert 'id="quote-expired"' in shown and "Accept quote" not in shown
    refused = post(client, page + "/accept", {"agree": "1"}, page=page)
    assert refused.status_code == 400 and "expired on" in refused.text
    assert deal_state(app, shop, offer.deal_id)[0] == "open"


def test_details_update_through_the_records_service(app: Any, shop: Any, alice: Any) -> None:
    client = portal_client(app, alice)
    page = client.get("/t/shop/portal/profile")
    assert page.status_code == 200 and 'value="Alice"' in page.text
    bad = post(client, "/t/shop/portal/profile", {"first_name": "", "phone": "call me"})
    assert bad.status_code == 400
    assert 'id="first_name-error"' in bad.text and 'id="phone-error"' in bad.text
    good = post(
        client,
        "/t/shop/portal/profile",
        {
            "first_name": "Alicia",
            "last_name": "Smith",
            "phone": "+44 20 7946 0958",
            "address": "1 High St\nLondon",
        },
    )
    assert good.status_code == 200 and "Your details are saved." in good.text
    with in_tenant(app, shop) as session:
        row = session.scalars(
            select(Contact).where(Contact.id == uuid.UUID(alice.contact_id))
        ).one()
        assert (row.first_name, row.last_name, row.address) == (
            "Alicia",
            "Smith",
            "1 High St\nLondon",
        )
        assert row.phone and row.phone.replace(" ", "").endswith("2079460958")
        assert row.email == alice.email  # not editable here


def test_mail_preferences_through_marketing(app: Any, shop: Any, alice: Any) -> None:
    from plugins.marketing.suppression import scopes_of

    client = portal_client(app, alice)
    page = client.get("/t/shop/portal/preferences").text
    assert 'value="newsletter" checked' in page
    kept = post(client, "/t/shop/portal/preferences", {"topic": ["promotions", "events"]})
    assert kept.status_code == 200
    with in_tenant(app, shop):
        assert scopes_of(alice.email) == {"newsletter"}
    post(client, "/t/shop/portal/preferences", {"none": "1"})
    with in_tenant(app, shop):
        assert "all" in scopes_of(alice.email)
    post(client, "/t/shop/portal/preferences", {"topic": ["newsletter", "promotions", "events"]})
    with in_tenant(app, shop):
        assert scopes_of(alice.email) == set()


def test_sections_follow_the_modules(app: Any, shop: Any, alice: Any) -> None:
    tid = ticket(app, alice, "Hello")
    q = quote(app, alice)
    client = portal_client(app, alice)
    home = client.get("/t/shop/portal/").text
    for label in ("Requests", "Quotes", "Mail preferences", "Help"):
        assert f">{label}</a>" in home
    switch(app, shop, "marketing", False)
    switch(app, shop, "service", False)
    switch(app, shop, "sfa", False)
    home = client.get("/t/shop/portal/").text
    for label in ("Requests", "Quotes", "Mail preferences", "Help"):
        assert f">{label}</a>" not in home
    assert ">Orders</a>" in home
    for url in (
        "/t/shop/portal/tickets",
        "/t/shop/portal/tickets/new",
        f"/t/shop/portal/tickets/{tid}",
        "/t/shop/portal/help",
        "/t/shop/portal/quotes",
        f"/t/shop/portal/quotes/{q.id}",
        f"/t/shop/portal/quotes/{q.id}/pdf",
        "/t/shop/portal/preferences",
    ):
        assert client.get(url).status_code == 404, url
    switch(app, shop, "portal", False)
    for url in ("/t/shop/portal/", "/t/shop/portal/sign-in", "/t/shop/portal/orders"):
        assert client.get(url).status_code == 404, url
    staff = owner_client(app, shop)
    assert staff.get("/t/shop/portal-settings/").status_code == 404


def test_account_scope_shows_the_whole_account(app: Any, shop: Any, alice: Any) -> None:
    def colleague(first: str) -> Customer:
        with in_tenant(app, shop) as session:
            row = create_record(
                "contact",
                {
                    "first_name": first,
                    "email": f"{first}@alpha.example",
                    "account_id": alice.account_id,
                },
            )
            session.commit()
            return Customer(shop, f"{first}@alpha.example", str(row.id), alice.account_id)

    tid = ticket(app, alice, "Alice's own request")
    oid = order(app, alice, "SO-7")
    narrow = portal_client(app, colleague("al"))
    assert narrow.get(f"/t/shop/portal/tickets/{tid}").status_code == 404
    assert narrow.get(f"/t/shop/portal/orders/{oid}").status_code == 404
    wide = portal_client(app, colleague("ann"), scope="account")
    assert wide.get(f"/t/shop/portal/tickets/{tid}").status_code == 200
    assert wide.get(f"/t/shop/portal/orders/{oid}").status_code == 200


def test_branding_settings(app: Any, shop: Any, alice: Any, factory: Any) -> None:
    staff = owner_client(app, shop)
    assert "Customer portal" in staff.get("/t/shop/").text
    page = "/t/shop/portal-settings/"
    token = csrf_token_from(staff.get(page).text)

    def save(**data: Any) -> Any:
        return staff.post(
            page, data={"csrf_token": token, **data}, content_type="multipart/form-data"
        )

    bad = save(colour="red", title="x" * 81)
    assert (
        bad.status_code == 400
        and 'id="colour-error"' in bad.text
        and 'id="title-error"' in bad.text
    )
    from io import BytesIO

    svg = save(colour="#112233", logo=(BytesIO(b"<svg onload=alert(1)>"), "logo.svg"))
    assert svg.status_code == 400 and "PNG, JPEG, GIF or WebP" in svg.text
    huge = save(colour="#112233", logo=(BytesIO(PNG + b"\x00" * 300_000), "big.png"))
    assert huge.status_code == 400 and "256 KB" in huge.text
    ok = save(
        colour="#112233", title="Shop Care", welcome="Hello there", logo=(BytesIO(PNG), "logo.png")
    )
    assert ok.status_code == 303
    client = portal_client(app, alice)
    home = client.get("/t/shop/portal/").text
    assert "Shop Care" in home and "--brand: #112233" in home and "Hello there" in home
    logo_url = re.search(r'src="(/t/shop/portal/logo[^"]*)"', home).group(1)
    logo = client.get(logo_url.replace("&amp;", "&"))
    assert logo.status_code == 200 and logo.mimetype == "image/png" and logo.data == PNG
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/t/shop/portal/portal.css").mimetype == "text/css"

    factory.member(shop, "rep@shop.example", "member")
    rep = app.test_client()
    login(rep, "rep@shop.example")
    assert rep.get(page).status_code == 403
    panel = rep.get(f"/t/shop/contacts/{alice.contact_id}").text
    assert 'id="portal-status">active<' in panel and "Disable portal access" not in panel
    assert "Disable portal access" in staff.get(f"/t/shop/contacts/{alice.contact_id}").text


def test_customer_of_another_account_is_a_stranger(app: Any, shop: Any, alice: Any) -> None:
    """Sanity of the fixtures the isolation tests build on."""
    other = customer(app, shop, "Zed", "zed@zeta.example", "Zeta")
    assert other.account_id != alice.account_id


def test_scope_follows_the_contact_as_it_is_now(app: Any, shop: Any, alice: Any, bob: Any) -> None:
    from crm_platform.records.service import delete_record, update_record

    bobs_ticket = ticket(app, bob, "Beta's request")
    client = portal_client(app, alice, scope="account")
    assert client.get(f"/t/shop/portal/tickets/{bobs_ticket}").status_code == 404
    with in_tenant(app, shop) as session:  # Alice moves to Beta
        row = session.scalars(
            select(Contact).where(Contact.id == uuid.UUID(alice.contact_id))
        ).one()
        update_record(row, {"account_id": bob.account_id})
        session.commit()
    assert client.get(f"/t/shop/portal/tickets/{bobs_ticket}").status_code == 200
    with in_tenant(app, shop) as session:  # her contact is deleted: she sees nothing
        row = session.scalars(
            select(Contact).where(Contact.id == uuid.UUID(alice.contact_id))
        ).one()
        delete_record(row)
        session.commit()
    assert client.get(f"/t/shop/portal/tickets/{bobs_ticket}").status_code == 404
    assert bobs_ticket not in client.get("/t/shop/portal/tickets").text
    assert client.get("/t/shop/portal/profile").status_code == 404
