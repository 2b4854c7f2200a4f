"""Platform staff at work: find a tenant, suspend and resume it, act as one of its members."""

from __future__ import annotations

import re

from conftest import Factory
from flask import Flask
from playwright.sync_api import Page, expect

from .journeys import sign_in


def _staff(app: Flask, factory: Factory, email: str) -> None:
    from crm_platform.extensions import db
    from crm_platform.provider.staff import grant_staff
    from crm_platform.provisioning import find_user

    factory.user(email, "Sam Staff")
    with app.app_context():
        grant_staff(find_user(email), "admin", actor="tests")
        db.session.commit()


def test_staff_suspend_resume_and_impersonate(
    page: Page, live_server: str, app: Flask, factory: Factory
) -> None:
    factory.tenant("globex", owner_email="hank@globex.example", name="Globex Bank")
    factory.member(factory.tenant("initech", name="Initech"), "peter@initech.example")
    _staff(app, factory, "sam@provider.example")

    page.goto("/login")
    sign_in(page, "sam@provider.example")
    expect(page).to_have_url(f"{live_server}/provider/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    console_nav = page.get_by_role("navigation", name="Provider console")

    console_nav.get_by_role("link", name="Tenants").click()
    expect(page.get_by_role("heading", name="Tenants", level=1)).to_be_visible()
    page.get_by_role("searchbox", name="Name, address or owner e-mail").fill("hank@globex")
    page.get_by_role("button", name="Filter").click()
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Globex Bank")).to_be_visible()
    expect(results.get_by_role("link", name="Initech")).to_have_count(0)
    results.get_by_role("link", name="Globex Bank").click()
    expect(page.get_by_role("heading", name=re.compile("^Globex Bank"), level=1)).to_be_visible()

    actions = page.locator("#actions")
    actions.get_by_label("Reason").fill("Chargeback under review")
    actions.get_by_role("button", name="Suspend workspace").click()
    expect(page.get_by_role("status")).to_have_text("Globex Bank is suspended; its data is kept.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("suspended")
    actions.get_by_label("Reason").fill("Chargeback resolved")
    actions.get_by_role("button", name="Resume workspace").click()
    expect(page.get_by_role("status")).to_have_text("Globex Bank is active again.")

    form = page.locator("#impersonate")
    form.get_by_label("Act as").select_option(label="Owner of globex <hank@globex.example> · Owner")
    expect(form.get_by_label("Read-only (refuse every change)")).to_be_checked()
    form.get_by_label("Reason").fill("Ticket 77: owner cannot find the import page")
    form.get_by_role("button", name="Start impersonation").click()

    expect(page).to_have_url(f"{live_server}/t/globex/")
    banner = page.get_by_role("complementary", name="Impersonation")
    expect(banner).to_contain_text("You act as hank@globex.example in Globex Bank")
    expect(banner).to_contain_text("read-only")
    expect(page.get_by_role("heading", name="Globex Bank", level=1)).to_be_visible()
    page.locator("nav.mainnav.wide").get_by_role("link", name="Contacts").click()
    expect(banner).to_be_visible()  # on every page

    banner.get_by_role("button", name="End impersonation").click()
    expect(page.get_by_role("status")).to_have_text("Impersonation ended.")
    expect(page.get_by_role("heading", name=re.compile("^Globex Bank"), level=1)).to_be_visible()
    expect(page.get_by_role("complementary", name="Impersonation")).to_have_count(0)
    impersonations = page.locator("section").filter(
        has=page.get_by_role("heading", name="Impersonations")
    )
    expect(impersonations).to_contain_text("sam@provider.example → hank@globex.example")
    expect(impersonations).to_contain_text("ended")


def test_console_fits_a_phone(
    phone_page: Page, live_server: str, app: Flask, factory: Factory
) -> None:
    factory.tenant("globex", name="Globex Bank")
    _staff(app, factory, "sam@provider.example")
    phone_page.goto("/login")
    sign_in(phone_page, "sam@provider.example")
    for url in ("/provider/", "/provider/tenants", "/provider/plugins"):
        phone_page.goto(url)
        expect(phone_page.get_by_role("navigation", name="Provider console")).to_be_visible()
        width = phone_page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert width[0] <= width[1] + 1, f"{url} is {width[0]}px wide on a {width[1]}px screen"
