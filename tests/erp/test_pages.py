"""The ERP pages: connections with secrets never shown back, check, sync now with a live
progress bar, CSV/JSON uploads with per-line errors, the mapping screen (saved, refused
when wrong, then used by the sync), ledger and dead letters with replay, the read-only API,
another tenant's ids answering 404, and the module switched off."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from conftest import in_tenant, run_jobs
from helpers_api import auth, make_key
from sqlalchemy import select

from crm_platform.identity import Tenant
from crm_platform.modules import disable_module
from crm_platform.sdk import Account
from plugins.erp.models import (
    Connection,
    DeadLetter,
    InboxRecord,
    LedgerEntry,
    ObjectMapping,
    SyncRun,
)
from plugins.erp.registry import runtime_settings

from . import memory_erp
from .helpers import connection, count, drop, erp_tenant, party, sale, signed_in, sync


def test_create_edit_and_check_a_connection_keeping_the_secret(app: Any, owner: Any) -> None:
    assert "New connection" in owner.get("/t/acme/erp/").text
    assert "Memory ERP" in owner.get("/t/acme/erp/new").text
    bad = owner.post("/t/acme/erp/new", data={"connector": "memory", "name": "", "setting_url": ""})
    assert bad.status_code == 400 and "Name the connection." in bad.text
    made = owner.post(
        "/t/acme/erp/new",
        data={
            "connector": "memory",
            "name": "Main ERP",
            "setting_url": "mem://",
            "setting_password": "s3cret",
            "interval_minutes": "30",
            "enabled": "on",
        },
    )
    assert made.status_code == 302
    cid = made.headers["Location"].rsplit("/", 1)[1]
    form = owner.get(f"/t/acme/erp/{cid}/edit").text
    assert "s3cret" not in form and "Stored. Leave empty to keep it" in form
    owner.post(
        f"/t/acme/erp/{cid}/edit",
        data={
            "name": "Main ERP",
            "setting_url": "mem://2",
            "setting_password": "",
            "interval_minutes": "0",
            "enabled": "on",
        },
    )
    with in_tenant(app, _acme(app)) as session:
        row = session.get(Connection, (_acme(app).id, uuid.UUID(cid)))
        assert row.settings["url"] == "mem://2" and row.interval_minutes == 0
        # the secret is kept, encrypted at rest, and handed to the connector in clear
        stored = row.settings["password"]
        assert stored.startswith("sealed:") and "s3cret" not in stored
        assert runtime_settings(row)["password"] == "s3cret"
    checked = owner.post(f"/t/acme/erp/{cid}/check", follow_redirects=True)
    assert "the connection works" in checked.text
    memory_erp.STORE["down"] = True
    checked = owner.post(f"/t/acme/erp/{cid}/check", follow_redirects=True)
    assert "connection refused" in checked.text


def _acme(app: Any) -> Any:
    with app.app_context():
        from crm_platform.extensions import db

        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "acme")).one()
        return type("T", (), {"id": tenant.id, "slug": "acme"})


def test_sync_now_queues_a_run_with_a_progress_bar(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp"), sale("S1", "P1")])
    queued = owner.post(f"/t/acme/erp/{cid}/sync")
    assert queued.status_code == 302 and "/runs/" in queued.headers["Location"]
    page = owner.get(queued.headers["Location"]).text
    assert "queued" in page and 'hx-trigger="every 2s"' in page and "<progress" in page
    run_jobs(app)
    done = owner.get(queued.headers["Location"] + "/progress").text
    assert "succeeded" in done and 'value="100"' in done and "hx-trigger" not in done
    assert "2 created" in done
    runs = owner.get("/t/acme/erp/runs").text
    assert "succeeded" in runs
    ledger = owner.get("/t/acme/erp/ledger").text
    assert "P1" in ledger and "S1" in ledger


def test_csv_upload_is_checked_whole_with_errors_per_line(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    bad_csv = "external_id,name,email,colour\nP1,Acme,,red\n"
    refused = owner.post(
        f"/t/acme/erp/{cid}/upload",
        data={"object": "party", "file": (io.BytesIO(bad_csv.encode()), "parties.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and "unknown column(s) colour" in refused.text
    bad_csv = "external_id,name,updated_at\nP1,Acme,\n,Nameless,\nP1,Twin,\nP3,Late,yesterday\n"
    refused = owner.post(
        f"/t/acme/erp/{cid}/upload",
        data={"object": "party", "file": (io.BytesIO(bad_csv.encode()), "parties.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert "line 3: external_id is missing" in refused.text
    assert "line 4: duplicate external_id P1 (also at line 2)" in refused.text
    assert "line 5: updated_at is not a date and time" in refused.text
    with in_tenant(app, acme) as session:
        assert count(session, InboxRecord) == 0 and count(session, SyncRun) == 0
    good_csv = "external_id,name,email\nP1,Acme Corp,ap@acme.example\nP2,Globex,\n"
    accepted = owner.post(
        f"/t/acme/erp/{cid}/upload",
        data={"object": "party", "file": (io.BytesIO(good_csv.encode()), "parties.csv")},
        content_type="multipart/form-data",
    )
    assert accepted.status_code == 302
    run_jobs(app)
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 2
    big = b"x" * (5 * 1024 * 1024 + 10)
    refused = owner.post(
        f"/t/acme/erp/{cid}/upload",
        data={"object": "party", "file": (io.BytesIO(big), "big.json")},
        content_type="multipart/form-data",
    )
    assert refused.status_code in (400, 413)


def test_json_upload_of_several_objects(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    body = json.dumps({"records": [party("P1", "Acme Corp"), sale("S1", "P1")]}).encode()
    accepted = owner.post(
        f"/t/acme/erp/{cid}/upload",
        data={"file": (io.BytesIO(body), "drop.json")},
        content_type="multipart/form-data",
    )
    assert accepted.status_code == 302
    run_jobs(app)
    assert "Acme Corp" in owner.get("/t/acme/accounts").text
    broken = owner.post(
        f"/t/acme/erp/{cid}/upload",
        data={"file": (io.BytesIO(b'{"records": [{"object": "planet"}]}'), "drop.json")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 400 and "record 1: unknown object" in broken.text


def test_the_mapping_screen_saves_refuses_and_is_used(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    page = owner.get(f"/t/acme/erp/{cid}/mapping").text
    assert "Customers (parties)" in page and "Newest wins" in page
    wrong = owner.post(
        f"/t/acme/erp/{cid}/mapping/party",
        data={
            "direction": "out",
            "enabled": "on",
            "external": ["name", "colour", "email"],
            "crm": ["name", "name", "shoe_size"],
            "policy": ["erp_wins", "erp_wins", "sometimes"],
        },
    )
    assert wrong.status_code == 400
    for message in (
        "can only read this object",
        "no field &#39;colour&#39;",
        "&#39;name&#39; is already mapped on row 1",
        "no field &#39;shoe_size&#39;",
        "Choose a conflict policy",
    ):
        assert message in wrong.text, message
    with in_tenant(app, acme) as session:
        assert count(session, ObjectMapping) == 0
    # the ERP's "notes" go into the CRM's name... no: map the e-mail to notes and drop the e-mail
    saved = owner.post(
        f"/t/acme/erp/{cid}/mapping/party",
        data={
            "direction": "in",
            "enabled": "on",
            "external": ["name", "email", ""],
            "crm": ["name", "notes", ""],
            "policy": ["erp_wins", "crm_wins", "erp_wins"],
        },
    )
    assert saved.status_code == 302
    assert "custom" in owner.get(f"/t/acme/erp/{cid}/mapping").text
    drop(app, acme, cid, [party("P1", "Acme Corp", email="ap@acme.example")])
    result = sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        account = session.scalars(select(Account)).one()
        assert (account.notes, account.email) == ("ap@acme.example", None)
    assert not any("without the mapped field" in line for line in result["log"])
    # a mapped field the ERP's records lack: said once in the run's log, nothing overwritten
    owner.post(
        f"/t/acme/erp/{cid}/mapping/party",
        data={
            "direction": "in",
            "enabled": "on",
            "external": ["name", "email", "website"],
            "crm": ["name", "notes", "website"],
            "policy": ["erp_wins"] * 3,
        },
    )
    drop(app, acme, cid, [party("P1", "Acme Corp", email="ap@acme.example"), party("P2", "Globex")])
    result = sync(app, acme, cid)
    assert sum("without the mapped field website" in line for line in result["log"]) == 1
    assert "ap@acme.example" in owner.get("/t/acme/erp/ledger").text
    # the product object switched off: products wait in the inbox, nothing is created
    owner.post(
        f"/t/acme/erp/{cid}/mapping/product",
        data={
            "direction": "in",
            "external": ["code", "name"],
            "crm": ["code", "name"],
            "policy": ["erp_wins", "erp_wins"],
        },
    )
    drop(
        app,
        acme,
        cid,
        [{"object": "product", "external_id": "PR1", "data": {"code": "W-1", "name": "Widget"}}],
    )
    assert sync(app, acme, cid)["created"] == 0
    reset = owner.post(f"/t/acme/erp/{cid}/mapping/party", data={"reset": "1"})
    assert reset.status_code == 302
    with in_tenant(app, acme) as session:
        assert [m.object_key for m in session.scalars(select(ObjectMapping))] == ["product"]


def test_dead_letters_page_and_replay_button(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [sale("S1", "P1")])
    sync(app, acme, cid)
    page = owner.get("/t/acme/erp/dead-letters").text
    assert "S1" in page and "has not been synced" in page
    with in_tenant(app, acme) as session:
        letter_id = session.scalars(select(DeadLetter)).one().id
    assert "SO-S1" in owner.get(f"/t/acme/erp/dead-letters/{letter_id}").text
    failed = owner.post(f"/t/acme/erp/dead-letters/{letter_id}/replay", follow_redirects=True)
    assert "failed again" in failed.text
    drop(app, acme, cid, [party("P1", "Acme Corp")])
    sync(app, acme, cid)
    done = owner.post(f"/t/acme/erp/dead-letters/{letter_id}/replay", follow_redirects=True)
    assert "Replayed" in done.text and "resolved" in done.text


def test_the_read_only_api_lists_runs_and_the_ledger(app: Any, acme: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp")])
    sync(app, acme, cid)
    client = app.test_client()
    token = make_key(app, acme, "owner@acme.example")
    runs = client.get("/api/v1/erp_runs", headers=auth(token)).get_json()
    assert runs["data"][0]["status"] == "succeeded" and runs["data"][0]["created"] == 1
    ledger = client.get("/api/v1/erp_ledger?external_id=P1", headers=auth(token)).get_json()
    assert ledger["data"][0]["crm_kind"] == "account"
    assert client.post("/api/v1/erp_runs", headers=auth(token), json={}).status_code == 405


def test_another_tenant_gets_404_for_every_id(app: Any, acme: Any, owner: Any) -> None:
    cid = connection(app, acme)
    drop(app, acme, cid, [party("P1", "Acme Corp"), sale("S9", "P9")])
    sync(app, acme, cid)
    with in_tenant(app, acme) as session:
        run_id = session.scalars(select(SyncRun)).first().id
        letter_id = session.scalars(select(DeadLetter)).one().id
        entry_id = session.scalars(select(LedgerEntry)).one().id
    erp_tenant(app, "globex", "owner@globex.example")
    other = signed_in(app, "owner@globex.example")
    for url in (
        f"/t/globex/erp/{cid}",
        f"/t/globex/erp/{cid}/edit",
        f"/t/globex/erp/{cid}/mapping",
        f"/t/globex/erp/runs/{run_id}",
        f"/t/globex/erp/runs/{run_id}/progress",
        f"/t/globex/erp/dead-letters/{letter_id}",
    ):
        assert other.get(url).status_code == 404, url
    for url in (
        f"/t/globex/erp/{cid}/sync",
        f"/t/globex/erp/{cid}/check",
        f"/t/globex/erp/dead-letters/{letter_id}/replay",
        f"/t/globex/erp/{cid}/mapping/party",
    ):
        assert other.post(url).status_code == 404, url
    assert "Acme Corp" not in other.get("/t/globex/erp/ledger").text
    assert "P1" not in other.get("/t/globex/erp/ledger").text
    assert other.get(f"/t/acme/erp/{cid}").status_code == 404  # not a member of acme
    token = make_key(app, _tenant(app, "globex"), "owner@globex.example")
    client = app.test_client()
    assert client.get(f"/api/v1/erp_runs/{run_id}", headers=auth(token)).status_code == 404
    assert client.get(f"/api/v1/erp_ledger/{entry_id}", headers=auth(token)).status_code == 404


def _tenant(app: Any, slug: str) -> Any:
    with app.app_context():
        from crm_platform.extensions import db

        return db.session.scalars(select(Tenant).where(Tenant.slug == slug)).one()


def test_members_without_the_permission_and_a_module_switched_off(
    app: Any, acme: Any, owner: Any, factory: Any
) -> None:
    cid = connection(app, acme)
    factory.member(acme, "rep@acme.example", "member")
    rep = signed_in(app, "rep@acme.example")
    assert rep.get("/t/acme/erp/").status_code == 403
    assert "/t/acme/erp/" not in rep.get("/t/acme/").text
    assert "/t/acme/erp/" in owner.get("/t/acme/").text
    with in_tenant(app, acme) as session:
        disable_module(session.get(Tenant, acme.id), "erp")
        session.commit()
    for url in (
        "/t/acme/erp/",
        f"/t/acme/erp/{cid}",
        "/t/acme/erp/runs",
        "/t/acme/erp/ledger",
        "/t/acme/erp/dead-letters",
        f"/t/acme/erp/{cid}/mapping",
    ):
        assert owner.get(url).status_code == 404, url
