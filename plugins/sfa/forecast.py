"""Forecasts: the weighted pipeline by month or quarter, by owner and by team, against quotas.

The weighted pipeline of an open deal is its amount times its stage's probability, counted
in the month of its expected close date and in its forecast category (commit, best case,
pipeline; *omitted* deals are left out). Won deals count in the month they were won.
Amounts are summed in one currency (the module's, by default): deals in other currencies
are counted apart and never converted. A rep's attainment is what they won in a period over
their quota for it (quotas are set per quarter). Every sum is one grouped query, so the page
stays fast with many deals; members see only the deals they may see.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, extract, func, or_, select

from crm_platform.sdk import (
    Membership,
    TeamMember,
    User,
    ValidationFailed,
    all_teams,
    audit_record,
    db,
    parse_uuid,
    utcnow,
)

from .deals import clean_amount
from .models import Deal, Quota, Stage
from .visibility import visible

CATEGORIES = ("commit", "best_case", "pipeline")
MONTHS = (
    _l("Jan"),
    _l("Feb"),
    _l("Mar"),
    _l("Apr"),
    _l("May"),
    _l("Jun"),
    _l("Jul"),
    _l("Aug"),
    _l("Sep"),
    _l("Oct"),
    _l("Nov"),
    _l("Dec"),
)
ZERO = Decimal("0")
#: Roles that carry a quota.
SELLING_ROLES = ("owner", "admin", "manager", "member")


def quarter_of(month: int) -> int:
    """The quarter (1-4) of a month (1-12)."""
    return (month - 1) // 3 + 1


def current_quarter(today: date | None = None) -> tuple[int, int]:
    """(year, quarter) of today."""
    today = today or utcnow().date()
    return today.year, quarter_of(today.month)


@dataclass
class Row:
    """One owner's or team's numbers for the chosen period."""

    key: str
    label: str
    open_amount: Decimal = ZERO
    weighted: Decimal = ZERO
    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    won: Decimal = ZERO
    quota: Decimal | None = None

    @property
    def attainment(self) -> float | None:
        """Won over quota, as a percentage (``None`` without a quota)."""
        if not self.quota:
            return None
        return float(self.won / self.quota * 100)

    def add(self, other: Row) -> None:
        """Add another row's numbers to this one (a team sums its members)."""
        for name in ("open_amount", "weighted", "commit", "best_case", "won"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.quota is not None:
            self.quota = (self.quota or ZERO) + other.quota


@dataclass
class Forecast:
    """Everything the forecast page draws."""

    year: int
    quarter: int  # 0: the whole year
    by: str  # "month" or "quarter"
    currency: str
    labels: list[str]
    weighted: dict[str, list[Decimal]]
    won: list[Decimal]
    quota: list[Decimal]
    owners: list[Row] = field(default_factory=list)
    teams: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row("total", ""))
    undated: int = 0
    other_currencies: int = 0


def _in_period(month: int, quarter: int) -> bool:
    return quarter == 0 or quarter_of(month) == quarter


def _scope(stmt: Any, membership: Any, owner_ids: Iterable[uuid.UUID] | None) -> Any:
    """``stmt`` narrowed to the deals ``membership`` sees (``membership`` may instead be the
    conditions ``visible`` made, a list: worked out once a page) and to ``owner_ids``."""
    stmt = stmt.where(*(membership if isinstance(membership, list) else visible(Deal, membership)))
    if owner_ids is not None:
        stmt = stmt.where(Deal.owner_id.in_(list(owner_ids)))
    return stmt


def team_member_ids(team_id: uuid.UUID) -> list[uuid.UUID]:
    """The users of a team and of the teams under it (``territories.py``)."""
    from .territories import team_tree_member_ids

    return team_tree_member_ids(team_id)


def teams_of(user_id: uuid.UUID) -> list[uuid.UUID]:
    """The teams a user belongs to."""
    return list(db.session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id)))


def default_team(membership: Any) -> uuid.UUID | None:
    """Managers look at their own team's pipeline first (their first team), others at all."""
    from .territories import managed_team

    return managed_team(membership)


