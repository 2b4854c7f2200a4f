"""A new company builds its customer database: a custom field, an account and a contact,
search, and a module switched on and off -- all through the pages, as the owner would."""

from __future__ import annotations

import re

from conftest import Factory
from flask import Flask
from helpers_records import add, add_field
from playwright.sync_api import Locator, Page, expect

from .journeys import Company, admin_link, sign_in, sign_up_and_confirm

CONTOSO = Company("Contoso Health", "contoso", "Carla Contoso", "carla@contoso.example")
ACCOUNT = "Fabrikam Pharmaceuticals"
CONTACT = "Maria Anders"
GREETING = "Happy to have you with us, Maria!"


def main_nav(page: Page) -> Locator:
    """The navigation of the top bar on a wide screen."""
    return page.locator("nav.mainnav.wide")


def fact(page: Page, term: str) -> Locator:
    """The value next to ``term`` in the Details of a record page."""
    details = page.locator("#details")
    return details.get_by_text(term, exact=True).locator("xpath=following-sibling::dd[1]")


def section(page: Page, heading: str) -> Locator:
    """The card whose heading is ``heading`` (perhaps followed by a count)."""
    name = re.compile(rf"^{re.escape(heading)}(\s+\d+)?$")
    return page.locator("section").filter(has=page.get_by_role("heading", name=name))


def search_from_top_bar(page: Page, query: str) -> None:
    box = page.get_by_role("banner").get_by_role("searchbox", name="Search")
    box.fill(query)
    box.press("Enter")
    expect(page.get_by_role("heading", name="Search", level=1)).to_be_visible()


def body_fits(page: Page) -> None:
    """The page does not scroll sideways."""
    overflow = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1] + 1, (
        f"page is {overflow[0]}px wide on a {overflow[1]}px screen"
    )


def add_contact_field(page: Page, label: str, type_: str, options: str = "") -> None:
    """Custom fields (from the navigation) -> Contacts -> Add a field."""
    admin_link(page, "Custom fields").click()
    expect(page.get_by_role("heading", name="Custom fields", level=1)).to_be_visible()
    section(page, "Contacts").get_by_role("link", name="Add a field").click()
    expect(page.get_by_role("heading", name="New contact field")).to_be_visible()
    page.get_by_label("Label", exact=True).fill(label)
    page.get_by_label("Type").select_option(label=type_)
    if options:
        page.get_by_label("Options").fill(options)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"Field “{label}” added.")
    expect(section(page, "Contacts").get_by_role("cell", name=label)).to_be_visible()


