"""A won deal goes to the ERP as a sale quotation (its account first as a party), through a
job queued when the deal is won; pulling it back changes nothing; an ERP that refuses or is
down leaves a dead letter to replay."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant, run_jobs
from helpers_sfa import stages
from sqlalchemy import select

from crm_platform.sdk import Account, Order, create_record
from plugins.erp.engine import replay
from plugins.erp.models import DeadLetter, LedgerEntry, SyncRun
from plugins.sfa.deals import create_deal, move_deal
from plugins.sfa.models import Deal

from . import memory_erp
from .helpers import connection, count, sync


def _won_deal(app: Any, tenant: Any, amount: str = "2500.00") -> str:
    won = stages(app, tenant).won
    with in_tenant(app, tenant) as session:
        account = create_record("account", {"name": "Umbrella", "email": "buy@umbrella.example"})
        deal = create_deal(
            {"name": "Umbrella roll-out", "account_id": str(account.id), "amount": amount}
        )
        session.commit()
        move_deal(deal, won)
        session.commit()
        return str(deal.id)


def test_a_won_deal_becomes_a_quotation_and_a_resync_changes_nothing(app: Any, acme: Any) -> None:
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    deal_id = _won_deal(app, acme)
    run_jobs(app)
    pushes = memory_erp.STORE["pushes"]
    assert [p[0] for p in pushes] == ["party", "sale"]
    assert pushes[0][2] == {"name": "Umbrella", "email": "buy@umbrella.example", "phone": None}
    party_id = pushes[1][2]["party"]
    assert party_id in memory_erp.STORE["records"]["party"]
    sale_data = pushes[1][2]
    assert sale_data["description"] == "Umbrella roll-out"
    assert sale_data["lines"] == [
        {"product": None, "name": "Umbrella roll-out", "quantity": "1", "unit_price": "2500.00"}
    ]
    with in_tenant(app, acme) as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.object_key == "sale")).one()
        assert (entry.crm_kind, str(entry.crm_id), entry.state) == ("deal", deal_id, "pushed")
        run = session.scalars(select(SyncRun).where(SyncRun.trigger == "push")).one()
        assert (run.status, run.pushed) == ("succeeded", 2)
    # pulling the ERP back: the party is the CRM's account, the quotation is no order yet
    sync(app, acme, cid)
    again = sync(app, acme, cid)
    assert (again["created"], again["updated"], again["failed"]) == (0, 0, 0)
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 1 and count(session, Order) == 0
        assert (
            session.scalars(select(LedgerEntry).where(LedgerEntry.object_key == "sale")).one().state
            == "pushed"
        )
    # the quotation is confirmed in the ERP: it becomes the CRM's order of that account
    sale_ext = entry.external_id
    record = memory_erp.STORE["records"]["sale"][sale_ext]
    memory_erp.put("sale", {**record["data"], "state": "pending", "reference": "SO-77"}, sale_ext)
    result = sync(app, acme, cid)
    assert result["created"] == 1
    with in_tenant(app, acme) as session:
        order = session.scalars(select(Order)).one()
        assert order.number == "SO-77" and order.account.name == "Umbrella"
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.object_key == "sale")).one()
        assert entry.crm_kind == "order" and entry.lineage["deal_id"] == deal_id
    assert len(memory_erp.STORE["pushes"]) == 2


def test_a_deal_pushed_while_the_erp_is_down_waits_as_a_dead_letter(app: Any, acme: Any) -> None:
    connection(app, acme, key="memory", url="mem://", password="s3cret")
    memory_erp.STORE["down"] = True
    deal_id = _won_deal(app, acme)
    run_jobs(app)  # tried, retried, then left as a dead letter
    with in_tenant(app, acme) as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert letter.direction == "out" and "timed out" in letter.error
        assert letter.payload == {"deal_id": deal_id}
        assert session.scalars(select(SyncRun)).first().status == "failed"
    memory_erp.STORE["down"] = False
    with in_tenant(app, acme) as session:
        letter = session.scalars(select(DeadLetter)).one()
        ok, _message = replay(letter)
        session.commit()
        assert ok and letter.status == "resolved"
    assert [p[0] for p in memory_erp.STORE["pushes"]] == ["party", "sale"]


def test_connections_without_a_quote_object_get_no_push(app: Any, acme: Any) -> None:
    connection(app, acme)  # the file connector only reads
    _won_deal(app, acme)
    run_jobs(app)
    with in_tenant(app, acme) as session:
        assert count(session, SyncRun) == 0
        assert session.scalars(select(Deal)).one().status == "won"
