"""The inbound webhook of a file/webhook connection: a signed payload is queued and synced;
a tampered, stale, unsigned or oversized one is refused with nothing written."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import in_tenant, run_jobs
from sqlalchemy import select

from crm_platform.identity import Tenant
from crm_platform.modules import disable_module
from crm_platform.sdk import Account
from plugins.erp.file_connector import signature_header
from plugins.erp.models import InboxRecord, SyncRun

from .helpers import connection, count, party, sale

SECRET = "a-long-webhook-secret-0123"


def _post(client: Any, url: str, body: bytes, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-CRM-Signature"] = header
    return client.post(url, data=body, headers=headers)


def test_a_signed_payload_is_accepted_and_synced(app: Any, acme: Any) -> None:
    cid = connection(app, acme, webhook_secret=SECRET)
    url = f"/erp/hook/acme/{cid}"
    body = json.dumps({"records": [party("P1", "Acme Corp"), sale("S1", "P1")]}).encode()
    answer = _post(app.test_client(), url, body, signature_header(SECRET, body))
    assert answer.status_code == 202 and answer.get_json()["accepted"] == 2
    run_jobs(app)
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 1
        run = session.scalars(select(SyncRun)).one()
        assert (run.trigger, run.status, run.created) == ("webhook", "succeeded", 2)


def test_tampered_stale_and_unsigned_payloads_write_nothing(app: Any, acme: Any) -> None:
    cid = connection(app, acme, webhook_secret=SECRET)
    url = f"/erp/hook/acme/{cid}"
    client = app.test_client()
    body = json.dumps({"records": [party("P1", "Acme Corp")]}).encode()
    header = signature_header(SECRET, body)
    tampered = body.replace(b"Acme Corp", b"Evil Corp")
    assert _post(client, url, tampered, header).status_code == 401
    assert (
        _post(client, url, body, signature_header("another-secret-of-16+", body)).status_code == 401
    )
    stale = signature_header(SECRET, body, timestamp=int(time.time()) - 3600)
    assert _post(client, url, body, stale).status_code == 401
    assert _post(client, url, body, None).status_code == 401
    assert _post(client, url, body, "t=abc,v1=00").status_code == 401
    huge = b'{"records": [' + b" " * (1024 * 1024) + b"]}"
    assert _post(client, url, huge, signature_header(SECRET, huge)).status_code == 413
    bad = b'{"records": [{"object": "party", "external_id": "", "data": {}}]}'
    refused = _post(client, url, bad, signature_header(SECRET, bad))
    assert (
        refused.status_code == 400 and "external_id is missing" in refused.get_json()["errors"][0]
    )
    with in_tenant(app, acme) as session:
        assert count(session, InboxRecord) == 0 and count(session, SyncRun) == 0


def test_unknown_connections_and_a_module_switched_off_answer_404(app: Any, acme: Any) -> None:
    no_secret = connection(app, acme, name="Plain")
    cid = connection(app, acme, name="Hooked", webhook_secret=SECRET)
    client = app.test_client()
    body = b'{"records": []}'
    header = signature_header(SECRET, body)
    assert _post(client, f"/erp/hook/acme/{no_secret}", body, header).status_code == 404
    assert _post(client, f"/erp/hook/nobody/{cid}", body, header).status_code == 404
    assert _post(client, "/erp/hook/acme/not-an-id", body, header).status_code == 404
    assert _post(client, f"/erp/hook/acme/{cid}", body, header).status_code == 202
    with in_tenant(app, acme) as session:
        disable_module(session.get(Tenant, acme.id), "erp")
        session.commit()
    assert (
        _post(client, f"/erp/hook/acme/{cid}", body, signature_header(SECRET, body)).status_code
        == 404
    )
