"""Exporting record lists to CSV (streamed) and XLSX (bounded): filters, sort, custom fields,
formula-injection guard, visibility, audit, and a round trip back through an import."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_dataio import selected
from helpers_records import add, add_field, user_id
from helpers_web import csrf, events, flashes
from sqlalchemy import select

from crm_platform.customers import Contact
from crm_platform.dataio import exporting
from crm_platform.testing import run_jobs


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "EXPORT_XLSX_MAX_ROWS": 4}


@pytest.fixture
def acme(factory: Any) -> Any:
    return factory.tenant("acme", owner_email="owner@acme.example", name="Acme Works")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    client = app.test_client()
    assert login(client, "owner@acme.example").status_code == 302
    return client


@pytest.fixture
def people(app: Any, acme: Any) -> dict[str, str]:
    add_field(app, acme, "contact", "score", "number", label="Score")
    add_field(
        app,
        acme,
        "contact",
        "langs",
        "multi_choice",
        label="Languages",
        choices=["en", "zh"],
        position=2,
    )
    globex = add(app, acme, "account", name="Globex")
    return {
        "ann": add(
            app,
            acme,
            "contact",
            first_name="Ann",
            last_name="Able",
            email="ann@x.com",
            lifecycle_stage="customer",
            account_id=globex,
            tags="vip, north",
            custom={"score": -5, "langs": ["en", "zh"]},
            owner_id=user_id(app, "owner@acme.example"),
            phone="+86 21 5555 1234",
        ),
        "bob": add(
            app,
            acme,
            "contact",
            first_name='=HYPERLINK("http://evil")',
            last_name="Bad",
            lifecycle_stage="customer",
            notes="@SUM(1)",
        ),
        "cid": add(
            app, acme, "contact", first_name="Cid", last_name="Cole", lifecycle_stage="lead"
        ),
    }


def _csv(response: Any) -> list[dict[str, str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_export_follows_filters_and_sort(
    app: Any, owner: Any, acme: Any, people: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setattr(exporting, "BATCH", 1)  # pages of one row: the keyset walk is used
    listing = owner.get("/t/acme/contacts?stage=customer&sort=name&dir=desc")
    assert (
        'href="/t/acme/contacts/export?format=csv&amp;stage=customer&amp;dir=desc"' in listing.text
    )
    response = owner.get("/t/acme/contacts/export?format=csv&stage=customer&dir=desc")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert 'attachment; filename="contacts-' in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert [r["Last name"] for r in rows] == ["Bad", "Able"]
    bad, ann = rows
    assert list(ann)[:6] == [
        "First name",
        "Last name",
        "Job title",
        "Account",
        "Lifecycle stage",
        "E-mail",
    ]
    assert ann["Account"] == "Globex" and ann["Owner"] == "owner@acme.example"
    assert ann["Tags"] == "vip, north" and ann["Phone"] == "'+862155551234"
    assert ann["Score"] == "-5" and ann["Languages"] == "en, zh"
    assert ann["Created"] and ann["Updated"]
    assert bad["First name"] == '\'=HYPERLINK("http://evil")' and bad["Notes"] == "'@SUM(1)"
    (event,) = events(app, acme, "data.exported")
    assert event.target == "contacts" and event.actor_label == "owner@acme.example"
    assert event.details == {
        "format": "csv",
        "rows": 2,
        "filters": {"stage": "customer", "dir": "desc"},
    }


def test_xlsx_export_is_bounded_and_guarded(
    app: Any, owner: Any, acme: Any, people: dict[str, str]
) -> None:
    from openpyxl import load_workbook

    response = owner.get("/t/acme/contacts/export?format=xlsx")
    assert response.status_code == 200
    assert response.mimetype == exporting.XLSX_MIME
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    assert sheet.title == "Contacts"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = values[0]
    rows = {r[header.index("Last name")]: dict(zip(header, r, strict=True)) for r in values[1:]}
    assert set(rows) == {"Able", "Bad", "Cole"}
    assert rows["Bad"]["First name"] == '\'=HYPERLINK("http://evil")'
    assert sheet.cell(row=2, column=1).data_type != "f"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert rows["Able"]["Score"] == -5  # numbers stay numbers
    assert rows["Able"]["Phone"] == "'+862155551234"
    assert events(app, acme, "data.exported")[0].details["format"] == "xlsx"

    for i in range(2):
        add(app, acme, "contact", first_name=f"More{i}")
    refused = owner.get("/t/acme/contacts/export?format=xlsx")
    assert refused.status_code == 303
    page = owner.get(refused.headers["Location"])
    assert (
        "This list has 5 rows; an Excel export holds at most 4. Narrow the filters or export CSV."
        in flashes(page.text)
    )
    assert len(events(app, acme, "data.exported")) == 1  # the refused export is not logged
    assert owner.get("/t/acme/contacts/export?format=xlsx&stage=customer").status_code == 200


def test_accounts_export_and_bad_arguments(app: Any, owner: Any, acme: Any) -> None:
    add(app, acme, "account", name="Initech", website="initech.example", industry="Software")
    rows = _csv(owner.get("/t/acme/accounts/export"))
    assert [(r["Company name"], r["Website"], r["Industry"]) for r in rows] == [
        ("Initech", "https://initech.example", "Software")
    ]
    assert owner.get("/t/acme/accounts/export?format=pdf").status_code == 400
    assert owner.get("/t/acme/accounts/export?stage=nonsense").status_code == 400
    empty = _csv(owner.get("/t/acme/accounts/export?q=nothing-matches"))
    assert empty == []


def test_export_shows_only_what_the_member_sees(app: Any, acme: Any, factory: Any) -> None:
    from crm_platform.identity import Tenant
    from crm_platform.records.visibility import save_visibility_settings

    rep = factory.member(acme, "rep@acme.example", "readonly")
    with in_tenant(app, acme) as session:
        save_visibility_settings(session.get(Tenant, acme.id), {"readonly": "own"})
        session.commit()
    add(app, acme, "contact", first_name="Theirs")
    add(app, acme, "contact", first_name="Mine", owner_id=str(rep.id))
    client = app.test_client()
    login(client, "rep@acme.example")
    rows = _csv(client.get("/t/acme/contacts/export"))
    assert [r["First name"] for r in rows] == ["Mine"]


def test_an_export_imports_back_unchanged(
    app: Any, owner: Any, acme: Any, people: dict[str, str], factory: Any
) -> None:
    exported = owner.get("/t/acme/contacts/export").get_data()
    other = factory.tenant("other", owner_email="owner@other.example")
    add_field(app, other, "contact", "score", "number", label="Score")
    add_field(
        app,
        other,
        "contact",
        "langs",
        "multi_choice",
        label="Languages",
        choices=["en", "zh"],
        position=2,
    )
    add(app, other, "account", name="Globex")
    client = app.test_client()
    login(client, "owner@other.example")
    page = "/t/other/imports"
    response = client.post(
        f"{page}/upload",
        data={
            "csrf_token": csrf(client, page),
            "target": "contacts",
            "file": (io.BytesIO(exported), "contacts.csv"),
        },
        content_type="multipart/form-data",
    )
    url = response.headers["Location"]
    form = {f"col_{i}": field for i, field in selected(client.get(url).text).items()}
    assert form["col_10"] == "owner_id"
    form["col_10"] = ""  # the owner of the other workspace is not a member here
    response = client.post(
        url, data={"csrf_token": csrf(client, url), **form, "dedupe": "skip", "action": "start"}
    )
    assert response.status_code == 303, response.text
    run_jobs(app)
    with in_tenant(app, acme) as session:
        before = {c.last_name: c for c in session.scalars(select(Contact)).unique()}
        before = {
            k: (c.first_name, c.phone, c.email, c.tags, c.custom, c.notes, c.lifecycle_stage)
            for k, c in before.items()
        }
    with in_tenant(app, other) as session:
        after = {c.last_name: c for c in session.scalars(select(Contact)).unique()}
        after = {
            k: (c.first_name, c.phone, c.email, c.tags, c.custom, c.notes, c.lifecycle_stage)
            for k, c in after.items()
        }
        accounts = {
            c.last_name: c.account.name if c.account else None
            for c in session.scalars(select(Contact)).unique()
        }
    assert after == before
    assert accounts["Able"] == "Globex"
