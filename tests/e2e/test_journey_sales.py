"""A sales rep's day: capture a lead, convert it in one step, drag the deal across the kanban
board to Won (real mouse drags on the SortableJS board, the win dialog asking why), and see
the forecast and the dashboard's "Won this month" change."""

from __future__ import annotations

from decimal import Decimal

from conftest import Factory, in_tenant
from flask import Flask
from helpers_sfa import sales_tenant
from playwright.sync_api import Locator, Page, expect

from crm_platform.tenancy import utcnow
from plugins.sfa.forecast import current_quarter
from plugins.sfa.models import Quota

from .journeys import sign_in

LEAD = "Wei Zhang"
COMPANY = "Shanghai Fintech Partners"


def main_nav(page: Page) -> Locator:
    """The navigation of the top bar on a wide screen."""
    return page.locator("nav.mainnav.wide")


def column(page: Page, stage: str) -> Locator:
    """The list of cards of a stage on the board."""
    return page.locator(f'ol.sfa-cards[data-stage-name="{stage}"]')


def card(page: Page, name: str) -> Locator:
    """A deal's card on the board."""
    return page.locator(f'li.sfa-card[data-name="{name}"]')


def drag(page: Page, item: Locator, target: Locator) -> None:
    """Press on a card, move the mouse onto another column in small steps, release."""
    start = item.locator(".sfa-card-amount").bounding_box()
    end = target.bounding_box()
    assert start and end
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)  # past SortableJS's tolerance: the drag starts
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=20)
    page.mouse.up()


def moved_to(page: Page, stage: str) -> None:
    """The board answered the move: the card sits in ``stage`` on the refreshed board."""
    board = page.locator("#sfa-board")
    expect(board.get_by_role("status")).to_have_text(f"“{COMPANY}” is now in {stage}.")
    expect(column(page, stage).locator(f'li.sfa-card[data-name="{COMPANY}"]')).to_be_visible()


def test_rep_converts_a_lead_and_wins_the_deal_on_the_board(
    page: Page, live_server: str, factory: Factory, app: Flask
) -> None:
    tenant = sales_tenant(app, "northwind", "owner@northwind.example")
    rep = factory.user("riley@northwind.example", "Riley Rep")
    factory.member(tenant, rep.email, "member")
    year, quarter = current_quarter()
    with in_tenant(app, tenant) as session:
        session.add(
            Quota(
                user_id=rep.id, year=year, quarter=quarter, amount=Decimal("100000"), currency="USD"
            )
        )
        session.commit()

    # -- the rep signs in; the dashboard says nothing was won yet this month
    page.goto("/login")
    sign_in(page, rep.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind")
    won_widget = page.locator("section.widget").filter(has_text="Won this month")
    expect(won_widget).to_contain_text("$0.00")

    # -- a new lead, by hand
    main_nav(page).get_by_role("link", name="Leads").click()
    expect(page.get_by_role("heading", name="Leads", level=1)).to_be_visible()
    page.get_by_role("link", name="New lead").click()
    page.get_by_label("Name", exact=True).fill(LEAD)
    page.get_by_label("Company").fill(COMPANY)
    page.get_by_label("E-mail").fill("wei.zhang@fintech.example")
    page.get_by_label("Source").select_option("Website")
    page.get_by_label("Owner").select_option(label="Riley Rep")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"Lead “{LEAD}” created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(LEAD)

    # -- converted in one step: account, contact and a deal closing today
    page.get_by_role("link", name="Convert").click()
    expect(page.get_by_role("heading", name=f"Convert {LEAD}")).to_be_visible()
    expect(page.get_by_label("Create a new account")).to_be_checked()
    page.get_by_label("Amount").fill("42000")
    page.get_by_label("Expected close date").fill(utcnow().date().isoformat())
    page.get_by_role("button", name="Convert").click()
    expect(page.get_by_role("status")).to_have_text(f"“{LEAD}” converted.")
    expect(page.get_by_role("heading", name=COMPANY, level=1)).to_be_visible()

    # -- the forecast before the win: weighted pipeline, nothing won
    main_nav(page).get_by_role("link", name="Forecast").click()
    expect(page.locator("#forecast-won")).to_have_text("$0.00")

    # -- across the board with the mouse, column by column, then to Won
    main_nav(page).get_by_role("link", name="Deals").click()
    expect(column(page, "Qualification").locator(card(page, COMPANY))).to_be_visible()
    for stage in ("Proposal", "Negotiation"):
        drag(page, card(page, COMPANY), column(page, stage))
        moved_to(page, stage)
    drag(page, card(page, COMPANY), column(page, "Won"))
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="The deal is won: why?")).to_be_visible()
    dialog.get_by_label("Reason").fill("Best fit for their compliance needs")
    dialog.get_by_role("button", name="Save").click()
    moved_to(page, "Won")

    # -- the deal's history says how it got there
    card(page, COMPANY).get_by_role("link", name=COMPANY).click()
    history = page.locator("#history")
    expect(history).to_contain_text("Negotiation → Won")
    expect(page.locator("#details")).to_contain_text("Best fit for their compliance needs")

    # -- the forecast and the dashboard changed
    main_nav(page).get_by_role("link", name="Forecast").click()
    expect(page.locator("#forecast-won")).to_have_text("$42,000.00")
    expect(
        page.locator("#forecast-owners").get_by_role("row").filter(has_text="Riley Rep")
    ).to_contain_text("42%")
    page.get_by_role("link", name="CRM").click()
    expect(won_widget).to_contain_text("$42,000.00")
    expect(won_widget).to_contain_text("1 deal won")
