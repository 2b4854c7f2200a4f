"""Stock availability from done moves, and the connector's registration through the hook."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers_tryton import head, make_product, unique

from plugins.erp_tryton.client import TrytonClient
from plugins.erp_tryton.connector import TrytonConnector

pytestmark = pytest.mark.tryton


def _receive(rpc: TrytonClient, product: int, quantity: float) -> None:
    """Receive ``quantity`` of ``product`` from the supplier into the warehouse (done move)."""
    locations = {
        row["code"]: row["id"]
        for row in rpc.search_read("stock.location", [("code", "in", ["SUP", "STO"])], ["code"])
    }
    unit = rpc.read("product.product", [product], ["default_uom"])[0]["default_uom"]
    currency = rpc.read("company.company", [rpc.context["company"]], ["currency"])[0]["currency"]
    move = rpc.create(
        "stock.move",
        [
            {
                "product": product,
                "unit": unit,
                "quantity": quantity,
                "from_location": locations["SUP"],
                "to_location": locations["STO"],
                "unit_price": Decimal("1"),
                "currency": currency,
                "company": rpc.context["company"],
            }
        ],
    )
    rpc.button("stock.move", "do", move)


def test_stock_follows_done_moves(
    connector: TrytonConnector, settings: dict, rpc: TrytonClient
) -> None:
    product = make_product(rpc, unique("Crate"), "5", kind="goods")
    cursor = head(connector, settings, "stock")
    _receive(rpc, product, 7)
    page = connector.pull(settings, "stock", cursor, 10)
    assert [(r.external_id, r.data["product"], r.data["quantity"]) for r in page.records] == [
        (str(product), str(product), 7.0)
    ]
    assert page.records[0].data["location"] == "WH"
    _receive(rpc, product, 3)
    page = connector.pull(settings, "stock", page.cursor, 10)
    assert [r.data["quantity"] for r in page.records] == [10.0]
    assert connector.pull(settings, "stock", page.cursor, 10).records == []


def test_the_erp_plugin_finds_the_connector_through_its_hook() -> None:
    from crm_platform.plugins import make_plugin_manager

    pm = make_plugin_manager()
    found = [c for answer in pm.hook.erp_connectors() for c in answer]
    assert [c.key for c in found if isinstance(c, TrytonConnector)] == ["tryton"]
