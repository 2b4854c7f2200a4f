"""A product's unit cost and product line: checked (a negative cost is refused), shown with
the margin on the product pages, filtered by line, through the API, and kept on quote lines
as a snapshot when they are priced."""

from __future__ import annotations

import html
import uuid
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_api import assert_error, auth, make_key
from helpers_sfa import deal
from sqlalchemy import select

from crm_platform.provisioning import ValidationFailed
from plugins.sfa.models import Deal
from plugins.sfa.products import create_product, margin_percent, update_product
from plugins.sfa.quote_models import Product
from plugins.sfa.quotes import add_line, create_quote, lines_of, update_line

BASE = "/t/acme/sales"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


def test_cost_and_product_line_are_checked(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        product = create_product(
            {
                "code": "L-1",
                "name": "Laptop",
                "unit_price": "1000",
                "cost": "600.5",
                "product_line": "  Hardware   kit ",
            }
        )
        session.commit()
        assert (product.cost, product.product_line) == (Decimal("600.50"), "Hardware kit")
        plain = create_product({"code": "P", "name": "Plain", "unit_price": "1"})
        assert (plain.cost, plain.product_line) == (None, None)
        with pytest.raises(ValidationFailed) as caught:
            create_product({"code": "N", "name": "Neg", "unit_price": "1", "cost": "-0.01"})
        assert caught.value.errors == {"cost": "A cost cannot be negative: enter 0 or more."}
        session.rollback()
        with pytest.raises(ValidationFailed) as caught:
            update_product(product, {"cost": "1.234", "product_line": "x" * 61})
        assert set(caught.value.errors) == {"cost", "product_line"}
        session.rollback()
        assert update_product(product, {"cost": "", "product_line": ""}) == [
            "cost",
            "product_line",
        ]
        assert (product.cost, product.product_line) == (None, None)
        session.rollback()
        assert session.scalars(select(Product).where(Product.code == "N")).first() is None


def test_margin_percent() -> None:
    assert margin_percent(Decimal("1000"), Decimal("600")) == Decimal("40.0")
    assert margin_percent(Decimal("3"), Decimal("2")) == Decimal("33.3")
    assert margin_percent(Decimal("10"), Decimal("12")) == Decimal("-20.0")  # sold at a loss
    assert margin_percent(Decimal("0"), Decimal("1")) is None
    assert margin_percent(Decimal("10"), None) is None


def test_product_pages_show_cost_margin_and_line(app: Any, acme: Any, owner: Any) -> None:
    bad = owner.post(
        f"{BASE}/products/new",
        data={"code": "L", "name": "Laptop", "unit_price": "1000", "cost": "-5"},
    )
    assert bad.status_code == 400
    assert "A cost cannot be negative: enter 0 or more." in html.unescape(bad.text)
    for code, name, price, cost, line in (
        ("L", "Laptop", "1000", "600", "Hardware"),
        ("S", "Support", "100", "", "Services"),
        ("X", "Loose", "10", "2.5", ""),
    ):
        done = owner.post(
            f"{BASE}/products/new",
            data={
                "code": code,
                "name": name,
                "unit_price": price,
                "currency": "USD",
                "cost": cost,
                "product_line": line,
                "active": "y",
            },
        )
        assert done.status_code == 303, done.text
    listing = owner.get(f"{BASE}/products").text
    assert "$600.00" in listing and "40.0%" in listing and "75.0%" in listing
    assert "Hardware" in listing and "Services" in listing
    hardware = owner.get(f"{BASE}/products?line=Hardware").text
    assert "Laptop" in hardware and "Support" not in hardware and "Loose" not in hardware
    unlined = owner.get(f"{BASE}/products?line=none").text
    assert "Loose" in unlined and "Laptop" not in unlined
    with in_tenant(app, acme) as session:
        laptop = session.scalars(select(Product).where(Product.code == "L")).one()
        laptop_id = laptop.id
    edit = owner.get(f"{BASE}/products/{laptop_id}/edit").text
    assert 'value="600.00"' in edit and 'value="Hardware"' in edit
    assert "Margin at the list price: 40.0%" in html.unescape(edit)
    saved = owner.post(
        f"{BASE}/products/{laptop_id}/edit",
        data={
            "code": "L",
            "name": "Laptop",
            "unit_price": "1000",
            "currency": "USD",
            "cost": "750",
            "product_line": "Computers",
            "active": "y",
        },
    )
    assert saved.status_code == 303
    with in_tenant(app, acme) as session:
        laptop = session.scalars(select(Product).where(Product.code == "L")).one()
        assert (laptop.cost, laptop.product_line) == (Decimal("750.00"), "Computers")


def test_products_api_cost_and_line(client: Any, app: Any, acme: Any) -> None:
    key = auth(make_key(app, acme, "owner@acme.example"))
    created = client.post(
        "/api/v1/products",
        json={
            "code": "A-1",
            "name": "Api box",
            "unit_price": "10.00",
            "cost": "4.25",
            "product_line": "Boxes",
        },
        headers=key,
    )
    assert created.status_code == 201, created.json
    product = created.json
    assert (product["cost"], product["product_line"]) == ("4.25", "Boxes")
    other = client.post(
        "/api/v1/products", json={"code": "A-2", "name": "No cost", "unit_price": "1"}, headers=key
    ).json
    assert (other["cost"], other["product_line"]) == (None, None)
    bad = client.post(
        "/api/v1/products",
        json={"code": "A-3", "name": "Bad", "unit_price": "1", "cost": "-1"},
        headers=key,
    )
    fields = assert_error(bad, 400, "validation_failed")["fields"]
    assert fields == {"cost": "A cost cannot be negative: enter 0 or more."}
    listed = client.get("/api/v1/products?product_line=Boxes", headers=key).json
    assert [p["code"] for p in listed["data"]] == ["A-1"]
    patched = client.patch(
        f"/api/v1/products/{product['id']}",
        json={"cost": None, "product_line": "Crates"},
        headers=key,
    )
    assert patched.status_code == 200
    assert (patched.json["cost"], patched.json["product_line"]) == (None, "Crates")
    again = client.get(f"/api/v1/products/{product['id']}", headers=key).json
    assert (again["cost"], again["product_line"]) == (None, "Crates")
    doc = client.get("/api/v1/openapi.json", headers=key).json
    schemas = doc["components"]["schemas"]
    product_schema = next(
        s
        for name, s in schemas.items()
        if "cost" in s.get("properties", {}) and "code" in s.get("properties", {})
    )
    assert "product_line" in product_schema["properties"]


def test_quote_lines_keep_the_unit_cost_they_were_priced_with(app: Any, acme: Any) -> None:
    deal_id = deal(app, acme, name="Costs", amount="1")
    euro_deal = deal(app, acme, name="Euro costs", currency="EUR")
    with in_tenant(app, acme) as session:
        laptop = create_product(
            {"code": "L", "name": "Laptop", "unit_price": "1000", "cost": "600"}
        )
        mouse = create_product({"code": "M", "name": "Mouse", "unit_price": "20"})
        d = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        q = create_quote(d)
        first = add_line(q, {"product_id": str(laptop.id), "quantity": "2"})
        free = add_line(q, {"description": "Travel", "quantity": "1", "unit_price": "50"})
        nocost = add_line(q, {"product_id": str(mouse.id), "quantity": "1"})
        session.commit()
        assert (first.unit_cost, free.unit_cost, nocost.unit_cost) == (Decimal("600"), None, None)
        update_product(laptop, {"cost": "900"})
        session.commit()
        session.expire_all()
        assert lines_of(q)[0].unit_cost == Decimal("600.00")  # the snapshot stays
        # re-pricing the line with a product picks up today's cost; taking it off clears it
        update_line(q, lines_of(q)[0], {"product_id": str(laptop.id)})
        assert lines_of(q)[0].unit_cost == Decimal("900.00")
        update_line(q, lines_of(q)[0], {"product_id": "", "description": "Custom"})
        assert lines_of(q)[0].unit_cost is None
        # a product priced in another currency: its cost is not converted, so none is kept
        e = create_quote(
            session.scalars(select(Deal).where(Deal.id == uuid.UUID(euro_deal))).unique().one()
        )
        euro_line = add_line(
            e, {"product_id": str(laptop.id), "quantity": "1", "unit_price": "950"}
        )
        assert euro_line.unit_cost is None
        session.commit()


def test_quote_api_shows_the_unit_cost(client: Any, app: Any, acme: Any) -> None:
    key = auth(make_key(app, acme, "owner@acme.example"))
    deal_id = deal(app, acme, name="Api costs", amount="1")
    product = client.post(
        "/api/v1/products",
        json={"code": "K", "name": "Kit", "unit_price": "30", "cost": "12"},
        headers=key,
    ).json
    quote = client.post("/api/v1/quotes", json={"deal_id": deal_id}, headers=key)
    assert quote.status_code == 201, quote.json
    quote_id = quote.json["id"]
    added = client.post(
        f"/api/v1/quotes/{quote_id}/lines",
        json={"product_id": product["id"], "quantity": "2"},
        headers=key,
    )
    assert added.status_code in (200, 201), added.json
    lines = client.get(f"/api/v1/quotes/{quote_id}", headers=key).json["lines"]
    assert [line["unit_cost"] for line in lines] == ["12.00"]