def test_custom_field_account_contact_search_and_module(page: Page, live_server: str) -> None:
    sign_up_and_confirm(page, CONTOSO, live_server)
    nav = main_nav(page)

    # -- an owner adds two fields for contacts: a choice and a number
    add_contact_field(page, "Loyalty tier", "Choice", "Gold\nSilver")
    add_contact_field(page, "Orders per year", "Number")
    expect(section(page, "Contacts")).to_contain_text("Gold, Silver")
    expect(section(page, "Accounts")).to_contain_text("No custom fields yet.")

    # -- an account
    nav.get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name="New account").click()
    expect(page.get_by_role("heading", name="New account")).to_be_visible()
    expect(page.get_by_label("Loyalty tier")).to_have_count(0)  # a contact field only
    page.get_by_label("Company name").fill(ACCOUNT)
    page.get_by_label("Industry").fill("Pharmaceuticals")
    page.get_by_label("Region").fill("Basel")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"{ACCOUNT} was created.")
    expect(page.get_by_role("heading", name=ACCOUNT, level=1)).to_be_visible()
    expect(fact(page, "Industry")).to_have_text("Pharmaceuticals")
    account_url = page.url

    # -- a contact of that account: a bad number and e-mail first, then the right ones
    nav.get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="New contact").click()
    expect(page.get_by_role("heading", name="New contact")).to_be_visible()
    page.get_by_label("First name").fill("Maria")
    page.get_by_label("Last name").fill("Anders")
    page.get_by_label("Job title").fill("Head of Purchasing")
    page.get_by_label("Account").select_option(label=ACCOUNT)
    page.get_by_label("E-mail").fill("maria.anders@")
    page.get_by_label("Loyalty tier").select_option("Gold")
    page.get_by_label("Orders per year").fill("a dozen")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", name="New contact")).to_be_visible()  # still the form
    orders = page.locator(".field").filter(has=page.get_by_label("Orders per year"))
    expect(orders.get_by_text("Enter a number, e.g. 42 or 3.5.")).to_be_visible()
    email = page.locator(".field").filter(has=page.get_by_label("E-mail"))
    expect(email.get_by_text("There must be something after the @-sign.")).to_be_visible()
    # what was right is kept
    expect(page.get_by_label("First name")).to_have_value("Maria")
    expect(page.get_by_label("Loyalty tier")).to_have_value("Gold")
    expect(page.get_by_label("Account").locator("option:checked")).to_have_text(ACCOUNT)

    page.get_by_label("E-mail").fill("maria.anders@fabrikam.example")
    page.get_by_label("Orders per year").fill("12")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"{CONTACT} was created.")
    expect(page.get_by_role("heading", name=CONTACT, level=1)).to_be_visible()
    expect(fact(page, "Loyalty tier")).to_have_text("Gold")
    expect(fact(page, "Orders per year")).to_have_text("12")
    expect(fact(page, "E-mail")).to_have_text("maria.anders@fabrikam.example")
    expect(fact(page, "Account")).to_have_text(ACCOUNT)
    contact_url = page.url

    # the contact is on its account's page, and in the list with its account
    fact(page, "Account").get_by_role("link", name=ACCOUNT).click()
    expect(page).to_have_url(account_url)
    section(page, "Contacts").get_by_role("link", name=CONTACT).click()
    expect(page).to_have_url(contact_url)
    nav.get_by_role("link", name="Contacts").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=CONTACT))
    expect(row.get_by_role("link", name=ACCOUNT)).to_be_visible()

    # -- the search box of the top bar finds both
    search_from_top_bar(page, "fabrikam")
    expect(section(page, "Accounts").get_by_role("link", name=ACCOUNT)).to_be_visible()
    expect(section(page, "Contacts").get_by_role("link", name=CONTACT)).to_be_visible()
    section(page, "Accounts").get_by_role("link", name=ACCOUNT).click()
    expect(page).to_have_url(account_url)

    search_from_top_bar(page, "Maria")
    expect(page.get_by_text("Nothing found")).to_have_count(0)
    expect(section(page, "Accounts")).to_have_count(0)
    page.get_by_role("link", name=CONTACT).click()
    expect(page).to_have_url(contact_url)

    search_from_top_bar(page, "Northwind")
    expect(page.get_by_text("Nothing found for “Northwind”.")).to_be_visible()

    # -- Modules (from the navigation): switch Hello on
    expect(nav.get_by_role("link", name="Greetings")).to_have_count(0)
    admin_link(page, "Modules").click()
    expect(page.get_by_role("heading", name="Modules", level=1)).to_be_visible()
    hello = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile(r"^Hello\b"))
    )
    expect(hello.get_by_text("Off", exact=True)).to_be_visible()
    hello.get_by_role("button", name="Switch on").click()
    expect(page.get_by_role("status")).to_have_text("Hello is on.")
    expect(hello.get_by_text("On", exact=True)).to_be_visible()
    expect(hello.get_by_role("button", name="Switch off")).to_be_visible()
    expect(nav.get_by_role("link", name="Greetings")).to_be_visible()

    page.goto(contact_url)
    panel = section(page, "Greetings")
    expect(panel).to_be_visible()
    sections = page.get_by_role("navigation", name="Sections")
    expect(sections.get_by_role("link", name="Greetings")).to_be_visible()
    expect(panel.get_by_text(f"No greetings for {CONTACT} yet.")).to_be_visible()
    panel.get_by_label("Message").fill(GREETING)
    panel.get_by_role("button", name="Send greeting").click()
    expect(page.get_by_role("status")).to_have_text(f"Greeting to {CONTACT} queued.")
    expect(section(page, "Greetings").get_by_text(GREETING)).to_be_visible()

    nav.get_by_role("link", name="Greetings").click()
    expect(page.get_by_role("heading", name="Greetings", level=1)).to_be_visible()
    greetings_url = page.url
    expect(page.get_by_role("row").filter(has_text=GREETING)).to_contain_text(CONTACT)

    # -- switch it off: the entry, the panel and the page are gone
    admin_link(page, "Modules").click()
    hello.get_by_role("button", name="Switch off").click()
    expect(page.get_by_role("status")).to_have_text("Hello is off; its data is kept.")
    expect(hello.get_by_role("button", name="Switch on")).to_be_visible()
    expect(nav.get_by_role("link", name="Greetings")).to_have_count(0)

    page.goto(contact_url)
    expect(page.get_by_role("heading", name=CONTACT, level=1)).to_be_visible()
    expect(section(page, "Greetings")).to_have_count(0)
    expect(page.get_by_text(GREETING)).to_have_count(0)

    response = page.goto(greetings_url)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    # -- and on again: the greeting was kept
    admin_link(page, "Modules").click()
    hello.get_by_role("button", name="Switch on").click()
    expect(page.get_by_role("status")).to_have_text("Hello is on.")
    page.goto(contact_url)
    expect(section(page, "Greetings").get_by_text(GREETING)).to_be_visible()


def test_phone_record_list_and_page_fit_the_screen(
    phone_page: Page, live_server: str, app: Flask, factory: Factory
) -> None:
    tenant = factory.tenant("pocket", name="Pocket Co")
    add_field(app, tenant, "contact", "tier", "choice", label="Loyalty tier", choices=["Gold"])
    account_id = add(
        app, tenant, "account", name="Wide World Importers International Holdings", region="Lyon"
    )
    add(
        app,
        tenant,
        "contact",
        first_name="Bartholomew",
        last_name="Featherstonehaugh-Cholmondeley",
        email="bartholomew.featherstonehaugh-cholmondeley@wideworldimporters.example",
        phone="+33 4 72 00 00 00",
        account_id=account_id,
        custom={"tier": "Gold"},
        address="Quai Perrache 1234567890123456789012345678901234567890, 69002 Lyon",
    )
    page = phone_page
    page.goto("/login")
    sign_in(page, tenant.owner_email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Pocket Co")

    menu = page.locator("details.nav-toggle")
    menu.get_by_text("Menu").click()
    menu.get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    name = page.get_by_role("link", name="Bartholomew Featherstonehaugh-Cholmondeley")
    expect(name).to_be_in_viewport()
    body_fits(page)

    name.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Bartholomew Featherstonehaugh-Cholmondeley"
    )
    expect(fact(page, "Loyalty tier")).to_have_text("Gold")
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    body_fits(page)

    fact(page, "Account").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Wide World Importers International Holdings"
    )
    body_fits(page)
