"""Marketing in the browser: the owner switches Marketing on, builds a segment with the htmx
builder (live count), writes a campaign with merge fields, sees the preview, sends it; the
sending lanes deliver to a real local SMTP server exactly once per recipient; a recipient
unsubscribes from the mail's signed link and lands on the suppression list; the results show
what happened."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Factory, in_tenant
from flask import Flask
from helpers_marketing import SmtpSink, links_in
from playwright.sync_api import Page, expect

from crm_platform.records.service import create_record
from crm_platform.testing import run_jobs

from .journeys import admin_link, htmx_settled, sign_in


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpSink) -> dict[str, Any]:
    """Mail of the live app goes to the ``smtp`` server."""
    return {
        **app_config,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_FROM": "Shop <news@shop.example>",
        "OUTBOX_PAGE": False,
    }


def nav(page: Page) -> Any:
    return page.locator("nav.mainnav.wide")


def tabs(page: Page) -> Any:
    return page.get_by_role("navigation", name="Marketing", exact=True)


def test_segment_campaign_send_once_unsubscribe(
    page: Page, live_server: str, factory: Factory, app: Flask, smtp: SmtpSink
) -> None:
    shop = factory.tenant("shop", owner_email="owner@shop.example", name="Shop Ltd")
    with in_tenant(app, shop) as session:
        for first, email, tags in (
            ("Ann", "ann@customer.example", ["news"]),
            ("Bob", "bob@customer.example", ["news", "vip"]),
            ("Cy", "cy@customer.example", []),
        ):
            create_record("contact", {"first_name": first, "email": email, "tags": tags})
        session.commit()
    page.goto("/login")
    sign_in(page, "owner@shop.example")
    expect(page.get_by_role("heading", level=1)).to_have_text("Shop Ltd")

    # -- the owner switches Marketing on
    admin_link(page, "Modules").click()
    marketing = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile(r"^Marketing\b"))
    )
    marketing.get_by_role("button", name="Switch on").click()
    expect(page.get_by_role("status")).to_have_text("Marketing is on.")

    # -- a segment from the builder, with its live count
    nav(page).get_by_role("link", name="Marketing").click()
    tabs(page).get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Name", exact=True).fill("Newsletter readers")
    expect(page.locator("#segment-count")).to_contain_text("Add at least one condition.")
    page.get_by_role("button", name="Add a condition").click()  # htmx re-draws the builder
    htmx_settled(page)
    page.locator("#g0_r0_field").select_option(label="Tag")  # and again, with its operators
    htmx_settled(page)
    expect(page.locator("#g0_r0_op")).to_have_value("has")
    page.locator("#g0_r0_value").fill("news")
    page.locator("#g0_r0_value").press("Tab")
    expect(page.locator("#segment-count")).to_contain_text("2 contacts match now.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Segment “Newsletter readers” saved.")

    # -- a campaign with merge fields and its preview
    expect(page.get_by_role("heading", name="Newsletter readers", level=1)).to_be_visible()
    page.get_by_role("link", name="Campaign to this segment").click()
    expect(page.get_by_role("heading", name="New e-mail campaign")).to_be_visible()
    expect(page.get_by_label("Segment").locator("option:checked")).to_have_text(
        re.compile(r"^Newsletter readers")
    )
    page.get_by_label("Name", exact=True).fill("Spring news")
    page.get_by_label("Subject", exact=True).fill("Spring news for {{ contact.first_name }}")
    page.get_by_label("Body (HTML)").fill(
        '<p>Hello {{ contact.first_name }},</p><p><a href="https://shop.example/spring">'
        'Our spring range</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="Spring news", level=1)).to_be_visible()
    preview = page.locator("#preview")
    expect(preview).to_contain_text(re.compile(r"Subject: Spring news for (Ann|Bob)"))
    expect(
        page.frame_locator("iframe[title='E-mail preview']").get_by_text(
            re.compile(r"Hello (Ann|Bob),")
        )
    ).to_be_visible()

    # -- sent: the lanes deliver once per recipient to the real SMTP server
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("status")).to_contain_text("The campaign has started.")
    run_jobs(app)  # what the workers do
    smtp.wait_for(2)
    assert dict(smtp.per_recipient()) == {"ann@customer.example": 1, "bob@customer.example": 1}
    mail = smtp.to("ann@customer.example")[0]
    assert mail.message["Subject"] == "Spring news for Ann"
    run_jobs(app)  # nothing is sent twice
    assert len(smtp.received) == 2
    page.reload()
    expect(page.locator(".mk-kpis")).to_contain_text("2sent")
    expect(page.locator(".mk-kpis")).to_contain_text("2delivered")

    # -- Ann unsubscribes from the mail's signed link
    unsubscribe = next(link for link in links_in(mail.html) if "/marketing/u/" in link)
    page.goto(unsubscribe.replace("http://localhost", live_server))
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("status")).to_contain_text(
        "ann@customer.example gets no more marketing e-mail from Shop Ltd."
    )

    # -- the owner sees it in the suppression list and the results
    page.goto(f"{live_server}/t/shop/marketing/suppression")
    expect(page.get_by_role("main")).to_contain_text("ann@customer.example")
    tabs(page).get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Spring news").click()
    expect(page.locator(".mk-kpis")).to_contain_text("1unsubscribed")
