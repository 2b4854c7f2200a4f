"""Must-show of the Service module: a customer's e-mail, sent over real SMTP to the inbound
server, becomes a ticket; an agent replies with a canned response and waits on the
customer (the SLA clock pauses); the customer answers by mail (the clock runs again); the
ticket is solved, the customer answers the survey, and the answer shows in the report."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from conftest import Factory
from flask import Flask
from playwright.sync_api import Page, expect

from crm_platform.testing import free_port

from .journeys import admin_link, sign_in

ADDRESS = "support+northwind@inbound.localhost"
CUSTOMER = "carol@customer.example"


@pytest.fixture
def inbound(app: Flask) -> Iterator[tuple[str, int]]:
    """The inbound SMTP server of the live app, on a free port."""
    from plugins.service.smtp import make_controller

    port = free_port()
    controller = make_controller(app, "127.0.0.1", port)
    controller.start()
    yield "127.0.0.1", port
    controller.stop()


def customer_writes(server: tuple[str, int], subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = f"Carol Customer <{CUSTOMER}>"
    message["To"] = ADDRESS
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(*server, timeout=30) as client:
        client.send_message(message)


def nav(page: Page) -> Any:
    return page.locator("nav.mainnav.wide")


def test_mail_ticket_canned_reply_pause_solve_survey_report(
    page: Page, live_server: str, factory: Factory, app: Flask, inbound: tuple[str, int]
) -> None:
    factory.tenant("northwind", owner_email="owner@northwind.example", name="Northwind")
    page.goto("/login")
    sign_in(page, "owner@northwind.example")
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind")

    # -- the owner switches Service on
    admin_link(page, "Modules").click()
    service = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile(r"^Service\b"))
    )
    service.get_by_role("button", name="Switch on").click()
    expect(page.get_by_role("status")).to_have_text("Service is on.")

    # -- a customer writes to the support address over SMTP
    customer_writes(inbound, "My order never arrived", "Hello, order 1042 never arrived.")
    nav(page).get_by_role("link", name="Tickets").click()
    expect(page.get_by_role("heading", name="Tickets", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="My order never arrived")
    expect(row).to_contain_text("Carol Customer")
    expect(row).to_contain_text("On track")
    row.get_by_role("link", name="My order never arrived").click()
    expect(page.get_by_role("heading", name="#1 My order never arrived")).to_be_visible()
    expect(page.locator("#thread")).to_contain_text("order 1042 never arrived")

    # -- the agent answers with a canned response and waits on the customer
    page.get_by_label("Canned response").select_option(label="Need more details")
    message = page.get_by_label("Message", exact=True)
    expect(message).to_have_value(re.compile(r"^Hello Carol,"))
    expect(message).to_have_value(re.compile(r"request #1 we need"))
    page.get_by_label("Then set the status to").select_option(label="Waiting on customer")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Reply sent.")
    expect(page.locator("#ticket-status")).to_have_text("Waiting on customer")
    expect(page.locator("#sla-clock")).to_contain_text("Paused while waiting on the customer")
    expect(page.locator("#sla").locator(".sla")).to_have_text("Paused")

    # -- the customer answers the mail (its subject carries the reply token)
    page.goto("/outbox")
    reply_mail = page.locator("article.mail").filter(has_text="we need a few more details")
    subject = reply_mail.locator("strong").inner_text()
    assert re.search(r"\[#1-[0-9a-f]{10}\]", subject), subject
    customer_writes(inbound, "Re: " + subject, "The order number is 1042.")
    page.go_back()
    page.reload()
    expect(page.locator("#thread")).to_contain_text("The order number is 1042.")
    expect(page.locator("#ticket-status")).to_have_text("Open")
    expect(page.locator("#sla").locator(".sla")).to_have_text("On track")

    # -- solved
    page.locator("#properties").get_by_label("Status").select_option(label="Solved")
    page.get_by_role("button", name="Save properties").click()
    expect(page.get_by_role("status")).to_have_text("Ticket saved.")
    expect(page.locator("#ticket-status")).to_have_text("Solved")

    # -- the customer answers the survey from the mail
    page.goto("/outbox")
    survey_mail = page.locator("article.mail").filter(has_text="How satisfied are you")
    expect(survey_mail).to_contain_text(f"to {CUSTOMER}")
    survey_mail.get_by_role("link").filter(has_text="/survey/").click()
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    page.get_by_label("5 – Very satisfied").check()
    page.get_by_label("Anything you would like to tell us?").fill("Found my parcel, thanks!")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    page.go_back()
    page.reload()
    expect(page.get_by_role("heading", name="Already answered")).to_be_visible()

    # -- the answer is in the report
    page.goto("/t/northwind/")
    nav(page).get_by_role("link", name="Service reports").click()
    expect(page.get_by_role("heading", name="Service reports", level=1)).to_be_visible()
    expect(page.locator("#answers")).to_contain_text("Found my parcel, thanks!")
    expect(page.locator("#answers")).to_contain_text("5/5")
    expect(page.locator("#csat-score")).to_contain_text("100%")
    expect(page.locator("#sla-attainment")).to_contain_text("100%")
