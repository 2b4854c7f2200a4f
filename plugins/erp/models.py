"""The ERP module's tables: connections, mapping overrides, cursors, the sync ledger, runs,
dead letters, the file connector's inbox and the invoices that feed payment status.

Every table is tenant-scoped (``(tenant_id, id)`` keys, composite foreign keys, row-level
security on PostgreSQL through the module's migration branch ``erp``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow

MONEY = Numeric(14, 2)
RUN_STATUSES = ("queued", "running", "succeeded", "partial", "failed")


class Connection(TenantScoped, Base):
    """A tenant's connection to one ERP through one connector, with its settings."""

    __tablename__ = "erp_connections"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    connector_key: Mapped[str] = mapped_column(String(60))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Minutes between scheduled syncs; 0 = only on demand.
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_check_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ObjectMapping(TenantScoped, Base):
    """A tenant's override of one connector object: direction, field map and policies."""

    __tablename__ = "erp_mappings"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "connection_id", "object_key"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    object_key: Mapped[str] = mapped_column(String(60))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    direction: Mapped[str] = mapped_column(String(10))
    #: ``[{"external": ..., "crm": ..., "policy": ...}]``
    fields: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SyncCursor(TenantScoped, Base):
    """Where the last committed page of one object's pull ended."""

    __tablename__ = "erp_cursors"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "connection_id", "object_key"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    object_key: Mapped[str] = mapped_column(String(60))
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class LedgerEntry(TenantScoped, Base):
    """One synced record: its external id, the CRM record, content hash and lineage."""

    __tablename__ = "erp_ledger"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "connection_id", "object_key", "external_id"),
        Index("ix_erp_ledger_tenant_crm", "tenant_id", "crm_kind", "crm_id"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    object_key: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str] = mapped_column(String(200))
    crm_kind: Mapped[str] = mapped_column(String(20))
    crm_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    #: The mapped CRM values last written (what "CRM wins" compares against).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: "synced", "waiting" (not a CRM record yet), "deleted" (gone upstream), "pushed".
    state: Mapped[str] = mapped_column(String(20), default="synced")
    external_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_upstream_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SyncRun(TenantScoped, Base):
    """One sync of a connection: counts, status, message, progress and a short log."""

    __tablename__ = "erp_runs"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        Index("ix_erp_runs_tenant_connection", "tenant_id", "connection_id", "created_at"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    status: Mapped[str] = mapped_column(String(20), default="queued")
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    pushed: Mapped[int] = mapped_column(Integer, default=0)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def percent(self) -> int:
        """Progress in percent (100 once finished)."""
        if self.status in ("succeeded", "partial", "failed"):
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def finished(self) -> bool:
        """True when the run will not change any more."""
        return self.status in ("succeeded", "partial", "failed")


class DeadLetter(TenantScoped, Base):
    """A record that failed to apply: its payload and error, until replayed or dismissed."""

    __tablename__ = "erp_dead_letters"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        Index("ix_erp_dead_letters_tenant_status", "tenant_id", "status", "created_at"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    object_key: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(10), default="in")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    #: "open", "resolved", "dismissed"
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboxRecord(TenantScoped, Base):
    """A record dropped into a file/webhook connection (CSV, JSON or a signed webhook),
    waiting to be pulled by the sync like any ERP record. The id (UUIDv7) is the cursor."""

    __tablename__ = "erp_inbox"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        Index("ix_erp_inbox_tenant_connection", "tenant_id", "connection_id", "object_key", "id"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    object_key: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(40), default="file")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Invoice(TenantScoped, Base):
    """An ERP invoice of an account (and order): what the payment status panel shows."""

    __tablename__ = "erp_invoices"
    __table_args__ = (
        tenant_foreign_key("connection_id", "erp_connections", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "connection_id", "external_id"),
        Index("ix_erp_invoices_tenant_account", "tenant_id", "account_id"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    external_id: Mapped[str] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(60))
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    state: Mapped[str] = mapped_column(String(20), default="open")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    amount_due: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    invoiced_at: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
