"""Stored tenant exports: the "Export data" job and its downloadable ZIP.

The archive is kept **in the database** (``tenant_export_chunks``, 4 MiB per row) rather
than in the instance directory: web processes and workers may run on different machines,
and every one of them reaches the database; the download streams the chunks one by one, so
neither the job nor the download holds the whole archive in memory (the job builds it in a
temporary file first). Exports expire after ``TENANT_EXPORT_KEEP_HOURS`` (default 72) and
are deleted with their tenant. ``tenant_exports`` is a platform table (its tenant column is
``target_tenant_id``): an archive is never part of another archive.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from rq import get_current_job
from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Base, db
from .ids import uuid7
from .jobs import job, set_progress
from .tenancy import require_tenant, utcnow

CHUNK = 4 * 1024 * 1024
DEFAULT_KEEP_HOURS = 72


class TenantExport(Base):
    """One export of a tenant's data: queued → running → done (or failed), then expires."""

    __tablename__ = "tenant_exports"
    __table_args__ = (Index("ix_tenant_exports_tenant", "target_tenant_id", "requested_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    target_tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE")
    )
    requested_by: Mapped[str] = mapped_column(String(254))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    job_id: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def expired(self) -> bool:
        """True once the archive is past its keeping time."""
        expires = self.expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=utcnow().tzinfo)
        return expires is not None and expires <= utcnow()

    @property
    def downloadable(self) -> bool:
        """Done and not expired."""
        return self.status == "done" and not self.expired


class TenantExportChunk(Base):
    """One piece of an export's ZIP (``seq`` from 0)."""

    __tablename__ = "tenant_export_chunks"

    export_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenant_exports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


def keep_hours() -> int:
    """How long a finished export stays downloadable."""
    value = current_app.config.get("TENANT_EXPORT_KEEP_HOURS")
    if value is None:
        value = os.environ.get("CRM_TENANT_EXPORT_KEEP_HOURS", DEFAULT_KEEP_HOURS)
    return max(1, int(value))


def request_export(tenant: Any, requested_by: str) -> TenantExport:
    """Add an export row and queue its job after commit (the caller commits)."""
    from .tenancy import tenant_context

    row = TenantExport(target_tenant_id=tenant.id, requested_by=requested_by[:254])
    db.session.add(row)
    db.session.flush()
    with tenant_context(tenant):
        build_export.enqueue_after_commit(str(row.id))
    return row


def exports_of(tenant_id: uuid.UUID, limit: int = 5) -> list[TenantExport]:
    """The latest exports of a tenant, newest first."""
    stmt = (
        select(TenantExport)
        .where(TenantExport.target_tenant_id == tenant_id)
        .order_by(TenantExport.requested_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def store_archive(row: TenantExport, fh: Any) -> None:
    """Copy a finished archive (a binary file at position 0) into chunks of ``row``."""
    db.session.execute(delete(TenantExportChunk).where(TenantExportChunk.export_id == row.id))
    digest, size, seq = hashlib.sha256(), 0, 0
    while True:
        data = fh.read(CHUNK)
        if not data:
            break
        digest.update(data)
        size += len(data)
        chunk = TenantExportChunk(export_id=row.id, seq=seq, data=data)
        db.session.add(chunk)
        db.session.flush()
        db.session.expunge(chunk)  # keep one chunk in memory at a time
        seq += 1
    row.size, row.sha256 = size, digest.hexdigest()


def iter_archive(export_id: uuid.UUID) -> Iterator[bytes]:
    """The archive's bytes, one chunk at a time (for a streamed download)."""
    seq = 0
    while True:
        data = db.session.execute(
            select(TenantExportChunk.data).where(
                TenantExportChunk.export_id == export_id, TenantExportChunk.seq == seq
            )
        ).scalar_one_or_none()
        if data is None:
            return
        yield bytes(data)
        seq += 1


def purge_expired(now: datetime | None = None) -> int:
    """Delete exports past their keeping time (chunks go with them); returns how many."""
    now = now or utcnow()
    rows = db.session.scalars(select(TenantExport).where(TenantExport.expires_at.is_not(None)))
    ids = [r.id for r in rows if r.expired]
    if ids:
        db.session.execute(delete(TenantExport).where(TenantExport.id.in_(ids)))
    return len(ids)


@job(retries=3, timeout=600)
def purge_expired_exports() -> int:
    """The hourly platform schedule: delete exports past their keeping time."""
    return purge_expired()


def progress_of(row: TenantExport) -> tuple[int, int] | None:
    """(done, total) rows of a running export, from its job's progress; ``None`` if unknown."""
    if row.status != "running" or not row.job_id:
        return None
    from rq.job import Job

    from .redis_conn import get_redis

    try:
        meta = Job.fetch(row.job_id, connection=get_redis()).meta
    except Exception:  # the job record expired or Redis is away: no progress to show
        return None
    if "progress_total" not in meta:
        return None
    return int(meta.get("progress_done") or 0), int(meta.get("progress_total") or 0)


@job(retries=1, timeout=6 * 3600, read_only_ok=True)
def build_export(export_id: str) -> dict[str, Any]:
    """Build the tenant's archive into a temporary file, then store it in the database."""
    from .identity import Tenant
    from .tenant_archive import export_tenant

    ref = require_tenant()
    row = db.session.get(TenantExport, uuid.UUID(export_id))
    if row is None or row.target_tenant_id != ref.id:
        return {"skipped": "unknown export"}
    tenant = db.session.get(Tenant, ref.id)
    current = get_current_job()
    row.status, row.job_id = "running", current.id if current else None
    db.session.commit()
    try:
        with tempfile.TemporaryFile() as fh:
            manifest = export_tenant(tenant, fh, progress=set_progress)
            fh.seek(0)
            store_archive(row, fh)
        row.status, row.finished_at = "done", utcnow()
        row.expires_at = row.finished_at + timedelta(hours=keep_hours())
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        row = db.session.get(TenantExport, uuid.UUID(export_id))
        row.status, row.error, row.finished_at = "failed", str(exc)[:2000], utcnow()
        db.session.commit()
        raise
    return {"rows": sum(t["rows"] for t in manifest["tables"].values()), "size": row.size}
