"""Duplicate detection: records sharing an e-mail address, a phone number or a name.

Candidate pairs are found per key with a ``GROUP BY ... HAVING count(*) > 1`` over the live
records the member may see (each key column has an index leading with ``tenant_id``); a pair
someone marked as "not a duplicate" is dismissed and not shown again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, Uuid, func, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Base, db
from ..tenancy import TenantScoped, utcnow

REASON_LABELS = {"email": _l("same e-mail"), "phone": _l("same phone"), "name": _l("same name")}
MAX_GROUP = 10
MAX_KEYS = 200


class DuplicateDismissal(TenantScoped, Base):
    """A pair of records someone said are not duplicates (ids in ascending order)."""

    __tablename__ = "duplicate_dismissals"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "first_id", "second_id"),)

    kind: Mapped[str] = mapped_column(String(20))
    first_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    second_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass
class Pair:
    """Two records that look like the same customer, and why."""

    first: Any
    second: Any
    reasons: list[str] = field(default_factory=list)

    @property
    def reason_labels(self) -> list[str]:
        """The reasons, translated."""
        return [str(REASON_LABELS[r]) for r in self.reasons]


def ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The two ids in the order a dismissal stores them."""
    return (a, b) if a.bytes < b.bytes else (b, a)


def candidate_pairs(kind: str, membership: Any, limit: int = 100) -> list[Pair]:
    """Pairs of live ``kind`` records visible to ``membership`` sharing a key, most alike first."""
    from ..customers import RECORD_MODELS
    from .visibility import live_and_visible

    model = RECORD_MODELS[kind]
    keys = {"email": model.email, "phone": model.phone, "name": model.name_key}
    pairs: dict[tuple[uuid.UUID, uuid.UUID], Pair] = {}
    visible = live_and_visible(model, membership)
    for reason, column in keys.items():
        shared = (
            select(column)
            .where(*visible, column.is_not(None), column != "")
            .group_by(column)
            .having(func.count() > 1)
            .limit(MAX_KEYS)
        )
        values = list(db.session.scalars(shared))
        if not values:
            continue
        rows = db.session.scalars(
            select(model).where(*visible, column.in_(values)).order_by(model.id)
        ).all()
        groups: dict[str, list[Any]] = {}
        for row in rows:
            groups.setdefault(getattr(row, column.key), []).append(row)
        for group in groups.values():
            group = group[:MAX_GROUP]
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    pair = pairs.setdefault(ordered(a.id, b.id), Pair(a, b))
                    pair.reasons.append(reason)
    if pairs:
        stmt = select(DuplicateDismissal.first_id, DuplicateDismissal.second_id).where(
            DuplicateDismissal.kind == kind
        )
        dismissed = {(first, second) for first, second in db.session.execute(stmt)}
        pairs = {k: v for k, v in pairs.items() if k not in dismissed}
    found = sorted(pairs.values(), key=lambda p: (-len(p.reasons), p.first.name_key))
    return found[:limit]


@dataclass
class Match:
    """An existing record that looks like the customer being entered, and why."""

    record: Any
    reasons: list[str] = field(default_factory=list)

    @property
    def reason_labels(self) -> list[str]:
        """The reasons, translated."""
        return [str(REASON_LABELS[r]) for r in self.reasons]


def matching_records(
    kind: str,
    membership: Any,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    limit: int = 5,
) -> list[Match]:
    """Live ``kind`` records ``membership`` sees sharing a key with the given values.

    The same keys as :func:`candidate_pairs`: the e-mail address, the phone number (both as
    stored: lowercased, ``+<digits>``) and the normalised name; most alike first.
    """
    from ..customers import RECORD_MODELS, name_key
    from .visibility import live_and_visible

    model = RECORD_MODELS[kind]
    wanted = {
        "email": (model.email, (email or "").strip().lower()),
        "phone": (model.phone, (phone or "").strip()),
        "name": (model.name_key, name_key(name)),
    }
    found: dict[uuid.UUID, Match] = {}
    visible = live_and_visible(model, membership)
    for reason, (column, value) in wanted.items():
        if not value:
            continue
        stmt = select(model).where(*visible, column == value).order_by(model.id).limit(limit)
        for row in db.session.scalars(stmt).unique():
            found.setdefault(row.id, Match(row)).reasons.append(reason)
    ranked = sorted(found.values(), key=lambda m: (-len(m.reasons), m.record.name_key))
    return ranked[:limit]


def dismiss(kind: str, a: uuid.UUID, b: uuid.UUID, by: Any = None) -> None:
    """Remember that records ``a`` and ``b`` are not duplicates (idempotent; caller commits)."""
    first, second = ordered(a, b)
    exists = db.session.scalar(
        select(DuplicateDismissal.id).where(
            DuplicateDismissal.kind == kind,
            DuplicateDismissal.first_id == first,
            DuplicateDismissal.second_id == second,
        )
    )
    if exists is None:
        db.session.add(
            DuplicateDismissal(
                kind=kind, first_id=first, second_id=second, by_id=getattr(by, "id", None)
            )
        )
