"""Products and price books: the services (validation, one default book per currency, picking
a book by currency, customer group and channel, prices with fallbacks), their pages and API,
and another tenant's catalogue out of reach."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_api import assert_error, auth, make_key
from helpers_sfa import sales_tenant
from sqlalchemy import func, select

from crm_platform.provisioning import ValidationFailed
from plugins.sfa.products import (
    create_price_book,
    create_product,
    find_price_book,
    pick_price_book,
    price_of,
    set_entry,
    update_price_book,
    update_product,
)
from plugins.sfa.quote_models import PriceBook, PriceBookEntry, Product


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


def _count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_product_values_are_checked_and_nothing_bad_is_written(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        product = create_product({"code": "W-1", "name": "Widget", "unit_price": "19.99"})
        session.commit()
        assert (product.currency, product.tax_rate, product.active) == ("USD", Decimal(0), True)
        with pytest.raises(ValidationFailed) as caught:
            create_product(
                {"code": "w-1", "name": "", "unit_price": "-1", "tax_rate": "101", "currency": "X"}
            )
        assert set(caught.value.errors) == {"name", "unit_price", "tax_rate", "currency"}
        session.rollback()
        with pytest.raises(ValidationFailed) as caught:
            create_product({"code": "w-1", "name": "Twin", "unit_price": "1.234"})
        assert set(caught.value.errors) == {"unit_price"}
        with pytest.raises(ValidationFailed) as caught:
            create_product({"code": "w-1", "name": "Twin", "unit_price": "1"})
        assert caught.value.errors == {"code": "Another product already has this code."}
        session.rollback()
        assert _count(session, Product) == 1
        assert update_product(product, {"unit_price": "21", "active": False}) == [
            "unit_price",
            "active",
        ]
        with pytest.raises(ValidationFailed):
            update_product(product, {"unit_price": "abc"})


def test_price_books_pick_and_prices(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        widget = create_product({"code": "W", "name": "Widget", "unit_price": "100"})
        euro_only = create_product(
            {"code": "E", "name": "Euro thing", "unit_price": "5", "currency": "EUR"}
        )
        standard = create_price_book({"name": "Standard", "currency": "USD", "is_default": True})
        retail = create_price_book(
            {"name": "Retail web", "currency": "USD", "customer_group": "Retail", "channel": "Web"}
        )
        partners = create_price_book(
            {"name": "Partners", "currency": "USD", "customer_group": "Partner"}
        )
        euro = create_price_book({"name": "Euro", "currency": "EUR", "is_default": True})
        set_entry(standard, widget.id, "90")
        set_entry(retail, widget.id, "80")
        set_entry(retail, widget.id, "79.50")  # changes the price, no second entry
        session.commit()
        assert _count(session, PriceBookEntry) == 2
        assert pick_price_book("USD") is standard
        assert pick_price_book("USD", "retail", "web") is retail
        assert pick_price_book("USD", "Retail", "Shop") is standard
        assert pick_price_book("USD", "Partner", "Web") is partners
        assert pick_price_book("EUR", "Retail", "Web") is euro
        assert pick_price_book("GBP") is None
        assert price_of(widget, retail, "USD") == Decimal("79.50")
        assert price_of(widget, partners, "USD") == Decimal("90")  # the default book's
        assert price_of(widget, None, "EUR") is None  # a USD product, no EUR price
        assert price_of(euro_only, euro, "EUR") == Decimal("5")  # its list price
        # one default per currency
        second = create_price_book({"name": "Standard 2", "currency": "USD", "is_default": True})
        session.commit()
        assert not find_price_book(standard.id).is_default and second.is_default
        with pytest.raises(ValidationFailed) as caught:
            set_entry(retail, widget.id, "-5")
        assert set(caught.value.errors) == {"unit_price"}
        with pytest.raises(ValidationFailed) as caught:
            update_price_book(retail, {"currency": "EUR"})
        assert set(caught.value.errors) == {"currency"}
        with pytest.raises(ValidationFailed) as caught:
            create_price_book({"name": "standard", "currency": "USD"})
        assert set(caught.value.errors) == {"name"}


def test_another_tenants_product_cannot_be_priced(app: Any, acme: Any) -> None:
    other = sales_tenant(app, "bravo", "owner@bravo.example")
    with in_tenant(app, other) as session:
        theirs = create_product({"code": "B", "name": "Bravo secret", "unit_price": "1"})
        session.commit()
        their_id = theirs.id
    with in_tenant(app, acme) as session:
        book = create_price_book({"name": "Standard", "currency": "USD"})
        with pytest.raises(ValidationFailed) as caught:
            set_entry(book, their_id, "5")
        assert caught.value.errors == {"product_id": "There is no such product."}
        session.rollback()
        assert _count(session, PriceBookEntry) == 0


def test_product_and_price_book_pages(app: Any, acme: Any, owner: Any, rep: Any) -> None:
    base = "/t/acme/sales"
    page = owner.get(f"{base}/products")
    assert page.status_code == 200 and "New product" in page.text
    assert f'href="{base}/products"' in owner.get(f"{base}/").text  # the module's tab
    bad = owner.post(
        f"{base}/products/new",
        data={"code": "X1", "name": "Gadget", "unit_price": "-3", "currency": "USD"},
    )
    assert bad.status_code == 400 and "This cannot be negative." in bad.text
    done = owner.post(
        f"{base}/products/new",
        data={
            "code": "X1",
            "name": "Gadget",
            "unit_price": "12.50",
            "currency": "usd",
            "tax_rate": "8",
            "active": "y",
        },
    )
    assert done.status_code == 303
    listing = owner.get(f"{base}/products").text
    assert "Gadget" in listing and "$12.50" in listing
    with in_tenant(app, acme) as session:
        product_id = session.scalars(select(Product.id)).one()
    edited = owner.post(
        f"{base}/products/{product_id}/edit",
        data={"code": "X1", "name": "Gadget 2", "unit_price": "13", "currency": "USD"},
    )
    assert edited.status_code == 303
    created = owner.post(
        f"{base}/price-books", data={"name": "Standard", "currency": "USD", "is_default": "y"}
    )
    assert created.status_code == 303
    book_url = created.headers["Location"]
    entry = owner.post(
        f"{book_url}/entries", data={"product_id": str(product_id), "unit_price": "11"}
    )
    assert entry.status_code == 303
    book_page = owner.get(book_url).text
    assert "Gadget 2" in book_page and "$11.00" in book_page
    bad_entry = owner.post(
        f"{book_url}/entries", data={"product_id": str(product_id), "unit_price": "x"}
    )
    assert bad_entry.status_code == 400
    # a rep sees the catalogue but cannot change it
    assert rep.get(f"{base}/products").status_code == 200
    assert "New product" not in rep.get(f"{base}/products").text
    assert rep.get(f"{base}/products/new").status_code == 403
    assert (
        rep.post(f"{base}/price-books", data={"name": "Mine", "currency": "USD"}).status_code == 403
    )
    assert rep.get(book_url).status_code == 200


def test_products_and_price_books_api(client: Any, app: Any, acme: Any) -> None:
    key = auth(make_key(app, acme, "owner@acme.example"))
    created = client.post(
        "/api/v1/products",
        json={"code": "API-1", "name": "Api box", "unit_price": "10.00", "tax_rate": "20"},
        headers=key,
    )
    assert created.status_code == 201, created.json
    product = created.json
    assert (product["object"], product["unit_price"], product["currency"]) == (
        "product",
        "10.00",
        "USD",
    )
    bad = client.post(
        "/api/v1/products",
        json={"code": "API-2", "name": "Bad", "unit_price": "-1", "tax_rate": "150", "x": 1},
        headers=key,
    )
    assert set(assert_error(bad, 400, "validation_failed")["fields"]) == {"x"}
    bad = client.post(
        "/api/v1/products",
        json={"code": "API-2", "name": "Bad", "unit_price": "-1", "tax_rate": "150"},
        headers=key,
    )
    assert set(assert_error(bad, 400, "validation_failed")["fields"]) == {"unit_price", "tax_rate"}
    listed = client.get("/api/v1/products?q=api", headers=key).json
    assert [p["code"] for p in listed["data"]] == ["API-1"]
    patched = client.patch(
        f"/api/v1/products/{product['id']}", json={"unit_price": 12.5}, headers=key
    )
    assert patched.status_code == 200 and patched.json["unit_price"] == "12.50"
    book = client.post(
        "/api/v1/price-books", json={"name": "Std", "currency": "USD"}, headers=key
    ).json
    priced = client.post(
        f"/api/v1/price-books/{book['id']}/entries",
        json={"product_id": product["id"], "unit_price": "9.99"},
        headers=key,
    )
    assert priced.status_code == 200, priced.json
    assert priced.json["entries"] == [
        {"id": priced.json["entries"][0]["id"], "product_id": product["id"], "unit_price": "9.99"}
    ]
    with in_tenant(app, acme) as session:
        assert _count(session, PriceBook) == 1
    doc = client.get("/api/v1/openapi.json", headers=key).json
    assert {"/api/v1/products", "/api/v1/price-books", "/api/v1/quotes"} <= set(doc["paths"])
