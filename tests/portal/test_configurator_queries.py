"""The partner configurator reads and prices its catalogue and basket in a fixed number of
SQL statements, however many products there are (no query per product)."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant
from helpers_sql import counted

from .partner_helpers import CHANNEL, partner_client, partner_org, post_staff

PARTNER = "/t/shop/portal/partner"


def add_products(app: Any, tenant: Any, book_id: str | None, first: int, count: int) -> list[str]:
    """``count`` EUR products; every other one with a price in the book (else its list price
    applies). Makes the book when ``book_id`` is ``None``; returns the book's id and then the
    products' ids."""
    from plugins.sfa.products import create_price_book, create_product, find_price_book, set_entry

    with in_tenant(app, tenant) as session:
        if book_id is None:
            book = create_price_book({"name": "Partners EUR", "currency": "EUR", "active": "1"})
        else:
            book = find_price_book(book_id)
        ids = [str(book.id)]
        for n in range(first, first + count):
            product = create_product(
                {"code": f"P-{n:03}", "name": f"Part {n}", "unit_price": "10", "currency": "EUR"}
            )
            if n % 2:
                set_entry(book, product.id, "8")
            ids.append(str(product.id))
        session.commit()
        return ids


def partner_with_book(app: Any, tenant: Any, book_id: str) -> Any:
    """A partner organisation ordering from ``book_id``, and a signed-in user of it."""
    from crm_platform.records.service import create_record

    from .helpers import owner_client

    org = partner_org(app, tenant, "Acme")
    with in_tenant(app, tenant) as session:
        account = create_record("account", {"name": "Acme Resellers GmbH"})
        session.commit()
        account_id = str(account.id)
    staff_page = f"{CHANNEL.format(slug=tenant.slug)}/partners/{org}"
    form = {
        "name": "Acme",
        "tier": "silver",
        "status": "active",
        "account_id": account_id,
        "price_book_id": book_id,
    }
    assert post_staff(owner_client(app, tenant), staff_page, form).status_code == 303
    return partner_client(app, tenant, org, "pat@acme.example")


def statements_of(app: Any, call: Any) -> int:
    """How many SQL statements ``call()`` runs (it must answer 200)."""
    with counted(app) as statements:
        assert call().status_code == 200
    return len(statements)


def test_catalogue_and_basket_do_not_query_per_product(app: Any, shop: Any) -> None:
    book, *few = add_products(app, shop, None, 0, 3)
    pat = partner_with_book(app, shop, book)
    token = pat.get(f"{PARTNER}/order").text.split('name="csrf_token" value="')[1].split('"')[0]

    def page() -> Any:
        return pat.get(f"{PARTNER}/order")

    def totals(ids: list[str]) -> Any:
        form = {f"qty-{pid}": "2" for pid in ids}
        return pat.post(
            f"{PARTNER}/order/totals",
            data={"csrf_token": token, **form},
            headers={"HX-Request": "1"},
        )

    page_few, totals_few = statements_of(app, page), statements_of(app, lambda: totals(few))
    _book, *more = add_products(app, shop, book, 3, 27)
    listed = page()
    assert listed.text.count("8.00 EUR") == 15 and listed.text.count("10.00 EUR") == 15
    assert statements_of(app, page) == page_few
    assert statements_of(app, lambda: totals(few + more)) == totals_few
    assert "540.00 EUR" in totals(few + more).text  # 15 × 2 × 8 + 15 × 2 × 10
