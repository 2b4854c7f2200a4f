"""The ERP module's jobs: a sync run, the schedule that starts due runs, a deal push.

Jobs run in the tenant's context and are retried with backoff by the job wrapper when they
raise: an unreachable ERP (a retryable ``ConnectorError``) marks the run failed with the
message, commits that, and raises so the wrapper tries again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any

from flask_babel import gettext as _
from rq import get_current_job
from sqlalchemy import select

from crm_platform.sdk import db, job, require_tenant, utcnow

from .connector import ConnectorError
from .engine import RunContext, _finish, active_run, execute_run, start_run
from .models import Connection, DeadLetter, SyncRun
from .registry import get_connector, runtime_settings


def _retries_left() -> int:
    current = get_current_job()
    return int(getattr(current, "retries_left", 0) or 0) if current is not None else 0


@job(retries=3, timeout=3600)
def sync_connection(run_id: str) -> dict[str, Any]:
    """Execute the queued run ``run_id`` (again, on a retry after a failure)."""
    run = db.session.get(SyncRun, (require_tenant().id, uuid.UUID(run_id)))
    if run is None:
        return {"skipped": "run not found"}
    if run.status in ("succeeded", "partial"):
        return {"skipped": "run already finished"}
    try:
        execute_run(run)
    except ConnectorError as exc:
        if exc.retryable and _retries_left() > 0:
            run = db.session.get(SyncRun, (require_tenant().id, uuid.UUID(run_id)))
            run.message = (run.message or "") + " " + _("Retrying.")
            db.session.commit()
            raise
        return {"status": "failed", "message": exc.message}
    return {
        "status": run.status,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
    }


@job(retries=0, timeout=300)
def sync_due() -> dict[str, Any]:
    """Start a run for every enabled connection whose interval has passed (and none running)."""
    now, started = utcnow(), 0
    rows = db.session.scalars(
        select(Connection).where(Connection.enabled.is_(True), Connection.interval_minutes > 0)
    )
    for connection in rows:
        last = connection.last_run_at
        if last is not None and last.tzinfo is None:  # SQLite keeps no time zone
            last = last.replace(tzinfo=UTC)
        if last is not None and last + timedelta(minutes=connection.interval_minutes) > now:
            continue
        if active_run(connection) is not None:
            continue
        start_run(connection, "schedule")
        started += 1
    return {"started": started}


@job(retries=3, timeout=600)
def push_deal_job(connection_id: str, deal_id: str) -> dict[str, Any]:
    """Push a won deal to one connection as a sale quotation (see ``push.push_deal``)."""
    from .push import push_deal

    tenant_id = require_tenant().id
    connection = db.session.get(Connection, (tenant_id, uuid.UUID(connection_id)))
    connector = get_connector(connection.connector_key) if connection else None
    if connection is None or connector is None or not connection.enabled:
        return {"skipped": "connection unavailable"}
    run = SyncRun(
        connection_id=connection.id, trigger="push", status="running", log=[], started_at=utcnow()
    )
    run.attempts = 1
    db.session.add(run)
    db.session.flush()
    ctx = RunContext(connection, connector, run, runtime_settings(connection))
    key = f"deal:{deal_id}"
    letter = db.session.scalars(
        select(DeadLetter).where(
            DeadLetter.connection_id == connection.id,
            DeadLetter.external_id == key,
            DeadLetter.status == "open",
        )
    ).first()
    try:
        outcome = push_deal(ctx, uuid.UUID(deal_id), letter=letter)
    except ConnectorError as exc:
        db.session.rollback()
        connection = db.session.get(Connection, (tenant_id, uuid.UUID(connection_id)))
        run = SyncRun(connection_id=connection.id, trigger="push", log=[], started_at=utcnow())
        run.failed = 1
        db.session.add(run)
        letter = db.session.scalars(
            select(DeadLetter).where(
                DeadLetter.connection_id == connection.id,
                DeadLetter.external_id == key,
                DeadLetter.status == "open",
            )
        ).first()
        if letter is None:
            db.session.add(
                DeadLetter(
                    connection_id=connection.id,
                    object_key="deal",
                    external_id=key,
                    direction="out",
                    payload={"deal_id": deal_id},
                    error=exc.message,
                )
            )
        else:
            letter.attempts += 1
            letter.error, letter.last_attempt_at = exc.message, utcnow()
        _finish(run, connection, "failed", _("The ERP failed: %(error)s", error=exc.message))
        db.session.commit()
        if exc.retryable and _retries_left() > 0:
            raise
        return {"status": "failed", "message": exc.message}
    status = "partial" if outcome == "failed" else "succeeded"
    _finish(run, connection, status, _("Won deal pushed: %(outcome)s.", outcome=outcome))
    return {"status": status, "outcome": outcome}
