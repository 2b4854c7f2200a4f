"""Batched pricing: ``prices_of`` prices many products in one query with the rules of
``price_of`` (the book's entry, else the currency's default book's, else the list price in
that currency), and never reads another tenant's default book."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_sfa import sales_tenant
from helpers_sql import counted

from plugins.sfa.products import (
    create_price_book,
    create_product,
    price_of,
    prices_of,
    set_entry,
)


def test_prices_of_follows_the_rules_of_price_of_in_one_query(app: Any, acme: Any) -> None:
    other = sales_tenant(app, "bravo", "owner@bravo.example")
    with in_tenant(app, other) as session:  # sorts before acme's default book
        create_price_book({"name": "AAA Bravo", "currency": "USD", "is_default": True})
        session.commit()
    with in_tenant(app, acme) as session:
        in_book = create_product({"code": "A", "name": "In the book", "unit_price": "100"})
        in_default = create_product({"code": "B", "name": "In the default", "unit_price": "50"})
        listed = create_product({"code": "C", "name": "List price only", "unit_price": "7"})
        euro = create_product({"code": "D", "name": "Euro", "unit_price": "9", "currency": "EUR"})
        standard = create_price_book({"name": "Standard", "currency": "USD", "is_default": True})
        retail = create_price_book({"name": "Retail", "currency": "USD"})
        euro_book = create_price_book({"name": "Euro", "currency": "EUR"})
        set_entry(standard, in_book.id, "90")
        set_entry(standard, in_default.id, "45")
        set_entry(retail, in_book.id, "80")
        set_entry(euro_book, listed.id, "6")
        session.commit()
        products = [in_book, in_default, listed, euro]
        expected = {
            in_book.id: Decimal("80"),
            in_default.id: Decimal("45"),
            listed.id: Decimal("7"),
        }
        for row in (*products, retail):  # loaded again after the commit, before counting
            session.refresh(row)
        with counted(app) as statements:
            assert prices_of(products, retail) == expected
        assert len(statements) == 1, "\n\n".join(statements)
        for product in products:
            assert price_of(product, retail, "USD") == expected.get(product.id)
        # ids in any form; another currency; a book of another currency is not used
        assert prices_of([str(euro.id), listed.id, "nonsense"], None, "EUR") == {
            euro.id: Decimal("9")
        }
        assert prices_of([in_book], euro_book, "USD") == {in_book.id: Decimal("90")}
        assert prices_of([], retail) == {}
        with pytest.raises(ValueError):
            prices_of([in_book], None)