def build(
    *,
    year: int,
    quarter: int,
    by: str,
    currency: str,
    membership: Any,
    owner_ids: Iterable[uuid.UUID] | None = None,
) -> Forecast:
    """The forecast of ``year`` (charts by ``by``) and of ``quarter`` (tables; 0 = year).

    A fixed number of queries whatever the number of deals, owners or teams: the open sums,
    the won sums, the deals left out (each one grouped query), quotas, owners' names, teams.
    """
    owner_ids = list(owner_ids) if owner_ids is not None else None
    membership = visible(Deal, membership)  # the visibility rule, read once
    buckets = 12 if by == "month" else 4
    labels = [str(m) for m in MONTHS] if by == "month" else [f"Q{q}" for q in range(1, 5)]
    out = Forecast(
        year=year,
        quarter=quarter,
        by=by,
        currency=currency,
        labels=labels,
        weighted={c: [ZERO] * buckets for c in CATEGORIES},
        won=[ZERO] * buckets,
        quota=[ZERO] * buckets,
    )
    rows: dict[uuid.UUID | None, Row] = {}

    def row(owner_id: uuid.UUID | None) -> Row:
        return rows.setdefault(owner_id, Row(str(owner_id or ""), ""))

    def bucket(month: int) -> int:
        return month - 1 if by == "month" else quarter_of(month) - 1

    month = extract("month", Deal.expected_close)
    open_stmt = (
        select(
            month,
            Deal.forecast_category,
            Deal.owner_id,
            func.sum(Deal.amount),
            func.sum(Deal.amount * Stage.probability),
        )
        .join(Stage, and_(Stage.tenant_id == Deal.tenant_id, Stage.id == Deal.stage_id))
        .where(
            Deal.status == "open",
            Deal.currency == currency,
            Deal.forecast_category != "omitted",
            Deal.expected_close >= date(year, 1, 1),
            Deal.expected_close <= date(year, 12, 31),
        )
        .group_by(month, Deal.forecast_category, Deal.owner_id)
    )
    for m, category, owner_id, amount, weighted_sum in db.session.execute(
        _scope(open_stmt, membership, owner_ids)
    ):
        m, amount = int(m), Decimal(str(amount or 0))
        weighted = (Decimal(str(weighted_sum or 0)) / 100).quantize(Decimal("0.01"))
        out.weighted[category][bucket(m)] += weighted
        if _in_period(m, quarter):
            r = row(owner_id)
            r.open_amount += amount
            r.weighted += weighted
            if category in ("commit", "best_case"):
                setattr(r, category, getattr(r, category) + amount)
    won_month = extract("month", Deal.closed_at)
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    won_stmt = (
        select(won_month, Deal.owner_id, func.sum(Deal.amount))
        .where(
            Deal.status == "won",
            Deal.currency == currency,
            Deal.closed_at >= start,
            Deal.closed_at < end,
        )
        .group_by(won_month, Deal.owner_id)
    )
    for m, owner_id, amount in db.session.execute(_scope(won_stmt, membership, owner_ids)):
        m, amount = int(m), Decimal(str(amount or 0))
        out.won[bucket(m)] += amount
        if _in_period(m, quarter):
            row(owner_id).won += amount
    quotas = quotas_of(year, currency)
    for (user_id, q), amount in quotas.items():
        if owner_ids is not None and user_id not in owner_ids:
            continue
        if by == "quarter":
            out.quota[q - 1] += amount
        else:
            for m in range(3 * q - 2, 3 * q + 1):
                out.quota[m - 1] += (amount / 3).quantize(Decimal("0.01"))
        if quarter in (0, q):
            r = row(user_id)
            r.quota = (r.quota or ZERO) + amount
    _label_owners(rows)
    out.owners = sorted(rows.values(), key=lambda r: (-r.weighted, -r.won, r.label.lower()))
    out.teams = _team_rows(rows, owner_ids)
    for r in out.owners:
        out.total.add(r)
    out.undated, out.other_currencies = _left_out(year, currency, membership, owner_ids)
    return out


def _label_owners(rows: dict[uuid.UUID | None, Row]) -> None:
    ids = [k for k in rows if k is not None]
    stmt = select(User.id, User.name).where(User.id.in_(ids))
    names = {uid: name for uid, name in db.session.execute(stmt)} if ids else {}
    for owner_id, r in rows.items():
        r.label = names.get(owner_id, "") if owner_id else str(_("Nobody"))


