"""Orders, a shared fact of the customer record: the service (validation, totals, events),
the record panel and pages, the API resource, the spreadsheet import target, merges."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_api import assert_error, auth, make_key
from helpers_records import Recorder, add, app_with, dispose
from helpers_web import csrf, post_form
from sqlalchemy import func, select

from crm_platform.customers import Contact
from crm_platform.orders import Order, OrderLine
from crm_platform.provisioning import ValidationFailed
from crm_platform.records.merge import merge_records
from crm_platform.sdk import create_order, delete_order, update_order
from crm_platform.testing import run_jobs


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], recorder: Recorder) -> Any:
    application = app_with(app_config, recorder)
    yield application
    dispose(application)


@pytest.fixture
def shop(app: Any, factory: Any) -> dict[str, Any]:
    tenant = factory.tenant("shop", owner_email="owner@shop.example", name="Shop")
    account = add(app, tenant, "account", name="Acme Retail")
    contact = add(
        app, tenant, "contact", first_name="Ann", email="ann@x.example", account_id=account
    )
    return {"tenant": tenant, "account": account, "contact": contact}


@pytest.fixture
def owner(app: Any, shop: dict) -> Any:
    client = app.test_client()
    assert login(client, "owner@shop.example").status_code == 302
    return client


LINES = [
    {"product_name": "Tea", "sku": "T-1", "quantity": "2", "unit_price": "4.50"},
    {"product_name": "Pot", "unit_price": "20", "discount": "2", "tax": "1.80"},
]


def test_create_order_sums_lines_and_takes_the_contacts_account(app, shop, recorder) -> None:
    with in_tenant(app, shop["tenant"]) as session:
        order = create_order(
            {"contact_id": shop["contact"], "ordered_at": "2026-03-01", "lines": LINES}
        )
        session.commit()
        assert order.total == Decimal("28.80")  # 2 × 4.50 + 20 − 2 + 1.80
        assert str(order.account_id) == shop["account"]
        assert [line.amount for line in order.lines] == [Decimal("9.00"), Decimal("19.80")]
        assert order.number.startswith("20260301-") and order.source == "manual"
        assert order.status == "paid" and order.currency == "USD"
    ((record_id, data),) = recorder.of("order.created")
    assert data["total"] == "28.80" and data["contact_id"] == shop["contact"]


def test_bad_orders_are_refused_field_by_field(app, shop) -> None:
    with in_tenant(app, shop["tenant"]) as session:
        with pytest.raises(ValidationFailed) as caught:
            create_order({"currency": "dollars", "status": "lost", "total": "-3"})
        assert set(caught.value.errors) == {"currency", "status", "total", "contact_id"}
        with pytest.raises(ValidationFailed) as caught:
            create_order({"contact_id": shop["contact"]})
        assert caught.value.errors == {"total": "Enter the total, or add lines."}
        bad_lines = [{"product_name": "", "quantity": "0", "unit_price": "x"}]
        with pytest.raises(ValidationFailed) as caught:
            create_order({"account_id": shop["account"], "lines": bad_lines})
        assert set(caught.value.errors) == {
            "lines.0.product_name",
            "lines.0.quantity",
            "lines.0.unit_price",
        }
        with pytest.raises(ValidationFailed) as caught:
            create_order({"contact_id": "00000000-0000-0000-0000-000000000000", "total": "1"})
        assert caught.value.errors == {"contact_id": "Choose one of the contacts."}
        assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_external_ref_is_unique_per_source_and_updates_replace_lines(app, shop) -> None:
    with in_tenant(app, shop["tenant"]) as session:
        data = {"account_id": shop["account"], "total": "10", "external_ref": "E-1"}
        first = create_order(data, source="erp")
        create_order(data, source="portal")  # another source may reuse the reference
        with pytest.raises(ValidationFailed) as caught:
            create_order(data, source="erp")
        assert set(caught.value.errors) == {"external_ref"}
        changed = update_order(first, {"status": "refunded", "lines": LINES[:1]})
        assert set(changed) == {"status", "total", "lines"} and first.total == Decimal("9.00")
        session.commit()
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 1
        delete_order(first)
        session.commit()
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 0


def test_panel_form_list_and_detail_pages(app, owner, shop) -> None:
    contact_page = f"/t/shop/contacts/{shop['contact']}"
    page = owner.get(contact_page).text
    assert "No orders yet." in page and "Add an order" in page
    new = f"/t/shop/orders/new?contact_id={shop['contact']}"
    form = {
        "account_id": shop["account"],
        "ordered_at": "2026-02-03",
        "status": "paid",
        "currency": "EUR",
        "lines-0-product_name": "Tea",
        "lines-0-quantity": "3",
        "lines-0-unit_price": "2.50",
    }
    response = post_form(owner, new, form)
    assert response.status_code == 302, response.text
    page = owner.get(contact_page).text
    assert "EUR 7.50" in page and "1 orders" in page
    assert "EUR 7.50" in owner.get(f"/t/shop/accounts/{shop['account']}").text
    listing = owner.get("/t/shop/orders").text
    assert "Ann" in listing and "EUR 7.50" in listing
    with in_tenant(app, shop["tenant"]) as session:
        order_id = session.scalar(select(Order.id))
    detail = owner.get(f"/t/shop/orders/{order_id}").text
    assert "Tea" in detail and "7.50" in detail
    bad = post_form(owner, new, {**form, "lines-0-unit_price": "abc"})
    assert bad.status_code == 400 and "Enter a number." in bad.text
    gone = post_form(owner, f"/t/shop/orders/{order_id}/delete", page=f"/t/shop/orders/{order_id}")
    assert gone.status_code == 303
    assert owner.get(f"/t/shop/orders/{order_id}").status_code == 404


def test_orders_api(app, client, shop) -> None:
    key = make_key(app, shop["tenant"], "owner@shop.example")
    body = {"contact_id": shop["contact"], "currency": "CNY", "lines": LINES}
    created = client.post("/api/v1/orders", json=body, headers=auth(key))
    assert created.status_code == 201, created.json
    order = created.json
    assert order["total"] == "28.80" and order["source"] == "api" and len(order["lines"]) == 2
    assert order["lines"][1]["amount"] == "19.80"
    listed = client.get(f"/api/v1/orders?contact_id={shop['contact']}", headers=auth(key)).json
    assert [o["id"] for o in listed["data"]] == [order["id"]]
    patched = client.patch(
        f"/api/v1/orders/{order['id']}", json={"status": "shipped"}, headers=auth(key)
    )
    assert patched.status_code == 200 and patched.json["status"] == "shipped"
    error = assert_error(
        client.post("/api/v1/orders", json={"total": 5, "colour": "red"}, headers=auth(key)),
        400,
        "validation_failed",
    )
    assert set(error["fields"]) == {"colour"}
    error = assert_error(client.post("/api/v1/orders", json={"total": 5}, headers=auth(key)), 400)
    assert set(error["fields"]) == {"contact_id"}
    assert_error(client.get("/api/v1/orders?status=lost", headers=auth(key)), 400)
    deleted = client.delete(f"/api/v1/orders/{order['id']}", headers=auth(key))
    assert deleted.status_code == 204
    assert_error(client.get(f"/api/v1/orders/{order['id']}", headers=auth(key)), 404)
    document = client.get("/api/v1/openapi.json").json
    assert set(document["paths"]["/api/v1/orders"]) == {"get", "post"}
    assert "lines" in document["components"]["schemas"]["Order"]["properties"]


def test_orders_import_finds_customers_and_skips_orders_already_imported(app, owner, shop):
    csv = (
        b"Order number,E-mail,Date,Total,Product,Qty,Price\n"
        b"A-1,ann@x.example,2026-01-05,,Tea,2,3.00\n"
        b"A-2,nobody@x.example,2026-01-06,12,,,\n"
        b"A-3,ann@x.example,2026-01-07,15.5,,,\n"
    )

    def run_import() -> str:
        response = owner.post(
            "/t/shop/imports/upload",
            data={
                "csrf_token": csrf(owner, "/t/shop/imports"),
                "target": "orders",
                "file": (io.BytesIO(csv), "orders.csv"),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 303, response.text
        url = response.headers["Location"]
        mapping = {
            "col_0": "number",
            "col_1": "contact",
            "col_2": "ordered_at",
            "col_3": "total",
            "col_4": "product_name",
            "col_5": "quantity",
            "col_6": "unit_price",
        }
        data = {"csrf_token": csrf(owner, url), **mapping, "dedupe": "skip", "action": "start"}
        assert owner.post(url, data=data).status_code in (302, 303)
        run_jobs(app)
        return owner.get(url).text

    page = run_import()
    assert "No contact has the e-mail" in page
    with in_tenant(app, shop["tenant"]) as session:
        rows = session.execute(select(Order.external_ref, Order.total, Order.source)).all()
        assert sorted(rows) == [
            ("A-1", Decimal("6.00"), "import"),
            ("A-3", Decimal("15.50"), "import"),
        ]
    run_import()
    with in_tenant(app, shop["tenant"]) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 2


def test_merging_contacts_moves_their_orders(app, owner, shop) -> None:
    other = add(
        app, shop["tenant"], "contact", first_name="Ann", last_name="B", email="a2@x.example"
    )
    with in_tenant(app, shop["tenant"]) as session:
        create_order({"contact_id": other, "total": "3"})
        session.commit()
    with in_tenant(app, shop["tenant"]) as session:
        survivor = session.get(Contact, (shop["tenant"].id, uuid.UUID(shop["contact"])))
        merged = session.get(Contact, (shop["tenant"].id, uuid.UUID(other)))
        merge_records(survivor, merged, {"email": "survivor"})
        session.commit()
        contacts = {str(c) for c in session.scalars(select(Order.contact_id))}
    assert contacts == {shop["contact"]}


def test_another_tenants_order_is_not_found(app, owner, client, shop, factory) -> None:
    other = factory.tenant("other", owner_email="owner@other.example")
    account = add(app, other, "account", name="Secret Buyer")
    with in_tenant(app, other) as session:
        order_id = str(create_order({"account_id": account, "total": "99"}).id)
        session.commit()
    for url in (f"/t/shop/orders/{order_id}", f"/t/shop/orders/new?account_id={account}"):
        response = owner.get(url)
        assert response.status_code in (200, 404) and "Secret Buyer" not in response.text
    assert owner.get(f"/t/shop/orders/{order_id}").status_code == 404
    deleted = post_form(owner, f"/t/shop/orders/{order_id}/delete", page="/t/shop/orders")
    assert deleted.status_code == 404
    key = make_key(app, shop["tenant"], "owner@shop.example")
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(
            f"/api/v1/orders/{order_id}", method=method, json={"total": "1"}, headers=auth(key)
        )
        assert_error(response, 404)
    assert client.get("/api/v1/orders", headers=auth(key)).json["data"] == []
    with in_tenant(app, other) as session:
        assert session.scalar(select(Order.total)) == Decimal("99.00")
