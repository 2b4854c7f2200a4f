"""The kanban board of a pipeline: one column per stage, the deals the member may see.

Open stages show their open deals; won and lost stages show the deals closed in the last
``CLOSED_DAYS`` days (older ones are in the list view). Each column has its count and its
total (in the module's currency) from one grouped query, and at most ``CARDS`` cards, so the
board stays quick with thousands of deals. ``owners`` narrows it to some owners ("mine",
a team's).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from crm_platform.sdk import db, utcnow

from .deals import is_rotting
from .models import Deal, Pipeline, Stage
from .pipelines import stages_of
from .visibility import visible

CARDS = 50
CLOSED_DAYS = 30


@dataclass
class Column:
    """One stage of the board and its cards."""

    stage: Stage
    deals: list[Deal] = field(default_factory=list)
    count: int = 0
    total: Decimal = Decimal("0")
    rotting: set[uuid.UUID] = field(default_factory=set)


def _scope(stmt: Any, pipeline: Pipeline, membership: Any, owners: Iterable[Any] | None) -> Any:
    cutoff = utcnow() - timedelta(days=CLOSED_DAYS)
    stmt = stmt.where(
        Deal.pipeline_id == pipeline.id,
        or_(Deal.status == "open", Deal.closed_at >= cutoff),
        *visible(Deal, membership),
    )
    if owners is not None:
        stmt = stmt.where(Deal.owner_id.in_(list(owners)))
    return stmt


def columns(
    pipeline: Pipeline, membership: Any, currency: str, owners: Iterable[Any] | None = None
) -> list[Column]:
    """The board of ``pipeline`` for ``membership`` (totals in ``currency``)."""
    owners = list(owners) if owners is not None else None
    out = [Column(stage) for stage in stages_of(pipeline.id)]
    by_stage = {c.stage.id: c for c in out}
    counts = select(Deal.stage_id, func.count()).group_by(Deal.stage_id)
    for stage_id, count in db.session.execute(_scope(counts, pipeline, membership, owners)):
        if stage_id in by_stage:
            by_stage[stage_id].count = count
    totals = (
        select(Deal.stage_id, func.sum(Deal.amount))
        .where(Deal.currency == currency)
        .group_by(Deal.stage_id)
    )
    for stage_id, total in db.session.execute(_scope(totals, pipeline, membership, owners)):
        if stage_id in by_stage:
            by_stage[stage_id].total = Decimal(str(total or 0))
    now = utcnow()
    for column in out:
        if not column.count:
            continue
        order = (
            (Deal.closed_at.desc(),)
            if column.stage.is_closed
            else (Deal.expected_close.asc().nulls_last(), Deal.id)
        )
        stmt = _scope(
            select(Deal).where(Deal.stage_id == column.stage.id), pipeline, membership, owners
        )
        stmt = stmt.options(joinedload(Deal.account)).order_by(*order).limit(CARDS)
        column.deals = list(db.session.scalars(stmt).unique())
        column.rotting = {d.id for d in column.deals if is_rotting(d, now)}
    return out
