"""Read-only API: ``/api/v1/erp_runs`` and ``/api/v1/erp_ledger`` (permission ``erp.read``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_platform.sdk import api_blueprint, api_page, get_or_404, parse_uuid, require_permission

from .models import LedgerEntry, SyncRun

runs_api = api_blueprint("erp_runs", __name__)
ledger_api = api_blueprint("erp_ledger", __name__)

UUID = {"type": "string", "format": "uuid"}
WHEN = {"type": ["string", "null"], "format": "date-time"}
RUN_SCHEMA = {
    "type": "object",
    "properties": {
        "id": UUID,
        "object": {"const": "erp_run"},
        "connection_id": UUID,
        "trigger": {"type": "string"},
        "status": {"enum": ["queued", "running", "succeeded", "partial", "failed"]},
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "deleted": {"type": "integer"},
        "failed": {"type": "integer"},
        "pushed": {"type": "integer"},
        "percent": {"type": "integer"},
        "message": {"type": ["string", "null"]},
        "started_at": WHEN,
        "finished_at": WHEN,
    },
}
LEDGER_SCHEMA = {
    "type": "object",
    "properties": {
        "id": UUID,
        "object": {"const": "erp_ledger_entry"},
        "connection_id": UUID,
        "object_key": {"type": "string"},
        "external_id": {"type": "string"},
        "crm_kind": {"type": "string"},
        "crm_id": {"type": ["string", "null"], "format": "uuid"},
        "state": {"type": "string"},
        "content_hash": {"type": "string"},
        "lineage": {"type": "object"},
        "last_synced_at": WHEN,
        "deleted_upstream_at": WHEN,
    },
}


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_json(run: SyncRun) -> dict[str, Any]:
    """A run as the API shows it."""
    return {
        "id": str(run.id),
        "object": "erp_run",
        "connection_id": str(run.connection_id),
        "trigger": run.trigger,
        "status": run.status,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "deleted": run.deleted,
        "failed": run.failed,
        "pushed": run.pushed,
        "percent": run.percent,
        "message": run.message,
        "started_at": _when(run.started_at),
        "finished_at": _when(run.finished_at),
    }


def ledger_json(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as the API shows it."""
    return {
        "id": str(entry.id),
        "object": "erp_ledger_entry",
        "connection_id": str(entry.connection_id),
        "object_key": entry.object_key,
        "external_id": entry.external_id,
        "crm_kind": entry.crm_kind,
        "crm_id": str(entry.crm_id) if entry.crm_id else None,
        "state": entry.state,
        "content_hash": entry.content_hash,
        "lineage": entry.lineage or {},
        "last_synced_at": _when(entry.last_synced_at),
        "deleted_upstream_at": _when(entry.deleted_upstream_at),
    }


@runs_api.get("")
@require_permission("erp.read")
def list_runs() -> Any:
    """List sync runs, newest first (``?connection_id=`` filters)."""
    from flask import request

    stmt = select(SyncRun)
    cid = parse_uuid(request.args.get("connection_id"))
    if cid:
        stmt = stmt.where(SyncRun.connection_id == cid)
    return api_page(stmt, SyncRun.id, run_json, list_name="erp_runs", descending=True)


@runs_api.get("/<run_id>")
@require_permission("erp.read")
def get_run(run_id: str) -> Any:
    """Get one sync run."""
    return run_json(get_or_404(SyncRun, run_id))


@ledger_api.get("")
@require_permission("erp.read")
def list_ledger() -> Any:
    """List ledger entries (``?connection_id=``, ``?object_key=``, ``?external_id=``)."""
    from flask import request

    stmt = select(LedgerEntry)
    cid = parse_uuid(request.args.get("connection_id"))
    if cid:
        stmt = stmt.where(LedgerEntry.connection_id == cid)
    for name in ("object_key", "external_id", "crm_kind", "state"):
        value = request.args.get(name)
        if value:
            stmt = stmt.where(getattr(LedgerEntry, name) == value[:200])
    return api_page(stmt, LedgerEntry.id, ledger_json, list_name="erp_ledger")


@ledger_api.get("/<entry_id>")
@require_permission("erp.read")
def get_ledger_entry(entry_id: str) -> Any:
    """Get one ledger entry."""
    return ledger_json(get_or_404(LedgerEntry, entry_id))
