"""End to end against a real trytond (tests/helpers_tryton.py): a party, a product and a
confirmed, invoiced sale made in Tryton arrive in the CRM as an account, a product, an order
and the account's payment status; a deal won in the CRM becomes a sale quotation in Tryton
(its account a party first); syncing again changes nothing on either side."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from conftest import in_tenant, run_jobs
from helpers_sfa import stages
from helpers_tryton import (  # noqa: F401 - tryton_server is the shared fixture
    confirm_and_invoice,
    head,
    make_party,
    make_product,
    make_sale,
    tryton_client,
    tryton_server,
    unique,
)
from sqlalchemy import select

from crm_platform.sdk import Account, Order, create_record
from plugins.erp.models import Invoice, LedgerEntry, SyncCursor
from plugins.erp_tryton.connector import TrytonConnector
from plugins.sfa.deals import create_deal, move_deal
from plugins.sfa.quote_models import Product

from .helpers import connection, count, sync


def _start_after_existing(app: Any, tenant: Any, cid: str, settings: dict[str, str]) -> None:
    """The Tryton database is shared by the session: pull only what this test makes."""
    connector = TrytonConnector()
    with in_tenant(app, tenant) as session:
        for key in ("party", "product", "sale", "invoice", "stock"):
            session.add(
                SyncCursor(
                    connection_id=uuid.UUID(cid),
                    object_key=key,
                    cursor=head(connector, settings, key),
                )
            )
        session.commit()


def test_tryton_end_to_end(app: Any, acme: Any, owner: Any, tryton_server: dict[str, str]) -> None:  # noqa: F811
    settings = dict(tryton_server)
    cid = connection(app, acme, key="tryton", name="Tryton", **settings)
    _start_after_existing(app, acme, cid, settings)
    rpc = tryton_client(settings)
    try:
        # 1. a party and a confirmed, invoiced sale made in Tryton
        party_name = unique("Acme Trading")
        party = make_party(rpc, party_name, "buyer@acme-trading.example")
        product = make_product(rpc, unique("Widget W"), "25.00")
        sale_id = make_sale(rpc, party, [(product, 2, "25.00")])
        confirm_and_invoice(rpc, sale_id)
        first = sync(app, acme, cid)
        assert first["status"] == "succeeded", first
        assert first["created"] >= 4 and first["failed"] == 0, (
            first
        )  # party, product, sale, invoice
        with in_tenant(app, acme) as session:
            account = session.scalars(select(Account).where(Account.name == party_name)).one()
            assert account.email == "buyer@acme-trading.example"
            order = session.scalars(select(Order).where(Order.account_id == account.id)).one()
            assert (order.source, order.total, order.currency) == ("erp", Decimal("50.00"), "EUR")
            assert order.status in ("pending", "paid", "shipped", "completed")
            assert order.lines[0].quantity == 2 and order.lines[0].unit_price == Decimal("25.00")
            assert order.lines[0].sku  # the product came first, the line names its code
            assert session.scalars(select(Product).where(Product.code == order.lines[0].sku)).one()
            invoice = session.scalars(select(Invoice).where(Invoice.account_id == account.id)).one()
            assert (invoice.state, invoice.order_id) == ("open", order.id)
            account_id = account.id
        page = owner.get(f"/t/acme/accounts/{account_id}").text
        assert "Credit and payments (ERP)" in page and order.number in page
        connection_page = owner.get(f"/t/acme/erp/{cid}")
        assert (
            connection_page.status_code == 200
            and "Quotations from won deals" in connection_page.text
        )
        assert settings["password"] not in owner.get(f"/t/acme/erp/{cid}/edit").text
        assert owner.get(f"/t/acme/erp/{cid}/mapping").status_code == 200

        # 2. a deal won in the CRM becomes a quotation in Tryton
        customer = unique("Umbrella")
        won = stages(app, acme).won
        with in_tenant(app, acme) as session:
            crm_account = create_record(
                "account", {"name": customer, "email": "ops@umbrella.example"}
            )
            deal = create_deal(
                {
                    "name": "Umbrella roll-out",
                    "account_id": str(crm_account.id),
                    "amount": "1200.00",
                    "currency": "EUR",
                }
            )
            session.commit()
            move_deal(deal, won)
            session.commit()
            deal_id = deal.id
        run_jobs(app)
        quotes = rpc.search_read(
            "sale.sale", [("party.name", "=", customer)], ["state", "description", "total_amount"]
        )
        assert len(quotes) == 1, quotes
        assert quotes[0]["state"] == "quotation" and quotes[0]["description"] == "Umbrella roll-out"
        assert Decimal(str(quotes[0]["total_amount"])) == Decimal("1200.00")
        with in_tenant(app, acme) as session:
            entry = session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.crm_kind == "deal", LedgerEntry.crm_id == deal_id
                )
            ).one()
            assert entry.external_id == str(quotes[0]["id"]) and entry.state == "pushed"

        # 3. the sync reads the pushed party and quotation back, then nothing changes
        sync(app, acme, cid)
        with in_tenant(app, acme) as session:
            before = (count(session, Account), count(session, Order), count(session, LedgerEntry))
        again = sync(app, acme, cid)
        assert (
            again["status"],
            again["created"],
            again["updated"],
            again["failed"],
            again["deleted"],
        ) == ("succeeded", 0, 0, 0, 0), again
        with in_tenant(app, acme) as session:
            assert (
                count(session, Account),
                count(session, Order),
                count(session, LedgerEntry),
            ) == before
            assert (
                count(session, Account, Account.name == customer) == 1
            )  # no duplicate of the pushed party
        assert len(rpc.search_read("sale.sale", [("party.name", "=", customer)], ["id"])) == 1
    finally:
        rpc.logout()
