"""Failed jobs: RQ's failed-job registry of the app's queue, with tenant, function, error.

A job carries its tenant id and function in its meta (``crm_platform.jobs``); the console
lists the newest first, a page at a time, and retries (requeues) or deletes one. Only ids in
the registry are acted on, so a guessed id of some other job does nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from ..extensions import db
from ..identity import Tenant
from ..ids import parse_uuid
from ..jobs import get_queue
from ..redis_conn import get_redis

PAGE_SIZE = 50


@dataclass(frozen=True)
class FailedJob:
    """One failed job as the console shows it."""

    id: str
    func: str
    tenant_id: uuid.UUID | None
    tenant: Tenant | None
    module: str | None
    error: str
    traceback: str
    failed_at: datetime | None
    args: str


def registry() -> FailedJobRegistry:
    """The failed-job registry of the app's queue."""
    return FailedJobRegistry(queue=get_queue())


def _error(traceback: str) -> str:
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _describe(job: Job, tenants: dict[uuid.UUID, Tenant]) -> FailedJob:
    meta: dict[str, Any] = job.meta or {}
    tenant_id = parse_uuid(meta.get("tenant_id"))
    latest = job.latest_result()
    traceback = (getattr(latest, "exc_string", None) or "") if latest else ""
    args = job.args[2:] if len(job.args or ()) >= 4 else job.args  # run_job(path, tenant, a, kw)
    return FailedJob(
        id=job.id,
        func=str(meta.get("func") or job.description or job.func_name),
        tenant_id=tenant_id,
        tenant=tenants.get(tenant_id) if tenant_id else None,
        module=meta.get("module"),
        error=_error(traceback),
        traceback=traceback,
        failed_at=job.ended_at,
        args=repr(args)[:500],
    )


def failed_jobs(page: int = 1) -> tuple[list[FailedJob], int]:
    """The ``page``-th page of failed jobs, newest first, and how many there are in all."""
    reg = registry()
    total = reg.count
    start = (max(page, 1) - 1) * PAGE_SIZE
    ids = reg.get_job_ids(start, start + PAGE_SIZE - 1, desc=True)
    jobs = [j for j in Job.fetch_many(ids, connection=get_redis()) if j is not None]
    tenant_ids = {parse_uuid((j.meta or {}).get("tenant_id")) for j in jobs} - {None}
    tenants = {t.id: t for t in db.session.scalars(select(Tenant).where(Tenant.id.in_(tenant_ids)))}
    return [_describe(j, tenants) for j in jobs], total


def find_failed(job_id: str) -> Job | None:
    """The failed job ``job_id`` of the app's queue, or ``None``."""
    reg = registry()
    if not job_id or len(job_id) > 100 or job_id not in reg:
        return None
    return Job.fetch(job_id, connection=get_redis())


def retry(job: Job) -> None:
    """Put a failed job back on its queue."""
    registry().requeue(job)


def delete(job: Job) -> None:
    """Remove a failed job and its data."""
    registry().remove(job, delete_job=True)
