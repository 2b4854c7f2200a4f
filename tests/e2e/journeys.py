"""Steps that several browser journeys share: sign up, confirm by mail, sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conftest import PASSWORD
from playwright.sync_api import Page, expect


@dataclass(frozen=True)
class Company:
    """A company signing up, and its owner."""

    name: str
    slug: str
    owner: str
    email: str
    industry: str = "B2B services"


def sign_up(page: Page, company: Company) -> None:
    """From the home page to "check your inbox", through the real sign-up form."""
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Create a workspace").click()
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()
    page.get_by_label("Company name").fill(company.name)
    page.get_by_label("Workspace address").fill(company.slug)
    page.get_by_label("Industry").select_option(label=company.industry)
    page.get_by_label("Your name").fill(company.owner)
    page.get_by_label("Work e-mail").fill(company.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text(f"We sent a message to {company.email}")).to_be_visible()


def confirm_from_outbox(page: Page, company: Company) -> None:
    """Open the outbox, follow the confirmation link, create the workspace."""
    page.get_by_role("link", name="open the outbox").click()
    expect(page.get_by_role("heading", name="Mail outbox")).to_be_visible()
    mail = page.locator("article.mail").filter(has_text="Confirm your new workspace")
    expect(mail).to_contain_text(f"to {company.email}")
    mail.get_by_role("link").filter(has_text="/signup/confirm/").click()
    expect(page.get_by_role("heading", name=f"Create {company.name}")).to_be_visible()
    expect(page.get_by_text(f"/t/{company.slug}/")).to_be_visible()
    page.get_by_role("button", name="Create my workspace").click()


def sign_up_and_confirm(page: Page, company: Company, base_url: str) -> str:
    """Sign up, confirm from the outbox, land in the new workspace; its home URL."""
    sign_up(page, company)
    confirm_from_outbox(page, company)
    home = f"{base_url}/t/{company.slug}/"
    expect(page).to_have_url(home)
    expect(page.get_by_role("status")).to_have_text("Welcome! Your workspace is ready.")
    expect(page.get_by_role("heading", level=1)).to_have_text(company.name)
    return home


def sign_in(page: Page, email: str) -> None:
    """Fill and send the sign-in form of the current page."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def htmx_settled(page: Page) -> None:
    """Wait until htmx has no request in flight and has processed what it last swapped in
    (a person is never quicker than that; a test that is may act on a stale element)."""
    page.wait_for_function(
        "() => !document.querySelector("
        "'.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def admin_link(page: Page, name: str) -> Any:
    """A link of the top bar's *Administration* menu (wide screen), with the menu open."""
    menu = page.locator("nav.mainnav.wide details.admin-menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return menu.get_by_role("link", name=name, exact=True)
