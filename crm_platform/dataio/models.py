"""``ImportJob``: one uploaded spreadsheet, how its columns map, and what importing it did.

The uploaded bytes live in the row itself (``content``), so they are tenant-scoped exactly
like every other tenant row (RLS included) and any worker can read them; they are dropped
once the import is done. The rejected-rows report is kept gzip-compressed (``report``), with
the first rejections also as JSON (``rejections``) for the page.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base
from ..identity import User
from ..tenancy import TenantScoped, utcnow

#: uploaded → queued → running → done | failed
STATUSES = ("uploaded", "queued", "running", "done", "failed")
FINAL = ("done", "failed")
STATUS_LABELS = {
    "uploaded": _l("Waiting for a mapping"),
    "queued": _l("Queued"),
    "running": _l("Running"),
    "done": _l("Done"),
    "failed": _l("Failed"),
}
#: What happens to a row that matches an existing record.
DEDUPE_RULES = ("skip", "update", "create")
DEDUPE_LABELS = {
    "skip": _l("Skip the row (keep the existing record as it is)"),
    "update": _l("Update the existing record with the row's non-empty cells"),
    "create": _l("Create a new record anyway"),
}


class ImportJob(TenantScoped, Base):
    """One spreadsheet import, from upload to outcome."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_tenant_created", "tenant_id", "created_at"),)

    target: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    encoding: Mapped[str | None] = mapped_column(String(20))
    delimiter: Mapped[str | None] = mapped_column(String(1))
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    mapping: Mapped[list[str | None]] = mapped_column(JSON, default=list)
    dedupe: Mapped[str] = mapped_column(String(10), default="skip")
    locale: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="uploaded")
    job_id: Mapped[str | None] = mapped_column(String(64))
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    rejections: Mapped[list[Any]] = mapped_column(JSON, default=list)
    report: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    created_by: Mapped[User | None] = relationship(User, lazy="joined")

    @property
    def finished(self) -> bool:
        """True once the import is done or has failed."""
        return self.status in FINAL

    @property
    def status_label(self) -> Any:
        """The translated name of the status."""
        return STATUS_LABELS.get(self.status, self.status)
