"""An owner imports contacts from a spreadsheet: upload, map a column the import did not
recognise, preview, start, watch the progress bar reach the end, read the rejected rows."""

from __future__ import annotations

from conftest import PASSWORD, Factory
from flask import Flask
from playwright.sync_api import Page, expect

from crm_platform.testing import run_jobs

CSV = (
    b"First name,Last name,Electronic mail,Favourite colour\n"
    b"Ann,Lee,ann@example.com,red\n"
    b"Bob,Ray,not-an-address,blue\n"
    b"Cid,Ng,cid@example.com,green\n"
    b"Dee,Fox,ann@example.com,\n"
)


def test_import_contacts_with_mapping_progress_and_report(
    page: Page, live_server: str, factory: Factory, app: Flask
) -> None:
    factory.tenant("wingtip", owner_email="owner@wingtip.example", name="Wingtip Toys")
    page.goto("/login")
    page.get_by_label("E-mail").fill("owner@wingtip.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Wingtip Toys")

    nav = page.locator("nav.mainnav.wide")
    nav.get_by_role("link", name="Contacts").click()
    page.locator(".page-head").get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import", level=1)).to_be_visible()
    expect(page.get_by_label("Import into")).to_have_value("contacts")
    page.get_by_label("CSV or Excel file").set_input_files(
        files=[{"name": "wingtip.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.get_by_role("button", name="Upload and map columns").click()

    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_label("A “First name”")).to_have_value("first_name")
    mail = page.get_by_label("C “Electronic mail”")
    expect(mail).to_have_value("")  # not recognised: ignored until mapped
    expect(page.get_by_label("D “Favourite colour”")).to_have_value("")
    preview = page.locator("#preview")
    expect(preview.get_by_role("columnheader", name="E-mail")).to_have_count(0)

    mail.select_option(label="E-mail")  # htmx refreshes the preview
    expect(preview.get_by_role("columnheader", name="E-mail")).to_be_visible()
    bob = preview.get_by_role("row").filter(has_text="Bob")
    expect(bob).to_contain_text("Rejected")
    expect(bob).to_contain_text("E-mail:")
    expect(preview.get_by_role("row").filter(has_text="Dee")).to_contain_text("Same as line 2.")
    expect(preview.get_by_role("row").filter(has_text="Cid")).to_contain_text("New")

    page.get_by_role("button", name="Start import").click()
    expect(page.get_by_role("heading", name="Importing wingtip.csv")).to_be_visible()
    bar = page.get_by_role("progressbar", name="Import progress")
    expect(bar).to_have_attribute("value", "0")
    expect(page.locator(".import-state")).to_contain_text("Queued")

    assert [job.get_status() for job in run_jobs(app)] == ["finished"]

    expect(bar).to_have_attribute("value", "100")  # the page polls every second
    expect(page.locator(".import-state")).to_have_text("100% · Done")
    stats = page.locator(".stats")
    expect(stats).to_contain_text("2created")
    expect(stats).to_contain_text("2rejected")
    report = page.locator("table.rejections")
    expect(report.get_by_role("row")).to_have_count(3)
    expect(report.get_by_role("row").nth(1)).to_contain_text("3")
    expect(report.get_by_role("row").nth(1)).to_contain_text("E-mail:")
    expect(report.get_by_role("row").nth(2)).to_contain_text("5E-mail: Same as line 2.")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    assert download.value.suggested_filename == "wingtip-rejected.csv"

    page.get_by_role("link", name="Open Contacts").click()
    expect(page.get_by_role("link", name="Ann Lee")).to_be_visible()
    expect(page.get_by_role("link", name="Cid Ng")).to_be_visible()
    expect(page.get_by_role("link", name="Bob Ray")).to_have_count(0)
    nav.get_by_role("link", name="Import", exact=True).click()
    history = page.get_by_role("row").filter(has_text="wingtip.csv")
    expect(history).to_contain_text("Done")
