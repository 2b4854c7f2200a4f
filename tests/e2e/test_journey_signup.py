"""A new company's first visit: sign up, confirm by mail, look around, sign out and back in."""

from __future__ import annotations

import re

from conftest import PASSWORD, Factory
from playwright.sync_api import Page, expect

COMPANY, SLUG = "Northwind Traders", "northwind"
OWNER, EMAIL = "Nancy Davolio", "nancy@northwind.example"


def sign_up(page: Page) -> None:
    """From the home page to "check your inbox", through the real sign-up form."""
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Create a workspace").click()
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()
    page.get_by_label("Company name").fill(COMPANY)
    page.get_by_label("Workspace address").fill(SLUG)
    page.get_by_label("Industry").select_option(label="B2B services")
    page.get_by_label("Your name").fill(OWNER)
    page.get_by_label("Work e-mail").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text(f"We sent a message to {EMAIL}")).to_be_visible()


def confirm_from_outbox(page: Page) -> None:
    """Open the outbox, follow the confirmation link, create the workspace."""
    page.get_by_role("link", name="open the outbox").click()
    expect(page.get_by_role("heading", name="Mail outbox")).to_be_visible()
    mail = page.locator("article.mail").filter(has_text="Confirm your new workspace")
    expect(mail).to_contain_text(f"to {EMAIL}")
    mail.get_by_role("link").filter(has_text="/signup/confirm/").click()
    expect(page.get_by_role("heading", name=f"Create {COMPANY}")).to_be_visible()
    expect(page.get_by_text(f"/t/{SLUG}/")).to_be_visible()
    page.get_by_role("button", name="Create my workspace").click()


def sign_in(page: Page, email: str) -> None:
    """Fill and send the sign-in form of the current page."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_up_confirm_browse_sign_out_and_in(page: Page, live_server: str) -> None:
    sign_up(page)
    confirm_from_outbox(page)

    home = f"{live_server}/t/{SLUG}/"
    expect(page).to_have_url(home)
    expect(page.get_by_role("status")).to_have_text("Welcome! Your workspace is ready.")
    expect(page.get_by_role("heading", level=1)).to_have_text(COMPANY)

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

    page.locator("details.user summary").filter(has_text=OWNER).click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")

    page.goto(f"/t/{SLUG}/contacts")  # signed out: the workspace asks to sign in first
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, EMAIL)
    expect(page).to_have_url(f"{home}contacts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    expect(page.locator("details.user summary")).to_have_text(OWNER)


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
