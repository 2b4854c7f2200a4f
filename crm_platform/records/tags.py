"""Tags on records, and an index of them (``record_tags``) so that lists filter by tag.

The record's ``tags`` JSON column is what people see and edit; ``record_tags`` is kept in step
with it on every flush (one row per record and case-folded tag), so a tag filter is an
indexed lookup leading with ``tenant_id``.
"""

from __future__ import annotations

import unicodedata
import uuid
from itertools import chain
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, Uuid, delete, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..extensions import Base, db
from ..ids import uuid7
from ..tenancy import PROVIDER_SESSION, TenantScoped, require_tenant

MAX_TAGS = 20
MAX_TAG_LENGTH = 40


class RecordTag(TenantScoped, Base):
    """One tag of one record (``kind`` is ``account`` or ``contact``)."""

    __tablename__ = "record_tags"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "tag", "record_id"),
        Index("ix_record_tags_tenant_record", "tenant_id", "kind", "record_id"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    tag: Mapped[str] = mapped_column(String(MAX_TAG_LENGTH))


def tag_key(tag: str) -> str:
    """A tag as the index stores it: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", tag).casefold().strip()[:MAX_TAG_LENGTH]


def split_tags(value: str | list[str] | None) -> list[str]:
    """Tags from a comma-separated string (or a list), trimmed, without case-blind repeats."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else str(value).replace("，", ",").split(",")
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        tag = " ".join(str(part).split())
        if tag and tag_key(tag) not in seen:
            seen.add(tag_key(tag))
            out.append(tag)
    return out


def tags_in_use(kind: str, limit: int = 200) -> list[str]:
    """The distinct tags of ``kind`` records, alphabetically (for filter menus)."""
    stmt = select(RecordTag.tag).where(RecordTag.kind == kind).distinct().order_by(RecordTag.tag)
    return list(db.session.scalars(stmt.limit(limit)))


def tagged(kind: str, tag: str) -> Any:
    """A subquery of the ids of ``kind`` records tagged ``tag``."""
    return select(RecordTag.record_id).where(RecordTag.kind == kind, RecordTag.tag == tag_key(tag))


@event.listens_for(Session, "before_flush")
def _sync_tag_index(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(PROVIDER_SESSION):
        return
    for obj in list(chain(session.new, session.dirty)):
        kind = getattr(type(obj), "__crm_kind__", None)
        if kind is None:
            continue
        is_new = obj in session.new
        if is_new:
            if not obj.tags:
                continue
        elif not db.inspect(obj).attrs.tags.history.has_changes():
            continue
        if obj.id is None:
            obj.id = uuid7()
        tenant_id = obj.tenant_id or require_tenant().id
        if not is_new:
            session.execute(
                delete(RecordTag).where(RecordTag.kind == kind, RecordTag.record_id == obj.id)
            )
        for key in dict.fromkeys(tag_key(t) for t in obj.tags or []):
            if key:
                session.add(RecordTag(tenant_id=tenant_id, kind=kind, record_id=obj.id, tag=key))
