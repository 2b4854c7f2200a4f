"""Must-show of the partner portal: a channel manager adds a partner and invites its user;
the partner registers a deal for a company the workspace already has (the conflict is shown
to the manager, only a summary to the partner) and a new one; the manager rejects the first
with a reason and approves the second, which opens a deal in Sales; the partner sees both
decisions and the deal's stage."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from portal.helpers import customer, workspace

from .browser import PHONE, new_page
from .journeys import admin_link, sign_in

pytestmark = pytest.mark.browser
PASSWORD = "partner-pass-Otter-77"


def register(phone: Page, company: str, email: str, amount: str) -> None:
    """The partner fills in and sends the registration form."""
    phone.get_by_role("main").get_by_role("link", name="Register a deal").click()
    phone.get_by_label("Company").fill(company)
    phone.get_by_label("Contact name").fill("Nina Newman")
    phone.get_by_label("Contact e-mail").fill(email)
    phone.get_by_label("Expected amount").fill(amount)
    phone.get_by_label("Currency").fill("EUR")
    close = (date.today() + timedelta(days=45)).isoformat()
    phone.get_by_label("Expected close date").fill(close)
    phone.get_by_role("button", name="Send registration").click()
    expect(phone.get_by_role("heading", name=company)).to_be_visible()


def test_partner_registers_deals_and_the_manager_decides(
    page: Page, browser: Browser, live_server: str, app: Flask
) -> None:
    shop = workspace(app, "shop")
    customer(app, shop, "Alice", "alice@alpha.example", "Alpha Ltd")

    # -- the owner adds a partner organisation and invites its user
    page.goto("/login")
    sign_in(page, shop.owner_email)
    admin_link(page, "Deal registrations").click()
    page.get_by_role("link", name="Partners", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Resell Co")
    page.get_by_role("button", name="Add partner").click()
    expect(page.get_by_role("status")).to_have_text("Partner Resell Co added.")
    expect(page.get_by_role("heading", name="Resell Co", level=1)).to_be_visible()
    page.locator("#invite-name").fill("Pat Partner")
    page.locator("#invite-email").fill("pat@resell.example")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_have_text("Invitation sent to pat@resell.example.")
    page.goto("/outbox")
    mail = page.locator("article.mail").filter(has_text="pat@resell.example").first
    link = mail.get_by_role("link").filter(has_text="/portal/invite/").inner_text()

    # -- the partner accepts on a phone and registers two deals
    with new_page(browser, live_server, **PHONE) as phone:
        phone.goto(link.replace("http://localhost", ""))
        phone.get_by_label("Password", exact=True).fill(PASSWORD)
        phone.get_by_label("Repeat the password").fill(PASSWORD)
        phone.get_by_role("button", name="Save password and sign in").click()
        expect(
            phone.get_by_role("heading", name=re.compile("Deal registrations"), level=1)
        ).to_be_visible()
        register(phone, "Alpha Ltd", "buyer@alpha.example", "12000")
        # a conflict, but never whose: only a summary
        expect(phone.locator("#conflicts")).to_contain_text("an existing customer")
        expect(phone.locator("body")).not_to_contain_text("Alice")
        phone.get_by_role("navigation", name="Partner portal").get_by_role(
            "link", name="Deal registrations"
        ).click()
        register(phone, "Newco Industries", "nina@newco.example", "25000")
        expect(phone.locator("#reg-status")).to_have_text("waiting for review")

        # -- the manager sees the conflict, rejects the first, approves the second
        page.goto("/t/shop/")
        admin_link(page, "Deal registrations").click()
        page.get_by_role("link", name="Alpha Ltd").click()
        expect(page.locator("body")).to_contain_text("Alpha Ltd")  # the conflicting account
        page.get_by_label("Reason (told to the partner)").fill("Alpha is our direct customer.")
        page.get_by_role("button", name="Reject").click()
        expect(page.get_by_role("status")).to_have_text("Registration rejected.")
        page.get_by_role("link", name="Deal registrations").first.click()
        page.get_by_role("link", name="Newco Industries").click()
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status")).to_have_text("Registration approved.")
        page.locator("#reg-deal").click()
        expect(page.locator("body")).to_contain_text("Newco Industries")

        # -- the partner sees both decisions and the deal's stage
        phone.reload()
        expect(phone.locator("#reg-status")).to_have_text("approved")
        phone.get_by_role("navigation", name="Partner portal").get_by_role(
            "link", name="Deal registrations"
        ).click()
        rows = phone.locator("#registrations")
        expect(rows).to_contain_text("rejected")
        expect(rows).to_contain_text("approved")
        rows.get_by_role("link", name="Alpha Ltd").click()
        expect(phone.locator("#reg-reason")).to_have_text("Alpha is our direct customer.")


def test_partner_orders_from_its_price_book_and_follows_the_quote(
    page: Page, browser: Browser, live_server: str, app: Flask
) -> None:
    """The manager links the partner's account (found by typing) and price book; the partner
    configures an order on a phone, watching the total follow the quantities, sends it, and
    finds the quote it became, the shared opportunity and the channel activity."""
    from portal.test_channel_sharing import catalogue

    shop = workspace(app, "shop")
    catalogue(app, shop)  # Widget 80 / Gadget 30 EUR in "Partners EUR"; account Acme Resellers

    page.goto("/login")
    sign_in(page, shop.owner_email)
    admin_link(page, "Customer portal").click()
    page.goto("/t/shop/portal-settings/channel/partners")
    page.get_by_label("Name", exact=True).fill("Acme")
    page.get_by_role("button", name="Add partner").click()
    page.get_by_label("Linked account (optional)").fill("acme res")
    options = page.locator("#account-options")
    expect(options).to_contain_text("Acme Resellers GmbH")
    page.get_by_label("Price book for orders").select_option(label="Partners EUR (EUR)")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status")).to_have_text("Partner saved.")
    expect(page.locator("#account-options")).to_contain_text("Acme Resellers GmbH")
    page.locator("#invite-email").fill("pat@acme.example")
    page.get_by_role("button", name="Send invitation").click()
    page.goto("/outbox")
    mail = page.locator("article.mail").filter(has_text="pat@acme.example").first
    link = mail.get_by_role("link").filter(has_text="/portal/invite/").inner_text()

    with new_page(browser, live_server, **PHONE) as phone:
        phone.goto(link.replace("http://localhost", ""))
        phone.get_by_label("Password", exact=True).fill(PASSWORD)
        phone.get_by_label("Repeat the password").fill(PASSWORD)
        phone.get_by_role("button", name="Save password and sign in").click()
        nav = phone.get_by_role("navigation", name="Partner portal")
        nav.get_by_role("link", name="Order", exact=True).click()
        expect(phone.locator("#catalogue")).to_contain_text("80.00 EUR")
        phone.get_by_label("Quantity of Widget").fill("3")
        expect(phone.locator("#order-total")).to_have_text("240.00 EUR")
        phone.get_by_label("Quantity of Gadget").fill("2")
        expect(phone.locator("#order-total")).to_have_text("300.00 EUR")
        phone.get_by_label("Your reference (purchase order number)").fill("PO-9")
        phone.get_by_role("button", name="Send order request").click()
        expect(phone.get_by_role("heading", name="Order request PO-9")).to_be_visible()
        expect(phone.locator("#order-quote")).to_contain_text("being prepared")
        nav.get_by_role("link", name="Opportunities").click()
        expect(phone.locator("#opportunities")).to_contain_text("Order PO-9 (partner Acme)")
        nav.get_by_role("link", name="Deal registrations").click()
        expect(phone.locator("#channel-activity")).to_contain_text("Order request PO-9 became")

    # -- the manager finds the draft quote in Sales, ready to send
    page.goto("/t/shop/portal-settings/channel/activity")
    expect(page.locator("#channel-activity")).to_contain_text("Order request PO-9 became")
