"""The ``erp_connectors`` hook, the schedule that starts due runs, the job that retries an
unreachable ERP, and the webhook of one tenant's connection under another tenant's name."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from conftest import in_tenant, run_jobs
from sqlalchemy import select

from crm_platform.sdk import Account, utcnow
from plugins.erp.connector import Connector
from plugins.erp.file_connector import signature_header
from plugins.erp.jobs import sync_due
from plugins.erp.models import Connection, SyncRun
from plugins.erp.registry import connectors

from . import memory_erp
from .helpers import connection, count, erp_tenant, party, signed_in


def test_hook_erp_connectors(app: Any) -> None:
    """Connectors come from every plugin that implements the ERP module's own hook."""
    with app.app_context():
        found = connectors()
    assert {"file", "memory"} <= set(found)
    assert all(isinstance(c, Connector) for c in found.values())
    assert found["memory"].name == "Memory ERP"


def test_the_schedule_starts_runs_of_due_connections(app: Any, acme: Any) -> None:
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    paused = connection(app, acme, key="memory", name="Paused", url="mem://", password="s3cret")
    with in_tenant(app, acme) as session:
        session.get(Connection, (acme.id, uuid.UUID(cid))).interval_minutes = 60
        row = session.get(Connection, (acme.id, uuid.UUID(paused)))
        row.interval_minutes, row.enabled = 60, False
        session.commit()
    memory_erp.put("party", {"name": "Acme"})
    with in_tenant(app, acme) as session:
        assert sync_due() == {"started": 1}
        assert sync_due() == {"started": 0}  # one queued already
        session.commit()
    run_jobs(app)
    with in_tenant(app, acme) as session:
        run = session.scalars(select(SyncRun)).one()
        assert (run.trigger, run.status, run.created) == ("schedule", "succeeded", 1)
        assert sync_due() == {"started": 0}  # ran a moment ago
        row = session.get(Connection, (acme.id, uuid.UUID(cid)))
        row.last_run_at = utcnow() - timedelta(minutes=61)
        assert sync_due() == {"started": 1}
        session.rollback()


def test_the_sync_job_retries_an_unreachable_erp_then_fails(
    app: Any, acme: Any, owner: Any
) -> None:
    cid = connection(app, acme, key="memory", url="mem://", password="s3cret")
    memory_erp.put("party", {"name": "Acme"})
    memory_erp.STORE["down"] = True
    assert owner.post(f"/t/acme/erp/{cid}/sync").status_code == 302
    run_jobs(app)
    with in_tenant(app, acme) as session:
        run = session.scalars(select(SyncRun)).one()
        assert run.status == "failed" and "timed out" in run.message
        assert run.attempts == 4  # the first try and three retries
        assert count(session, Account) == 0
        assert session.get(Connection, (acme.id, uuid.UUID(cid))).last_status == "failed"
    page = owner.get(f"/t/acme/erp/{cid}").text
    assert "failed" in page
    # back up: the next run syncs it
    memory_erp.STORE["down"] = False
    owner.post(f"/t/acme/erp/{cid}/sync")
    run_jobs(app)
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 1


def test_a_webhook_under_another_tenants_name_answers_404(app: Any, acme: Any) -> None:
    secret = "a-long-webhook-secret-0123"
    cid = connection(app, acme, webhook_secret=secret)
    erp_tenant(app, "globex", "owner@globex.example")
    body = b'{"records": [' + str(party("P1", "Evil")).replace("'", '"').encode() + b"]}"
    answer = app.test_client().post(
        f"/erp/hook/globex/{cid}",
        data=body,
        headers={
            "X-CRM-Signature": signature_header(secret, body),
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 404
    other = signed_in(app, "owner@globex.example")
    assert other.get("/t/globex/erp/").status_code == 200
    with in_tenant(app, acme) as session:
        assert count(session, Account) == 0
