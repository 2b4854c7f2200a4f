"""A new company's first visit: sign up, confirm by mail, look around, sign out and back in."""

from __future__ import annotations

import re

from conftest import Factory
from playwright.sync_api import Page, expect

from .journeys import Company, sign_in, sign_up_and_confirm

NORTHWIND = Company("Northwind Traders", "northwind", "Nancy Davolio", "nancy@northwind.example")


def test_sign_up_confirm_browse_sign_out_and_in(page: Page, live_server: str) -> None:
    home = sign_up_and_confirm(page, NORTHWIND, live_server)

    nav = page.locator("nav.mainnav.wide")
    nav.get_by_role("link", name="Accounts").click()
    expect(page).to_have_url(f"{home}accounts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts")
    expect(page.get_by_text("No accounts yet.")).to_be_visible()
    expect(nav.get_by_role("link", name="Accounts")).to_have_attribute("aria-current", "page")

    nav.get_by_role("link", name="Contacts").click()
    expect(page).to_have_url(f"{home}contacts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    expect(page.get_by_text("No contacts yet.")).to_be_visible()

    page.locator("details.user summary").filter(has_text=NORTHWIND.owner).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    page.goto(f"/t/{NORTHWIND.slug}/contacts")  # signed out: the workspace asks to sign in first
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, NORTHWIND.email)
    expect(page).to_have_url(f"{home}contacts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    expect(page.locator("details.user summary")).to_have_text(NORTHWIND.owner)


def test_phone_menu_opens_and_reaches_a_page(
    phone_page: Page, live_server: str, factory: Factory
) -> None:
    tenant = factory.tenant("pocket", name="Pocket Co")
    phone_page.goto("/login")
    sign_in(phone_page, tenant.owner_email)
    expect(phone_page.get_by_role("heading", level=1)).to_have_text("Pocket Co")

    wide_nav = phone_page.locator("nav.mainnav.wide")
    menu = phone_page.locator("details.nav-toggle")
    expect(wide_nav).to_be_hidden()
    expect(menu.get_by_role("link", name="Contacts")).to_be_hidden()

    menu.get_by_text("Menu").click()
    expect(menu).to_have_attribute("open", "")
    menu.get_by_role("link", name="Contacts").click()
    expect(phone_page).to_have_url(f"{live_server}/t/pocket/contacts")
    expect(phone_page.get_by_role("heading", level=1)).to_have_text("Contacts")
