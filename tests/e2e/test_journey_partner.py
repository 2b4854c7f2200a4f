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
        expect(phone.get_by_role("heading", name=re.compile("Deal registrations"))).to_be_visible()
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
