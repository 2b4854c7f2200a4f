"""A manager's analysis: build a report of won deals by region with a bar chart in the report
builder, save it, put it on a new dashboard, and click a bar to drill down to the deals."""

from __future__ import annotations

from conftest import Factory
from flask import Flask
from helpers_analytics import analytics_tenant, seed
from playwright.sync_api import Page, expect

from .journeys import htmx_settled, sign_in


def test_build_a_report_put_it_on_a_dashboard_and_drill_down(
    page: Page, live_server: str, factory: Factory, app: Flask
) -> None:
    tenant = analytics_tenant(app, "northwind", "owner@northwind.example")
    seed(app, tenant)

    page.goto("/login")
    sign_in(page, "owner@northwind.example")
    page.locator("nav.mainnav.wide").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Sales by region")).to_be_visible()

    # -- the builder: deals, grouped by the account's region, the sum of won amounts
    page.get_by_role("link", name="New report").click()
    page.get_by_label("Record type").select_option(label="Deals")
    htmx_settled(page)
    page.get_by_label("Group by").select_option(label="Region")
    page.get_by_label("Value 1").select_option(label="Sum of Amount")
    page.get_by_label("Filter 1 field").select_option(label="Status")
    page.get_by_label("Filter 1 condition").select_option(label="is")
    page.get_by_label("Filter 1 value").fill("won")
    page.get_by_label("Chart").select_option(label="Bar")
    page.get_by_role("button", name="Run report").click()
    result = page.locator("#analytics-result")
    expect(result.locator("figure.chart-bar svg")).to_be_visible()
    expect(result.locator("table.analytics-table tr").filter(has_text="North")).to_contain_text(
        "5,000"
    )
    expect(result.locator("table.analytics-table tr").filter(has_text="South")).to_contain_text(
        "2,000"
    )

    # -- saved under a name
    page.get_by_label("Name").fill("Won deals by region")
    page.get_by_role("button", name="Save report").click()
    expect(page.get_by_role("status")).to_have_text("Report “Won deals by region” saved.")
    expect(page.get_by_role("heading", name="Won deals by region", level=1)).to_be_visible()

    # -- a new dashboard, and the report on it
    page.locator("nav.analytics-tabs").get_by_role("link", name="Dashboards").click()
    page.get_by_label("Name").fill("Sales board")
    page.get_by_role("button", name="Create dashboard").click()
    expect(page.get_by_role("heading", name="Sales board", level=1)).to_be_visible()
    page.get_by_label("Widget").select_option(label="Won deals by region")
    page.get_by_role("button", name="Add widget").click()
    expect(page.get_by_role("status")).to_have_text("Widget added.")
    widget = page.locator("section.analytics-widget").filter(has_text="Won deals by region")
    expect(widget.locator("svg")).to_be_visible()

    # -- a click on the North bar lists the deals behind it
    widget.locator("a.chart-link").first.click()
    expect(page.get_by_role("heading", name="Deals", level=1)).to_be_visible()
    rows = page.locator("table.analytics-records tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.analytics-records")).to_contain_text("Won A")
    expect(page.locator("table.analytics-records")).to_contain_text("Won C")
    expect(page.locator("table.analytics-records")).not_to_contain_text("Won B")
    page.get_by_role("link", name="Won A").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Won A")