def _team_rows(rows: dict[uuid.UUID | None, Row], owner_ids: list[uuid.UUID] | None) -> list[Row]:
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for team_id, user_id in db.session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        members[team_id].append(user_id)
    from .territories import parents

    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for child, parent in parents().items():  # the hierarchy, read once for every team
        children[parent].append(child)

    def tree(team_id: uuid.UUID) -> list[uuid.UUID]:
        found, todo = [team_id], [team_id]
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in found:
                    found.append(child)
                    todo.append(child)
        return found

    out = []
    for team in all_teams():
        team_row = Row(str(team.id), team.name)
        people = list(dict.fromkeys(u for t in tree(team.id) for u in members.get(t, [])))
        for user_id in people:
            if user_id in rows:
                team_row.add(rows[user_id])
        if owner_ids is None or set(people) & set(owner_ids):
            out.append(team_row)
    return out


def _left_out(
    year: int, currency: str, membership: Any, owner_ids: list[uuid.UUID] | None
) -> tuple[int, int]:
    """Open deals with no expected close date, and open deals of the year in other currencies
    (one query)."""
    undated = and_(Deal.expected_close.is_(None), Deal.currency == currency)
    others = and_(
        Deal.currency != currency,
        Deal.expected_close >= date(year, 1, 1),
        Deal.expected_close <= date(year, 12, 31),
    )
    stmt = select(
        func.coalesce(func.sum(case((undated, 1), else_=0)), 0),
        func.coalesce(func.sum(case((others, 1), else_=0)), 0),
    ).where(Deal.status == "open", or_(undated, others))
    row = db.session.execute(_scope(stmt, membership, owner_ids)).one()
    return int(row[0] or 0), int(row[1] or 0)


# --------------------------------------------------------------------------- quotas


def sellers() -> list[Membership]:
    """Members who carry a quota, by name."""
    rows = db.session.scalars(select(Membership).where(Membership.role.in_(SELLING_ROLES))).unique()
    return sorted(rows, key=lambda m: (m.user.name or "").lower())


def quotas_of(year: int, currency: str | None = None) -> dict[tuple[uuid.UUID, int], Decimal]:
    """Quota amounts of ``year`` by (user id, quarter)."""
    stmt = select(Quota).where(Quota.year == year)
    if currency is not None:
        stmt = stmt.where(Quota.currency == currency)
    return {(q.user_id, q.quarter): q.amount for q in db.session.scalars(stmt)}


def save_quotas(
    year: int, values: dict[tuple[str, int], Any], currency: str, *, actor: Any = None
) -> int:
    """Store the quotas of ``year`` (``{(user id, quarter): amount or ""}``; empty removes).

    Validates every cell first (``ValidationFailed`` keyed ``q_<user>_<quarter>``); returns
    how many quotas changed. Caller commits.
    """
    if not 2000 <= year <= 2100:
        raise ValidationFailed({"year": _("Choose a year from 2000 to 2100.")})
    members = {m.user_id for m in sellers()}
    errors: dict[str, str] = {}
    cleaned: dict[tuple[uuid.UUID, int], Decimal | None] = {}
    for (user, quarter), raw in values.items():
        key = f"q_{user}_{quarter}"
        uid = parse_uuid(user)
        if uid not in members or quarter not in (1, 2, 3, 4):
            errors[key] = _("Not a seller of this workspace.")
            continue
        if str(raw or "").strip() == "":
            cleaned[(uid, quarter)] = None
            continue
        try:
            cleaned[(uid, quarter)] = clean_amount(raw)
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    existing = {
        (q.user_id, q.quarter): q
        for q in db.session.scalars(select(Quota).where(Quota.year == year))
    }
    changed = 0
    for key, amount in cleaned.items():
        row = existing.get(key)
        if amount is None:
            if row is not None:
                db.session.delete(row)
                changed += 1
        elif row is None:
            db.session.add(
                Quota(user_id=key[0], year=year, quarter=key[1], amount=amount, currency=currency)
            )
            changed += 1
        elif row.amount != amount or row.currency != currency:
            row.amount, row.currency = amount, currency
            changed += 1
    if changed:
        audit_record(
            "sfa.quotas.saved", target=str(year), actor=actor, details={"changed": changed}
        )
    return changed
