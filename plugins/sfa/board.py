"""The kanban board of a pipeline: one column per stage, the deals the member may see.

Open stages show their open deals, those closing soonest first; won and lost stages show the
deals closed in the last ``CLOSED_DAYS`` days, newest first (older ones are in the list
view). Every column's count and total (in the module's currency) come from one grouped
query over all its deals; each column then shows its first ``CARDS`` cards, one query per
stage, and "show more" asks for the next ``CARDS`` after the last one shown (a keyset
cursor, never ``OFFSET``). Cards are plain rows (no ORM objects), so a board costs the same
few queries with ten deals or ten thousand. ``owners`` narrows it to some owners ("mine",
a team's).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
)
from flask_babel import get_locale
from sqlalchemy import and_, case, func, or_, select, tuple_

from crm_platform.sdk import Account, User, db, parse_uuid, utcnow

from .models import Deal, Pipeline, Stage
from .pipelines import stages_of
from .visibility import visible

#: Cards a column shows at first, and how many more each "show more" adds.
CARDS = 20
CLOSED_DAYS = 30


@dataclass
class Card:
    """What a card shows of a deal."""

    id: uuid.UUID
    name: str
    amount: Decimal
    currency: str
    expected_close: date | None
    closed_at: datetime | None
    version: int
    account: str | None
    owner: str | None
    rotting: bool = False
    #: The amount in its currency, as the ``sfa_money`` filter writes it.
    amount_text: str = ""


@dataclass
class Column:
    """One stage of the board: its count and total over all its deals, its first cards."""

    stage: Stage
    cards: list[Card] = field(default_factory=list)
    count: int = 0
    total: Decimal = Decimal("0")
    #: The cursor of the next cards ("show more"), ``None`` when every card is shown.
    after: str | None = None

    @property
    def left(self) -> int:
        """Deals of the column not shown yet."""
        return max(self.count - len(self.cards), 0)


class Scope:
    """The deals of one board: a pipeline, what the member may see, maybe some owners.

    Built once a request (the visibility rule reads the tenant's settings).
    """

    def __init__(self, pipeline: Pipeline, membership: Any, owners: Iterable[Any] | None) -> None:
        self.pipeline = pipeline
        self.cutoff = utcnow() - timedelta(days=CLOSED_DAYS)
        self.visible = visible(Deal, membership)
        self.owners = list(owners) if owners is not None else None

    def where(self, stmt: Any) -> Any:
        """``stmt`` narrowed to the board's deals (open or recently closed)."""
        # each side of the OR is an index range (board index; status + closed_at index), so
        # the database never reads the pipeline's old closed deals
        recent = and_(Deal.status.in_(("won", "lost")), Deal.closed_at >= self.cutoff)
        stmt = stmt.where(
            Deal.pipeline_id == self.pipeline.id,
            or_(Deal.status == "open", recent),
            *self.visible,
        )
        if self.owners is not None:
            stmt = stmt.where(Deal.owner_id.in_(self.owners))
        return stmt


@lru_cache(maxsize=512)
def _money_shape(locale_name: str, currency: str) -> tuple[str, str, str, str, int] | None:
    """What Babel writes around an amount of ``currency`` in ``locale_name``: (prefix, suffix,
    group and decimal symbols, digits); ``None`` for a pattern this shortcut does not follow
    (grouping other than by thousands). Depends only on the locale data, so it is kept."""
    locale = Locale.parse(locale_name)
    if tuple(locale.currency_formats["standard"].grouping) != (3, 3):
        return None
    digits = get_currency_precision(currency)
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    probe = format_currency(Decimal("1111111"), currency, locale=locale)
    number = f"1{group}111{group}111" + (decimal + "0" * digits if digits else "")
    if probe.count(number) != 1:
        return None
    prefix, suffix = probe.split(number)
    return prefix, suffix, group, decimal, digits


def format_money(amount: Any, currency: str, locale: Any) -> str:
    """``babel.numbers.format_currency(amount, currency, locale=locale)``, the same text, about
    twenty times quicker once the locale and currency were seen (a board writes many)."""
    shape = _money_shape(str(locale), currency)
    value = Decimal(amount or 0)
    if shape is None or value < 0 or not value.is_finite():
        return format_currency(value, currency, locale=locale)
    prefix, suffix, group, decimal, digits = shape
    rounded = value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    text = f"{rounded:,.{digits}f}".translate({ord(","): group, ord("."): decimal})
    return prefix + text + suffix


def _cursor(stage: Stage, card: Card) -> str:
    """``<sort key>~<id>`` of the last card shown (closing times in UTC, without an offset)."""
    key: Any = card.expected_close
    if stage.is_closed:
        key = card.closed_at
        if key is not None and key.tzinfo is not None:
            key = key.astimezone(UTC).replace(tzinfo=None)
    return f"{key.isoformat() if key else '-'}~{card.id}"


def _after(stage: Stage, cursor: str) -> Any | None:
    """The condition "after ``cursor``" in the column's order; ``None`` when it is not one."""
    raw_key, _sep, raw_id = cursor.partition("~")
    deal_id = parse_uuid(raw_id)
    if deal_id is None:
        return None
    try:
        if stage.is_closed:
            closed = datetime.fromisoformat(raw_key)
            if closed.tzinfo is None:
                closed = closed.replace(tzinfo=UTC)
            return tuple_(Deal.closed_at, Deal.id) < tuple_(closed, deal_id)
        if raw_key == "-":
            return and_(Deal.expected_close.is_(None), Deal.id > deal_id)
        close = date.fromisoformat(raw_key)
    except ValueError:
        return None
    return or_(
        tuple_(Deal.expected_close, Deal.id) > tuple_(close, deal_id),
        Deal.expected_close.is_(None),
    )


def _cards_statement(stage: Stage, scope: Scope) -> Any:
    stmt = (
        select(
            Deal.id,
            Deal.name,
            Deal.amount,
            Deal.currency,
            Deal.expected_close,
            Deal.closed_at,
            Deal.version,
            Account.name,
            User.name,
            Deal.stage_entered_at,
            Deal.status,
        )
        .outerjoin(
            Account, and_(Account.tenant_id == Deal.tenant_id, Account.id == Deal.account_id)
        )
        .outerjoin(User, User.id == Deal.owner_id)
        .where(Deal.stage_id == stage.id)
    )
    if stage.is_closed:
        order = (Deal.closed_at.desc(), Deal.id.desc())
    else:
        order = (Deal.expected_close.asc().nulls_last(), Deal.id.asc())
    return scope.where(stmt).order_by(*order)


def _rotting(stage: Stage, status: str, entered: datetime | None, now: datetime) -> bool:
    """As ``deals.is_rotting``, from a card's row."""
    if status != "open" or not stage.rotting_days or entered is None:
        return False
    if entered.tzinfo is None:  # SQLite gives naive datetimes back
        entered = entered.replace(tzinfo=UTC)
    return (now - entered).days > stage.rotting_days


def cards(stage: Stage, scope: Scope, *, after: str = "", size: int | None = None) -> Column:
    """The next ``size`` (default ``CARDS``) cards of ``stage`` after the cursor ``after``
    (one query).

    Returns a column whose ``cards`` are those and whose ``after`` is the next cursor;
    ``count`` and ``total`` are left at zero. Raises ``ValueError`` for a bad cursor.
    """
    stmt = _cards_statement(stage, scope)
    if after:
        condition = _after(stage, after)
        if condition is None:
            raise ValueError(after)
        stmt = stmt.where(condition)
    size = size or CARDS
    now = utcnow()
    locale = get_locale()
    out = Column(stage)
    for row in db.session.execute(stmt.limit(size + 1)):
        if len(out.cards) == size:
            out.after = _cursor(stage, out.cards[-1])
            break
        out.cards.append(
            Card(
                id=row[0],
                name=row[1],
                amount=row[2],
                currency=row[3],
                expected_close=row[4],
                closed_at=row[5],
                version=row[6],
                account=row[7],
                owner=row[8],
                rotting=_rotting(stage, row[10], row[9], now),
                amount_text=format_money(row[2], row[3], locale),
            )
        )
    return out


def columns(
    pipeline: Pipeline, membership: Any, currency: str, owners: Iterable[Any] | None = None
) -> list[Column]:
    """The board of ``pipeline`` for ``membership`` (totals in ``currency``).

    Queries: the stages, one grouped count and total, then one per stage that has deals.
    """
    scope = Scope(pipeline, membership, owners)
    out = [Column(stage) for stage in stages_of(pipeline.id)]
    by_stage = {c.stage.id: c for c in out}
    totals = select(
        Deal.stage_id,
        func.count(),
        func.sum(case((Deal.currency == currency, Deal.amount), else_=None)),
    ).group_by(Deal.stage_id)
    for stage_id, count, total in db.session.execute(scope.where(totals)):
        if stage_id in by_stage:
            by_stage[stage_id].count = count
            by_stage[stage_id].total = Decimal(str(total or 0))
    for column in out:
        if column.count:
            page = cards(column.stage, scope)
            column.cards, column.after = page.cards, page.after
    return out


def remaining(stage: Stage, scope: Scope, after: str) -> int:
    """How many of the column's deals come after the cursor ``after`` (one count)."""
    condition = _after(stage, after)
    if condition is None:
        return 0
    stmt = select(func.count()).select_from(Deal).where(Deal.stage_id == stage.id, condition)
    return db.session.scalar(scope.where(stmt)) or 0
