"""Pushes to a real trytond: parties (create, update, round trip) and sale quotations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers_tryton import head, make_party, make_product, unique

from plugins.erp.connector import ConnectorError
from plugins.erp_tryton.client import TrytonClient
from plugins.erp_tryton.connector import TrytonConnector

pytestmark = pytest.mark.tryton


def _mechanisms(rpc: TrytonClient, party: int) -> dict[str, str]:
    rows = rpc.search_read("party.contact_mechanism", [("party", "=", party)], ["type", "value"])
    return {row["type"]: row["value"] for row in rows}


def test_push_a_party_then_update_it(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    name = unique("Pushed")
    external_id = connector.push(
        settings,
        "party",
        None,
        {
            "name": name,
            "email": "buyer@example.com",
            "phone": "+49 30 1234",
            "address": "Unter den Linden 1",
            "postal_code": "10117",
            "city": "Berlin",
            "country": "de",
        },
    )
    party = int(external_id)
    row = rpc.read("party.party", [party], ["name", "addresses"])[0]
    assert row["name"] == name
    assert _mechanisms(rpc, party) == {"email": "buyer@example.com", "phone": "+49 30 1234"}
    address = rpc.read(
        "party.address", row["addresses"], ["street", "postal_code", "city", "country.code"]
    )
    assert [(a["street"], a["postal_code"], a["city"], a["country."]["code"]) for a in address] == [
        ("Unter den Linden 1", "10117", "Berlin", "DE")
    ]

    cursor = head(connector, settings, "party")
    again = connector.push(
        settings, "party", external_id, {"name": name + " GmbH", "email": "sales@example.com"}
    )
    assert again == external_id
    assert rpc.read("party.party", [party], ["name"])[0]["name"] == name + " GmbH"
    assert _mechanisms(rpc, party)["email"] == "sales@example.com"
    assert len(rpc.read("party.party", [party], ["addresses"])[0]["addresses"]) == 1

    # the change comes back on the next pull, with what the CRM would map
    page = connector.pull(settings, "party", cursor, 10)
    assert [r.external_id for r in page.records] == [external_id]
    data = page.records[0].data
    assert (data["name"], data["email"], data["phone"]) == (
        name + " GmbH",
        "sales@example.com",
        "+49 30 1234",
    )
    assert data["address"] == "Unter den Linden 1\n10117 Berlin\nGermany"
    assert data["country"] == "DE"

    # pushing back what was pulled (the CRM's mapped fields) changes nothing in Tryton
    mapped = {f.external: data[f.external] for f in connector.objects[0].fields}
    assert connector.push(settings, "party", external_id, mapped) == external_id
    assert connector.pull(settings, "party", page.cursor, 10).records == []


def test_a_free_text_address_round_trips(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    text = "Rue de Rivoli 1\n75001 Paris"
    external_id = connector.push(
        settings, "party", None, {"name": unique("Texte"), "address": text, "website": None}
    )
    cursor = head(connector, settings, "party")
    connector.push(settings, "party", external_id, {"address": "Rue de Rivoli 2\n75001 Paris"})
    page = connector.pull(settings, "party", cursor, 10)
    assert [r.data["address"] for r in page.records] == ["Rue de Rivoli 2\n75001 Paris"]
    connector.push(settings, "party", external_id, {"address": page.records[0].data["address"]})
    assert connector.pull(settings, "party", page.cursor, 10).records == []


def test_bad_party_pushes_are_refused_and_write_nothing(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    before = rpc.execute("party.party", "search_count", [])
    cases = [
        (None, {"name": ""}, "needs a name"),
        (None, {"name": unique("Nowhere"), "country": "ZZ"}, "no country 'ZZ'"),
        (None, {"name": unique("Bad mail"), "email": "not-an-address"}, "is not valid"),
        ("999999", {"name": "Ghost"}, "no party 999999"),
        ("abc", {"name": "Ghost"}, "not a Tryton record id"),
    ]
    for external_id, data, message in cases:
        with pytest.raises(ConnectorError) as caught:
            connector.push(settings, "party", external_id, data)
        assert caught.value.retryable is False
        assert message in caught.value.message
    assert rpc.execute("party.party", "search_count", []) == before
    with pytest.raises(ConnectorError) as caught:
        connector.push(settings, "sale", None, {})
    assert caught.value.retryable is False


def test_push_a_quotation_and_read_it_back(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    party = make_party(rpc, unique("Winner"))
    product = make_product(rpc, unique("Licence"), "100")
    data = {
        "party": str(party),
        "reference": "DEAL-42",
        "description": "Won deal: 5 licences",
        "sale_date": "2026-11-20",
        "currency": "EUR",
        "lines": [
            {"product": str(product), "name": "Licence", "quantity": 5, "unit_price": "90.00"},
            {"product": None, "name": "Onboarding workshop", "quantity": 1, "unit_price": "500"},
        ],
    }
    external_id = connector.push(settings, "quote", None, data)
    sale = rpc.read(
        "sale.sale",
        [int(external_id)],
        ["state", "party", "reference", "description", "total_amount", "number", "sale_date"],
    )[0]
    assert sale["state"] == "quotation"
    assert sale["party"] == party
    assert sale["reference"] == "DEAL-42"
    assert sale["description"] == "Won deal: 5 licences"
    assert sale["total_amount"] == Decimal("950.00")
    assert sale["number"]
    assert sale["sale_date"].isoformat() == "2026-11-20"
    lines = rpc.search_read(
        "sale.line",
        [("sale", "=", int(external_id))],
        ["product", "description", "quantity", "unit_price"],
        order=[("sequence", "ASC"), ("id", "ASC")],
    )
    assert [(li["product"], li["description"], li["quantity"]) for li in lines] == [
        (product, "Licence", 5.0),
        (None, "Onboarding workshop", 1.0),
    ]

    # pushing the same deal again updates the same quotation
    data["lines"] = data["lines"][:1]
    data["lines"][0]["quantity"] = 6
    assert connector.push(settings, "quote", external_id, data) == external_id
    sale = rpc.read("sale.sale", [int(external_id)], ["state", "total_amount", "lines"])[0]
    assert (sale["state"], sale["total_amount"], len(sale["lines"])) == (
        "quotation",
        Decimal("540.00"),
        1,
    )

    # the same quote pushed again writes nothing (no echo on the next pull)
    cursor = head(connector, settings, "sale")
    assert connector.push(settings, "quote", external_id, data) == external_id
    assert connector.pull(settings, "sale", cursor, 10).records == []

    # once confirmed in Tryton, the CRM can no longer change it
    rpc.button("sale.sale", "confirm", [int(external_id)])
    with pytest.raises(ConnectorError) as caught:
        connector.push(settings, "quote", external_id, data)
    assert caught.value.retryable is False
    assert "can no longer change" in caught.value.message


def test_a_quote_for_a_party_without_address_gets_one(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    party = rpc.create("party.party", [{"name": unique("Bare")}])[0]
    external_id = connector.push(
        settings,
        "quote",
        None,
        {"party": str(party), "lines": [{"name": "Consulting", "quantity": 2, "unit_price": 80}]},
    )
    sale = rpc.read("sale.sale", [int(external_id)], ["state", "total_amount"])[0]
    assert (sale["state"], sale["total_amount"]) == ("quotation", Decimal("160.00"))


def test_bad_quotes_are_refused_and_write_nothing(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    party = make_party(rpc, unique("Careful"))
    before = rpc.execute("sale.sale", "search_count", [])
    line = {"name": "Thing", "quantity": 1, "unit_price": "1"}
    cases = [
        ({"party": str(party), "lines": []}, "at least one line"),
        ({"party": "999999", "lines": [line]}, "no party 999999"),
        ({"party": None, "lines": [line]}, "not a Tryton party id"),
        ({"party": str(party), "lines": [{**line, "quantity": -1}]}, "positive quantity"),
        ({"party": str(party), "lines": [{**line, "unit_price": "lots"}]}, "not a number"),
        ({"party": str(party), "lines": [{"quantity": 1, "unit_price": 1}]}, "product or a name"),
        ({"party": str(party), "lines": [{**line, "product": "999999"}]}, "no product 999999"),
        ({"party": str(party), "lines": [line], "currency": "XXX"}, "no currency 'XXX'"),
        ({"party": str(party), "lines": [line], "sale_date": "someday"}, "not a date"),
        ({"party": str(party), "lines": [line], "state": "confirmed"}, "not 'confirmed'"),
    ]
    for data, message in cases:
        with pytest.raises(ConnectorError) as caught:
            connector.push(settings, "quote", None, data)
        assert caught.value.retryable is False, data
        assert message in caught.value.message, data
    assert rpc.execute("sale.sale", "search_count", []) == before
