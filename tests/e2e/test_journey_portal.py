"""Must-show of the Portal module: an admin invites a contact from the contact page; the
customer accepts the invitation from the mail (on a phone), signs in again, opens a request
and sees it, and accepts a quote online; staff see the request and the won deal."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from portal.helpers import customer, quote, workspace

from .browser import PHONE, new_page
from .journeys import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "portal-pass-Zebra-42"


def test_invite_accept_ticket_and_quote(
    page: Page, browser: Browser, live_server: str, app: Flask
) -> None:
    shop = workspace(app, "shop")
    alice = customer(app, shop, "Alice", "alice@alpha.example", "Alpha Ltd")
    offer = quote(app, alice)

    # -- the admin invites Alice from her contact page
    page.goto("/login")
    sign_in(page, shop.owner_email)
    page.goto(f"/t/shop/contacts/{alice.contact_id}")
    portal = page.locator("#portal-access")
    portal.get_by_role("button", name="Invite to portal").click()
    expect(page.get_by_role("status")).to_have_text("Invitation sent to alice@alpha.example.")
    expect(page.locator("#portal-status")).to_have_text("invited")
    page.goto("/outbox")
    mail = page.locator("article.mail").filter(has_text="customer portal").first
    link = mail.get_by_role("link").filter(has_text="/portal/invite/").inner_text()

    # -- Alice accepts on her phone, signs out and in again
    with new_page(browser, live_server, **PHONE) as phone:
        phone.goto(link.replace("http://localhost", ""))
        expect(phone.get_by_role("heading", name="Choose your password")).to_be_visible()
        phone.get_by_label("Password", exact=True).fill(PASSWORD)
        phone.get_by_label("Repeat the password").fill(PASSWORD)
        phone.get_by_role("button", name="Save password and sign in").click()
        expect(phone.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
        phone.get_by_role("button", name="Sign out").click()
        expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
        phone.get_by_label("E-mail").fill(alice.email)
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Sign in").click()
        expect(phone.get_by_role("heading", name="Welcome, Alice")).to_be_visible()

        # -- she opens a request and sees it
        phone.get_by_role("link", name="New request").click()
        phone.get_by_label("Subject").fill("Widget makes a noise")
        phone.get_by_label("How can we help?").fill("It rattles since Monday.")
        phone.get_by_role("button", name="Send request").click()
        expect(
            phone.get_by_role("heading", name=re.compile("Widget makes a noise"))
        ).to_be_visible()
        expect(phone.locator("#thread")).to_contain_text("It rattles since Monday.")
        phone.get_by_role("link", name="Requests").click()
        expect(phone.get_by_role("link", name=re.compile("Widget makes a noise"))).to_be_visible()

        # -- and accepts the quote
        phone.get_by_role("link", name="Quotes").click()
        phone.get_by_role("link", name=re.compile(r"^Q-\d+")).click()
        expect(phone.locator("#quote-total")).to_have_text("300.00 USD")
        phone.get_by_label("I accept this quote and its terms.").check()
        phone.get_by_role("button", name="Accept quote").click()
        expect(phone.get_by_role("status")).to_have_text("Thank you: you accepted this quote.")
        expect(phone.locator("#quote-status")).to_have_text("accepted")

    # -- staff see the request and the won deal
    page.goto("/t/shop/service/")
    row = page.get_by_role("row").filter(has_text="Widget makes a noise")
    expect(row).to_contain_text("Alice")
    page.goto(f"/t/shop/sales/deals/{offer.deal_id}")
    expect(page.locator("body")).to_contain_text("Won")
    page.goto(f"/t/shop/contacts/{alice.contact_id}")
    expect(page.locator("#portal-status")).to_have_text("active")
