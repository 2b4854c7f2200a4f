"""Incremental pulls from a real trytond: pages, cursors, references, totals, deletions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers_tryton import (
    confirm_and_invoice,
    head,
    make_party,
    make_product,
    make_sale,
    pay_invoice,
    unique,
)

from plugins.erp.connector import ConnectorError
from plugins.erp_tryton.client import TrytonClient
from plugins.erp_tryton.connector import TrytonConnector

pytestmark = pytest.mark.tryton


def test_parties_come_in_pages_and_the_final_cursor_is_quiet(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    cursor = head(connector, settings, "party")
    names = [unique("Party") for _ in range(3)]
    ids = [make_party(rpc, name, email=f"p{i}@example.com") for i, name in enumerate(names)]

    first = connector.pull(settings, "party", cursor, 2)
    assert [r.external_id for r in first.records] == [str(i) for i in ids[:2]]
    assert first.more is True
    second = connector.pull(settings, "party", first.cursor, 2)
    assert [r.external_id for r in second.records] == [str(ids[2])]
    assert second.more is False
    assert connector.pull(settings, "party", second.cursor, 2).records == []

    record = first.records[0]
    assert record.data["name"] == names[0]
    assert record.data["email"] == "p0@example.com"
    assert record.data["city"] == "Berlin"
    assert record.data["address"] == "Berlin"
    assert record.deleted is False
    assert record.updated_at is not None and record.updated_at.tzinfo is not None
    assert record.lineage == {
        "source": "tryton",
        "database": settings["database"],
        "model": "party.party",
    }
    assert second.records[0].updated_at >= record.updated_at


def test_a_changed_email_and_a_deactivated_party_come_back(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    party = make_party(rpc, unique("Mail"), email="old@example.com")
    cursor = head(connector, settings, "party")
    mechanism = rpc.search_read("party.contact_mechanism", [("party", "=", party)], ["id"])
    rpc.write("party.contact_mechanism", [mechanism[0]["id"]], {"value": "new@example.com"})
    page = connector.pull(settings, "party", cursor, 10)
    assert [(r.external_id, r.data["email"]) for r in page.records] == [
        (str(party), "new@example.com")
    ]

    rpc.write("party.party", [party], {"active": False})
    page = connector.pull(settings, "party", page.cursor, 10)
    assert [(r.external_id, r.deleted) for r in page.records] == [(str(party), True)]


def test_products_with_list_price_and_template_changes(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    cursor = head(connector, settings, "product")
    name = unique("Widget")
    product = make_product(rpc, name, "12.50")
    page = connector.pull(settings, "product", cursor, 10)
    assert [r.external_id for r in page.records] == [str(product)]
    data = page.records[0].data
    assert data["name"] == name
    assert data["list_price"] == "12.50"
    assert data["code"] == name.split()[-1].upper() + "-1"
    assert data["currency"] == "EUR"
    assert data["active"] is True

    template = rpc.read("product.product", [product], ["template"])[0]["template"]
    rpc.write("product.template", [template], {"list_price": Decimal("14")})
    page = connector.pull(settings, "product", page.cursor, 10)
    assert [(r.external_id, r.data["list_price"]) for r in page.records] == [
        (str(product), "14.00")
    ]
    assert connector.pull(settings, "product", page.cursor, 10).records == []


def test_a_sale_with_lines_party_reference_and_total(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    cursor = head(connector, settings, "sale")
    party = make_party(rpc, unique("Buyer"))
    gadget = make_product(rpc, unique("Gadget"), "10")
    gizmo = make_product(rpc, unique("Gizmo"), "2.50")
    sale = make_sale(rpc, party, [(gadget, 3, "10"), (gizmo, 2, "2.50")])
    rpc.button("sale.sale", "quote", [sale])

    page = connector.pull(settings, "sale", cursor, 10)
    assert [r.external_id for r in page.records] == [str(sale)]
    data = page.records[0].data
    assert data["party"] == str(party)
    assert data["state"] == "quotation"
    assert data["status"] == "quotation"
    assert data["number"]
    assert data["currency"] == "EUR"
    assert data["total"] == "35.00"
    assert [(li["product"], li["quantity"], li["unit_price"]) for li in data["lines"]] == [
        (str(gadget), 3.0, "10.00"),
        (str(gizmo), 2.0, "2.50"),
    ]
    assert data["sale_date"] is None or len(data["sale_date"]) == 10
    assert connector.pull(settings, "sale", page.cursor, 10).records == []


def test_an_invoice_with_payment_status(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    party = make_party(rpc, unique("Payer"))
    product = make_product(rpc, unique("Service"), "100")
    sale = make_sale(rpc, party, [(product, 2, "100")])
    cursor = head(connector, settings, "invoice")
    sale_cursor = head(connector, settings, "sale")
    invoice = confirm_and_invoice(rpc, sale)

    page = connector.pull(settings, "invoice", cursor, 10)
    assert [r.external_id for r in page.records] == [str(invoice)]
    data = page.records[0].data
    assert data["party"] == str(party)
    assert data["sale"] == str(sale)
    assert (data["state"], data["status"], data["paid"]) == ("posted", "open", False)
    assert data["number"]
    assert data["invoice_date"] == data["due_date"]
    assert data["total_amount"] == "200.00"
    assert data["amount_to_pay"] == "200.00"
    sales = connector.pull(settings, "sale", sale_cursor, 10)
    assert [(r.external_id, r.data["state"], r.data["status"]) for r in sales.records] == [
        (str(sale), "processing", "pending")
    ]

    pay_invoice(settings, invoice, Decimal("50"))
    page = connector.pull(settings, "invoice", page.cursor, 10)
    assert [(r.data["status"], r.data["amount_to_pay"]) for r in page.records] == [
        ("open", "150.00")
    ]
    pay_invoice(settings, invoice)
    page = connector.pull(settings, "invoice", page.cursor, 10)
    assert [(r.data["status"], r.data["paid"], r.data["amount_to_pay"]) for r in page.records] == [
        ("paid", True, "0.00")
    ]
    sales = connector.pull(settings, "sale", sales.cursor, 10)
    # a service sale that is invoiced and paid is done in Tryton
    assert [
        (r.data["state"], r.data["invoice_state"], r.data["status"]) for r in sales.records
    ] == [("done", "paid", "completed")]


def test_a_bad_cursor_and_an_unknown_object_are_not_retryable(
    connector: TrytonConnector, settings: dict
) -> None:
    for object_key, cursor in (("party", "not json"), ("nothing", None)):
        with pytest.raises(ConnectorError) as caught:
            connector.pull(settings, object_key, cursor, 10)
        assert caught.value.retryable is False


def test_small_pages_miss_no_change_when_child_rows_interleave(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    """Addresses never written (write_date empty) and written ones share one position."""
    first = rpc.create("party.party", [{"name": unique("First")}])[0]
    second = rpc.create("party.party", [{"name": unique("Second")}])[0]
    cursor = head(connector, settings, "party")
    x1 = rpc.create("party.address", [{"party": first, "city": "One"}])[0]
    rpc.create("party.address", [{"party": first, "city": "Two"}])
    rpc.create("party.address", [{"party": second, "city": "Three"}])
    rpc.write("party.address", [x1], {"city": "One again"})

    seen: list[str] = []
    for _ in range(10):
        page = connector.pull(settings, "party", cursor, 1)
        seen += [r.external_id for r in page.records]
        cursor = page.cursor
        if not page.more:
            break
    assert str(second) in seen
    assert seen[-1] == str(first)
    assert connector.pull(settings, "party", cursor, 1).records == []
