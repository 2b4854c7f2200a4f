"""Custom fields: defined by tenant admins, validated by type, shown, filtered, renamed,
archived (values kept) and restored."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_records import add, add_field, listed, record
from helpers_web import field_error, hrefs, post_form
from sqlalchemy import select

from crm_platform.records.custom_fields import CustomField

FIELDS = "/t/acme/settings/fields"


def _field(app: Any, tenant: Any, key: str) -> CustomField:
    with in_tenant(app, tenant) as session:
        field = session.scalars(select(CustomField).where(CustomField.key == key)).one()
        session.expunge(field)
        return field


def _define(owner: Any, entity: str, **data: Any) -> Any:
    url = f"{FIELDS}/new?entity={entity}"
    return post_form(owner, url, data)


def test_an_admin_defines_fields_that_appear_on_forms_pages_and_lists(
    app: Any, owner: Any, acme: Any
) -> None:
    assert FIELDS in hrefs(owner.get("/t/acme/").text)  # in the navigation
    assert _define(owner, "account", label="Annual revenue", type="number").status_code == 303
    assert _define(
        owner, "account", label="Segment", type="choice", choices="SMB\nEnterprise\n\nSMB",
        required="y",
    ).status_code == 303  # fmt: skip
    assert _define(owner, "account", label="Services", type="multi_choice",
                   choices="Support\n支持").status_code == 303  # fmt: skip
    assert _define(owner, "account", label="Renewal", type="date", key="renews").status_code == 303
    assert _define(owner, "account", label="Active", type="checkbox").status_code == 303
    assert _define(owner, "contact", label="渠道", type="text").status_code == 303
    listing = owner.get(FIELDS).text
    for key in ("annual_revenue", "segment", "services", "renews", "active", "field"):
        assert f"<code>{key}</code>" in listing
    assert _field(app, acme, "segment").choices == ["SMB", "Enterprise"]

    form = owner.get("/t/acme/accounts/new").text
    for name in ("cf_annual_revenue", "cf_segment", "cf_services", "cf_renews", "cf_active"):
        assert f'name="{name}"' in form
    assert "Segment *" in form  # required
    created = post_form(
        owner,
        "/t/acme/accounts/new",
        {
            "name": "Globex",
            "cf_annual_revenue": "1,250.5",
            "cf_segment": "Enterprise",
            "cf_services": ["Support", "支持"],
            "cf_renews": "2027-03-31",
            "cf_active": "y",
        },
    )
    assert created.status_code == 302
    account_id = created.headers["Location"].rsplit("/", 1)[1]
    assert record(app, acme, "account", account_id)["custom"] == {
        "annual_revenue": 1250.5,
        "segment": "Enterprise",
        "services": ["Support", "支持"],
        "renews": "2027-03-31",
        "active": True,
    }
    page = owner.get(created.headers["Location"]).text
    for text in ("Annual revenue", "1250.5", "Support, 支持", "2027-03-31", "Yes"):
        assert text in page
    columns = owner.get("/t/acme/accounts").text
    assert '<th class="wide-only">Annual revenue</th>' in columns and "1250.5" in columns
    # The edit form shows the stored values.
    edit = owner.get(f"/t/acme/accounts/{account_id}/edit").text
    assert 'value="1250.5"' in edit and 'checked id="cf_active"' in edit


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("cf_amount", "abc", "Enter a number"),
        ("cf_amount", "1e999", "Enter a number"),
        ("cf_amount", "nan", "Enter a number"),
        ("cf_tier", "Platinum", "Choose one of the listed options."),
        ("cf_tools", ["Hammer", "Laser"], "Not an option: Laser."),
        ("cf_when", "31/12/2026", "Enter a date as YYYY-MM-DD."),
        ("cf_note", "x" * 501, "500 characters"),
        ("cf_tier", "", "Tier is required."),
    ],
)
def test_bad_custom_values_are_refused_per_field(
    app: Any, owner: Any, acme: Any, name: str, value: Any, message: str
) -> None:
    add_field(app, acme, "account", "amount", "number")
    add_field(app, acme, "account", "tier", "choice", choices=["Gold", "Silver"], required=True)
    add_field(app, acme, "account", "tools", "multi_choice", choices=["Hammer", "Saw"])
    add_field(app, acme, "account", "when", "date")
    add_field(app, acme, "account", "note", "text")
    data = {"name": "Bad Values", "cf_tier": "Gold", name: value}
    page = post_form(owner, "/t/acme/accounts/new", data)
    assert page.status_code == 400
    assert message in (field_error(page.text, name) or "")
    assert listed(owner.get("/t/acme/accounts").text) == []


def test_renaming_a_field_keeps_its_values(app: Any, owner: Any, acme: Any) -> None:
    add_field(app, acme, "contact", "channel", "choice", label="Channel", choices=["Phone", "Mail"])
    contact_id = add(app, acme, "contact", first_name="Ann", custom={"channel": "Mail"})
    field = _field(app, acme, "channel")
    edit = f"{FIELDS}/{field.id}/edit"
    page = owner.get(edit)
    assert page.status_code == 200 and "<code>channel</code>" in page.text
    saved = post_form(
        owner, edit, {"label": "Preferred channel", "choices": "Phone\nMail\nWeChat",
                      "key": "hacked", "type": "number"},
    )  # fmt: skip
    assert saved.status_code == 303
    renamed = _field(app, acme, "channel")
    assert (renamed.label, renamed.type) == ("Preferred channel", "choice")
    assert renamed.choices == ["Phone", "Mail", "WeChat"]
    contact = owner.get(f"/t/acme/contacts/{contact_id}").text
    assert "Preferred channel" in contact and "Mail" in contact
    assert record(app, acme, "contact", contact_id)["custom"] == {"channel": "Mail"}


def test_deleting_a_field_in_use_asks_then_archives_it_keeping_the_values(
    app: Any, owner: Any, acme: Any
) -> None:
    add_field(app, acme, "account", "segment", "text", label="Segment")
    used = add(app, acme, "account", name="Used", custom={"segment": "SMB"})
    add(app, acme, "account", name="Unused")
    field = _field(app, acme, "segment")
    delete = f"{FIELDS}/{field.id}/delete"

    ask = owner.get(delete)
    assert ask.status_code == 200
    assert "1 record has a value in this field." in ask.text and "Archive the field" in ask.text
    not_confirmed = post_form(owner, delete, {})
    assert not_confirmed.status_code == 400
    assert _field(app, acme, "segment").archived_at is None

    archived = post_form(owner, delete, {"confirm": "yes"})
    assert archived.status_code == 303
    assert _field(app, acme, "segment").archived_at is not None
    assert "Archived" in owner.get(FIELDS).text  # (and the flash message is shown)
    assert "Segment" not in owner.get(f"/t/acme/accounts/{used}").text
    assert 'name="cf_segment"' not in owner.get(f"/t/acme/accounts/{used}/edit").text
    # Saving the record keeps the archived value out of sight, not lost.
    post_form(owner, f"/t/acme/accounts/{used}/edit", {"name": "Used Co"})
    assert record(app, acme, "account", used)["custom"] == {"segment": "SMB"}
    # A new field cannot take the archived field's key.
    clash = _define(owner, "account", label="Segment", type="text", key="segment")
    assert clash.status_code == 400 and "archived" in field_error(clash.text, "key")

    restored = post_form(owner, f"{FIELDS}/{field.id}/restore", page=FIELDS)
    assert restored.status_code == 303
    assert "SMB" in owner.get(f"/t/acme/accounts/{used}").text


def test_deleting_an_unused_field_removes_it(app: Any, owner: Any, acme: Any) -> None:
    add_field(app, acme, "contact", "spare", "number")
    field = _field(app, acme, "spare")
    ask = owner.get(f"{FIELDS}/{field.id}/delete")
    assert "No record has a value in this field." in ask.text
    assert post_form(owner, f"{FIELDS}/{field.id}/delete", {"confirm": "yes"}).status_code == 303
    with in_tenant(app, acme) as session:
        assert session.scalars(select(CustomField)).all() == []


def test_field_definitions_are_validated(app: Any, owner: Any, acme: Any) -> None:
    no_options = _define(owner, "account", label="Tier", type="choice", choices="")
    assert no_options.status_code == 400 and field_error(no_options.text, "choices")
    bad_key = _define(owner, "account", label="Tier", type="text", key="Bad Key")
    assert bad_key.status_code == 400 and field_error(bad_key.text, "key")
    required_box = _define(owner, "account", label="Ok", type="checkbox", required="y")
    assert required_box.status_code == 400 and field_error(required_box.text, "required")
    assert owner.get(f"{FIELDS}/new?entity=deal").status_code == 404
    with in_tenant(app, acme) as session:
        assert session.scalars(select(CustomField)).all() == []


def test_fields_can_be_reordered(app: Any, owner: Any, acme: Any) -> None:
    add_field(app, acme, "account", "first", "text", position=1)
    add_field(app, acme, "account", "second", "text", position=2)
    second = _field(app, acme, "second")
    moved = post_form(owner, f"{FIELDS}/{second.id}/move", {"direction": "up"}, page=FIELDS)
    assert moved.status_code == 303
    assert _field(app, acme, "second").position < _field(app, acme, "first").position
    form = owner.get("/t/acme/accounts/new").text
    assert form.index('name="cf_second"') < form.index('name="cf_first"')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cf_amount_min=100", ["big", "mid"]),
        ("cf_amount_min=100&cf_amount_max=500", ["mid"]),
        ("cf_tier=Gold", ["big"]),
        ("cf_tools=锤子", ["big", "mid"]),
        ("cf_tools=Saw", ["mid"]),
        ("cf_vip=yes", ["big"]),
        ("cf_vip=no", ["mid", "small"]),
        ("cf_when_max=2026-06-30", ["small"]),
        ("cf_note=PRIORITY", ["small"]),
    ],
)
def test_lists_filter_by_custom_fields(
    app: Any, owner: Any, acme: Any, query: str, expected: list[str]
) -> None:
    add_field(app, acme, "account", "amount", "number")
    add_field(app, acme, "account", "tier", "choice", choices=["Gold", "Silver"])
    add_field(app, acme, "account", "tools", "multi_choice", choices=["锤子", "Saw", "Drill"])
    add_field(app, acme, "account", "vip", "checkbox")
    add_field(app, acme, "account", "when", "date")
    add_field(app, acme, "account", "note", "text")
    ids = {
        add(app, acme, "account", name="big",
            custom={"amount": 1000, "tier": "Gold", "tools": ["锤子"], "vip": True,
                    "when": "2027-01-01"}): "big",
        add(app, acme, "account", name="mid",
            custom={"amount": "250", "tier": "Silver", "tools": ["锤子", "Saw"]}): "mid",
        add(app, acme, "account", name="small",
            custom={"amount": 5, "when": "2026-02-01", "note": "top priority"}): "small",
    }  # fmt: skip
    page = owner.get(f"/t/acme/accounts?{query}")
    assert page.status_code == 200
    assert [ids[i] for i in listed(page.text)] == expected


def test_a_bad_custom_filter_value_is_400(app: Any, owner: Any, acme: Any) -> None:
    add_field(app, acme, "account", "amount", "number", label="Amount")
    page = owner.get("/t/acme/accounts?cf_amount_min=lots")
    assert page.status_code == 400 and "Enter a number" in page.text


def test_only_admins_manage_fields(app: Any, acme: Any, factory: Any) -> None:
    add_field(app, acme, "account", "amount", "number")
    factory.member(acme, "boss@acme.example", "manager")
    boss = app.test_client()
    login(boss, "boss@acme.example")
    field = _field(app, acme, "amount")
    assert boss.get(FIELDS).status_code == 403
    assert FIELDS not in hrefs(boss.get("/t/acme/").text)
    assert post_form(boss, f"{FIELDS}/{field.id}/delete", {"confirm": "yes"},
                     page="/t/acme/").status_code == 403  # fmt: skip
    factory.member(acme, "admin@acme.example", "admin")
    admin = app.test_client()
    login(admin, "admin@acme.example")
    assert admin.get(FIELDS).status_code == 200
