"""The sync engine through the file connector: first sync creates, a second changes nothing,
a changed record updates, conflict policies, deletion upstream, dead letters and replay,
an ERP that fails half way, products with and without Sales, invoices and payment status."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import in_tenant
from sqlalchemy import select

from crm_platform.sdk import Account, AuditEvent, Order
from crm_platform.webhooks.models import Webhook, WebhookDelivery
from plugins.erp.engine import replay
from plugins.erp.models import DeadLetter, Invoice, LedgerEntry, ObjectMapping, SyncRun
from plugins.sfa.quote_models import Product

from . import memory_erp
from .helpers import connection, count, drop, erp_tenant, party, sale, sync


def _account(session: Any, name: str) -> Account:
    return session.scalars(select(Account).where(Account.name == name)).one()


def test_first_sync_creates_and_a_second_changes_nothing(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(
        app,
        acme,
        cid,
        [
            party("P1", "Acme Corp", email="ap@acme.example"),
            party("P2", "Globex"),
            sale("S1", "P1"),
            sale("S2", "P2", total="50"),
        ],
    )
    first = sync(app, acme, cid)
    assert first | {"log": [], "message": None} == {
        "status": "succeeded",
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 0,
        "log": [],
        "message": None,
    }
    with in_tenant(app, acme) as session:
        acme_corp = _account(session, "Acme Corp")
        order = session.scalars(select(Order).where(Order.number == "SO-S1")).one()
        assert (order.account_id, order.source, order.total, order.status) == (
            acme_corp.id,
            "erp",
            100,
            "pending",
        )
        assert order.lines[0].product_name == "Widget"
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.external_id == "S1")).one()
        assert (entry.crm_kind, entry.crm_id, entry.state) == ("order", order.id, "synced")
        assert len(entry.content_hash) == 64 and entry.lineage["system"] == "file"
        before = (count(session, AuditEvent), acme_corp.updated_at, count(session, LedgerEntry))
    # nothing new: the cursor skips everything, and nothing is written but the run itself
    second = sync(app, acme, cid)
    assert (second["created"], second["updated"], second["unchanged"], second["failed"]) == (
        0,
        0,
        0,
        0,
    )
    # the same records dropped again: recognised by their hash, nothing written
    drop(app, acme, cid, [party("P1", "Acme Corp", email="ap@acme.example"), sale("S1", "P1")])
    third = sync(app, acme, cid)
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 0, 2)
    with in_tenant(app, acme) as session:
        audits = count(session, AuditEvent)
        assert (
            audits - 2,
            _account(session, "Acme Corp").updated_at,
            count(session, LedgerEntry),
        ) == before
        assert count(session, Order) == 2


def test_a_changed_record_updates_the_crm(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp"), sale("S1", "P1")])
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:  # a subscriber of account changes
        session.add(Webhook(url="https://hooks.example/crm", events=["account.updated"]))
        session.commit()
    drop(
        app,
        acme,
        cid,
        [
            party("P1", "Acme Corporation", phone="+1 555 0100"),
            sale("S1", "P1", status="shipped", total="120"),
        ],
    )
    result = sync(app, acme, cid)
    assert (result["created"], result["updated"]) == (0, 2)
    with in_tenant(app, acme) as session:
        account = _account(session, "Acme Corporation")
        assert account.phone
        order = session.scalars(select(Order)).one()
        assert (order.status, order.total) == ("shipped", 120)
        # the records service validated the update and says where it came from
        (delivery,) = session.scalars(select(WebhookDelivery)).all()
        event = json.loads(delivery.payload)["data"]
        assert event["source"] == "erp" and set(event["changed"]) == {"name", "phone"}


def _policy(app: Any, tenant: Any, cid: str, policy: str) -> None:
    with in_tenant(app, tenant) as session:
        session.add(
            ObjectMapping(
                connection_id=uuid.UUID(cid),
                object_key="party",
                direction="in",
                enabled=True,
                fields=[
                    {"external": "name", "crm": "name", "policy": "erp_wins"},
                    {"external": "email", "crm": "email", "policy": policy},
                ],
            )
        )
        session.commit()


def _edit_email(app: Any, tenant: Any, email: str, when: datetime) -> None:
    with in_tenant(app, tenant) as session:
        account = _account(session, "Acme Corp")
        account.email, account.updated_at = email, when
        session.commit()


def test_crm_wins_keeps_the_crm_value(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    _policy(app, acme, cid, "crm_wins")
    drop(app, acme, cid, [party("P1", "Acme Corp", email="erp@acme.example")])
    sync(app, acme, cid)
    _edit_email(app, acme, "crm@acme.example", datetime.now(UTC))
    drop(app, acme, cid, [party("P1", "Acme Corp", email="erp2@acme.example")])
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        assert _account(session, "Acme Corp").email == "crm@acme.example"


def test_newest_wins_compares_the_times_of_both_changes(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    _policy(app, acme, cid, "newest_wins")
    drop(app, acme, cid, [party("P1", "Acme Corp", email="erp@acme.example")])
    sync(app, acme, cid)
    now = datetime.now(UTC)
    # the CRM changed the e-mail after the ERP's change: the CRM value stays
    _edit_email(app, acme, "crm@acme.example", now)
    drop(
        app,
        acme,
        cid,
        [
            party(
                "P1",
                "Acme Corp",
                email="old@acme.example",
                updated_at=(now - timedelta(hours=1)).isoformat(),
            )
        ],
    )
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        assert _account(session, "Acme Corp").email == "crm@acme.example"
    # the ERP changed it later: the ERP value wins
    drop(
        app,
        acme,
        cid,
        [
            party(
                "P1",
                "Acme Corp",
                email="new@acme.example",
                updated_at=(now + timedelta(hours=1)).isoformat(),
            )
        ],
    )
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        assert _account(session, "Acme Corp").email == "new@acme.example"


def test_erp_wins_overwrites_a_crm_edit(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp", email="erp@acme.example")])
    sync(app, acme, cid)
    _edit_email(app, acme, "crm@acme.example", datetime.now(UTC) + timedelta(days=1))
    drop(app, acme, cid, [party("P1", "Acme Corp", email="erp2@acme.example")])
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        assert _account(session, "Acme Corp").email == "erp2@acme.example"


def test_deleted_upstream_is_marked_and_the_crm_record_kept(
    app: Any, acme: Any, owner: Any
) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp")])
    sync(app, acme, cid)
    drop(app, acme, cid, [{"object": "party", "external_id": "P1", "deleted": True, "data": {}}])
    result = sync(app, acme, cid)
    assert result["deleted"] == 1 and any("deleted in the ERP" in line for line in result["log"])
    with in_tenant(app, acme) as session:
        account = _account(session, "Acme Corp")
        assert account.deleted_at is None
        entry = session.scalars(select(LedgerEntry)).one()
        assert entry.state == "deleted" and entry.deleted_upstream_at is not None
        account_id = account.id
    page = owner.get(f"/t/acme/accounts/{account_id}")
    assert "deleted in the ERP" in page.text
    assert "deleted" in owner.get("/t/acme/erp/ledger?state=deleted").text


def test_a_bad_record_goes_to_dead_letters_and_replays_once_fixed(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(
        app,
        acme,
        cid,
        [
            party("P1", "Acme Corp"),
            sale("S1", "P1"),
            sale("S2", "P9"),
            sale("S3", "P1", status="bogus"),
        ],
    )
    result = sync(app, acme, cid)
    assert (result["status"], result["created"], result["failed"]) == ("partial", 2, 2)
    with in_tenant(app, acme) as session:
        letters = {d.external_id: d for d in session.scalars(select(DeadLetter))}
        assert "P9" in letters["S2"].error and "not been synced" in letters["S2"].error
        assert "bogus" in letters["S3"].error
        assert count(session, Order) == 1
        letter_id = letters["S2"].id
    # replay before the fix fails again and says why
    with in_tenant(app, acme) as session:
        ok, message = replay(session.get(DeadLetter, (acme.id, letter_id)))
        session.commit()
        assert not ok and "P9" in message
    # the missing party arrives; the replay now creates the order
    drop(app, acme, cid, [party("P9", "Initech")])
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        letter = session.get(DeadLetter, (acme.id, letter_id))
        ok, _message = replay(letter)
        session.commit()
        assert ok and letter.status == "resolved" and letter.attempts == 3
        order = session.scalars(select(Order).where(Order.number == "SO-S2")).one()
        assert order.account_id == _account(session, "Initech").id
    # a replay through the page: the button on the letter
    assert ok


def test_a_newer_version_resolves_the_dead_letter(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp"), sale("S1", "P1", status="bogus")])
    sync(app, acme, cid)
    drop(app, acme, cid, [sale("S1", "P1", status="paid")])
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        assert session.scalars(select(DeadLetter)).one().status == "resolved"
        assert session.scalars(select(Order)).one().status == "paid"


def test_an_erp_failing_half_way_keeps_committed_pages_only(app: Any, acme: Any) -> None:
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    for i in range(7):
        memory_erp.put("party", {"name": f"Party {i}"})
    memory_erp.STORE["fail_on_pull"] = 3  # pages 1 and 2 come, the third pull times out
    result = sync(app, acme, cid, page_size=3)
    assert result["status"] == "failed" and "timed out half way" in result["message"]
    assert result["raised"] == "ConnectorError"
    with in_tenant(app, acme) as session:
        assert count(session, Account) == count(session, LedgerEntry)
        synced = count(session, Account)
    # the ERP is back: the run continues from the stored cursor, nothing is duplicated
    memory_erp.STORE["fail_on_pull"] = 0
    result = sync(app, acme, cid)
    assert result["status"] == "succeeded" and result["created"] == 7 - synced
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 7


def test_an_unreachable_erp_fails_the_run_cleanly(app: Any, acme: Any) -> None:
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    memory_erp.put("party", {"name": "Acme"})
    memory_erp.STORE["down"] = True
    result = sync(app, acme, cid)
    assert (result["status"], result["created"]) == ("failed", 0)
    assert "timed out" in result["message"]
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 0 and count(session, LedgerEntry) == 0
        run = session.scalars(select(SyncRun)).one()
        assert run.finished_at is not None


def test_products_go_to_the_sales_catalogue_or_are_skipped(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(
        app,
        acme,
        cid,
        [
            {
                "object": "product",
                "external_id": "PR1",
                "data": {"code": "W-1", "name": "Widget", "unit_price": "9.50"},
            }
        ],
    )
    assert sync(app, acme, cid)["created"] == 1
    with in_tenant(app, acme) as session:
        product = session.scalars(select(Product)).one()
        assert (product.code, product.unit_price) == ("W-1", 9.5)
    other = erp_tenant(app, "initech", "owner@initech.example", modules=("erp",))
    cid2 = connection(app, other)
    drop(
        app,
        other,
        cid2,
        [
            {
                "object": "product",
                "external_id": "PR1",
                "data": {"code": "W-1", "name": "Widget", "unit_price": "9.50"},
            }
        ],
    )
    result = sync(app, other, cid2)
    assert result["created"] == 0 and any("Products were skipped" in line for line in result["log"])


def test_invoices_set_payment_status_on_the_order_and_the_account(
    app: Any, acme: Any, owner: Any
) -> None:
    cid = connection(app, acme)
    drop(
        app,
        acme,
        cid,
        [
            party("P1", "Acme Corp", credit_limit="5000"),
            sale("S1", "P1"),
            {
                "object": "invoice",
                "external_id": "I1",
                "data": {
                    "number": "INV-1",
                    "sale": "S1",
                    "state": "open",
                    "total": "100",
                    "amount_due": "100",
                    "due_date": "2020-01-31",
                    "currency": "USD",
                },
            },
        ],
    )
    assert sync(app, acme, cid)["created"] == 3
    with in_tenant(app, acme) as session:
        account_id = _account(session, "Acme Corp").id
        assert session.scalars(select(Invoice)).one().account_id == account_id
    page = owner.get(f"/t/acme/accounts/{account_id}").text
    assert (
        "Credit and payments" in page and "Overdue" in page and "INV-1" in page and "5000" in page
    )
    drop(
        app,
        acme,
        cid,
        [
            {
                "object": "invoice",
                "external_id": "I1",
                "data": {
                    "number": "INV-1",
                    "sale": "S1",
                    "state": "paid",
                    "total": "100",
                    "amount_due": "0",
                    "currency": "USD",
                },
            }
        ],
    )
    assert sync(app, acme, cid)["updated"] == 1
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Order)).one().status == "paid"
    assert "Paid up" in owner.get(f"/t/acme/accounts/{account_id}").text


@pytest.mark.postgres
def test_a_database_error_sinks_only_its_record(app: Any, acme: Any) -> None:
    """A value PostgreSQL refuses (a NUL character) fails the fast way; the page is applied
    again record by record and only that record becomes a dead letter."""
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    memory_erp.put("party", {"name": "Good One"})
    memory_erp.put("party", {"name": "Bad\x00Name"})
    memory_erp.put("party", {"name": "Good Two"})
    memory_erp.put("party", {"name": "x"}, "X" * 300)
    result = sync(app, acme, cid)
    assert (result["status"], result["created"], result["failed"]) == ("partial", 2, 2)
    with in_tenant(app, acme) as session:
        assert sorted(a.name for a in session.scalars(select(Account))) == ["Good One", "Good Two"]
        errors = sorted(d.error for d in session.scalars(select(DeadLetter)))
        assert any("too long" in e for e in errors) and any("Unexpected error" in e for e in errors)
    again = sync(app, acme, cid)
    assert (again["created"], again["failed"]) == (0, 0)


def test_invoices_appear_on_the_account_timeline(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    drop(
        app,
        acme,
        cid,
        [
            party("P1", "Acme Corp"),
            {
                "object": "invoice",
                "external_id": "I7",
                "data": {
                    "number": "INV-7",
                    "party": "P1",
                    "state": "paid",
                    "total": "80",
                    "date": "2026-03-01",
                },
            },
        ],
    )
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        account_id = _account(session, "Acme Corp").id
    page = owner.get(f"/t/acme/accounts/{account_id}").text
    assert "Invoice INV-7 (ERP)" in page and "80.00 USD, paid" in page


def test_a_connector_bug_fails_the_run_with_its_message(app: Any, acme: Any) -> None:
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    memory_erp.put("party", {"name": "Acme"})
    memory_erp.STORE["crash"] = True
    with in_tenant(app, acme) as session:
        from plugins.erp.engine import execute_run, start_run
        from plugins.erp.models import Connection

        run = start_run(session.get(Connection, (acme.id, uuid.UUID(cid))), "manual")
        session.commit()
        with pytest.raises(RuntimeError):
            execute_run(run)
        session.rollback()
        run = session.scalars(select(SyncRun)).one()
        assert run.status == "failed" and "RuntimeError: a bug in the connector" in run.message
        assert run.finished_at is not None
