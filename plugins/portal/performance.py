"""Partner performance and commission statements.

For a period (a calendar month, quarter or year), per partner organisation: registrations
sent (created in the period), approved (decided in the period and not rejected), won
(approved registrations whose Sales deal was won in the period) and the won revenue (those
deals' amounts, per currency). The commission is won revenue × the organisation's rate: its
own override, or its tier's default rate from the channel settings (5 / 8 / 10 % unless the
workspace changed them). Counts and sums are SQL aggregates; rates are ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm_platform.sdk import (
    ValidationFailed,
    clean_date,
    db,
    module_enabled,
    module_settings,
    save_module_settings,
)

from .partner_models import TIERS, DealRegistration, PartnerOrg

KEY = "portal"
DEFAULT_RATES = {"registered": Decimal("5"), "silver": Decimal("8"), "gold": Decimal("10")}
MAX_RATE = Decimal("100")
CENT = Decimal("0.01")
PERIODS = ("month", "quarter", "year")
#: Registrations that were approved (an expired one was approved before it lapsed).
APPROVED = ("approved", "won", "expired")
#: Registrations still credited with their deal when it is won.
CREDITED = ("approved", "won")


# --------------------------------------------------------------------------- rates


def clean_rate(raw: Any, *, blank_ok: bool = False) -> Decimal | None:
    """A commission rate in percent (0–100, at most two decimals); ``ValueError`` otherwise.
    Blank is ``None`` when ``blank_ok``."""
    text = str(raw if raw is not None else "").strip().replace("%", "").strip()
    if not text:
        if blank_ok:
            return None
        raise ValueError(_("Enter a rate in percent from 0 to 100, e.g. 7.5."))
    try:
        rate = Decimal(text.replace(",", "."))
        if not rate.is_finite():
            raise InvalidOperation
    except InvalidOperation as exc:
        raise ValueError(_("Enter a rate in percent from 0 to 100, e.g. 7.5.")) from exc
    if not Decimal("0") <= rate <= MAX_RATE or rate != rate.quantize(CENT):
        raise ValueError(_("Enter a rate in percent from 0 to 100, e.g. 7.5."))
    return rate.quantize(CENT)


def tier_rates() -> dict[str, Decimal]:
    """The default commission rate of each tier (the channel settings, else the defaults)."""
    stored = module_settings(KEY).get("commission_rates") or {}
    rates = dict(DEFAULT_RATES)
    for tier in TIERS:
        try:
            value = clean_rate(stored.get(tier), blank_ok=True)
        except ValueError:
            value = None
        if value is not None:
            rates[tier] = value
    return rates


def rate_of(org: PartnerOrg, rates: dict[str, Decimal] | None = None) -> Decimal:
    """The organisation's commission rate: its override, else its tier's default."""
    if org.commission_rate is not None:
        return Decimal(org.commission_rate)
    return (rates or tier_rates()).get(org.tier, Decimal("0"))


def save_rates(data: Any, orgs: list[PartnerOrg]) -> None:
    """Store the tiers' default rates (``rate_<tier>``) and the organisations' overrides
    (``org_<id>``, blank: the tier's rate). ``ValidationFailed`` with every problem, nothing
    changed. Caller commits."""
    errors: dict[str, str] = {}
    tiers: dict[str, str] = {}
    for tier in TIERS:
        try:
            tiers[tier] = str(clean_rate(data.get(f"rate_{tier}")))
        except ValueError as exc:
            errors[f"rate_{tier}"] = str(exc)
    overrides: dict[Any, Decimal | None] = {}
    for org in orgs:
        name = f"org_{org.id}"
        if name not in data:
            continue
        try:
            overrides[org.id] = clean_rate(data.get(name), blank_ok=True)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    save_module_settings(KEY, {**module_settings(KEY), "commission_rates": tiers})
    for org in orgs:
        if org.id in overrides:
            org.commission_rate = overrides[org.id]
    db.session.flush()


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A calendar month, quarter or year: ``start`` included, ``end`` excluded."""

    kind: str
    start: date
    end: date

    @property
    def label(self) -> str:
        """``2026-11``, ``2026 Q4`` or ``2026``."""
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    @property
    def last(self) -> date:
        """The period's last day."""
        return self.end - timedelta(days=1)

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC datetimes."""
        return (
            datetime.combine(self.start, time.min, tzinfo=UTC),
            datetime.combine(self.end, time.min, tzinfo=UTC),
        )


def period_of(kind: str, day: date) -> Period:
    """The month, quarter or year that contains ``day``."""
    if kind == "year":
        return Period(kind, date(day.year, 1, 1), date(day.year + 1, 1, 1))
    months = 3 if kind == "quarter" else 1
    first = (day.month - 1) // months * months + 1
    start = date(day.year, first, 1)
    nxt = first + months
    end = date(day.year + 1, 1, 1) if nxt > 12 else date(day.year, nxt, 1)
    return Period(kind, start, end)


def parse_period(args: Any) -> tuple[Period, dict[str, str]]:
    """The period asked for (``period`` and a day ``on`` in it; this month by default) and
    the problems found (the default is used for a bad value)."""
    errors: dict[str, str] = {}
    kind = args.get("period") or "month"
    if kind not in PERIODS:
        errors["period"] = _("Choose a month, a quarter or a year.")
        kind = "month"
    try:
        day = clean_date(args.get("on")) or date.today()
    except ValueError as exc:
        errors["on"] = str(exc)
        day = date.today()
    if not date(2000, 1, 1) <= day <= date(2999, 12, 31):
        errors["on"] = _("Enter a date as YYYY-MM-DD.")
        day = date.today()
    return period_of(kind, day), errors


# --------------------------------------------------------------------------- figures


@dataclass
class Figures:
    """One organisation's numbers for a period."""

    org: PartnerOrg
    rate: Decimal
    sent: int = 0
    approved: int = 0
    won: int = 0
    #: Won revenue and commission per currency.
    revenue: dict[str, Decimal] = field(default_factory=dict)
    commission: dict[str, Decimal] = field(default_factory=dict)


def _counts(stmt: Any) -> dict[Any, int]:
    return {pid: int(n) for pid, n in db.session.execute(stmt)}


def figures(period: Period, org_id: Any = None) -> list[Figures]:
    """Every partner organisation's figures for ``period`` by name (``org_id``: that one's
    only), counted and summed in SQL."""
    start, end = period.bounds()
    orgs_stmt = select(PartnerOrg).order_by(PartnerOrg.name)
    if org_id is not None:
        orgs_stmt = orgs_stmt.where(PartnerOrg.id == org_id)
    orgs = list(db.session.scalars(orgs_stmt.limit(1000)))
    rates = tier_rates()
    rows = {o.id: Figures(org=o, rate=rate_of(o, rates)) for o in orgs}
    if not rows:
        return []
    reg = DealRegistration
    scope = reg.partner_id.in_(list(rows))
    count = func.count(reg.id)
    sent = _counts(
        select(reg.partner_id, count)
        .where(scope, reg.created_at >= start, reg.created_at < end)
        .group_by(reg.partner_id)
    )
    approved = _counts(
        select(reg.partner_id, count)
        .where(scope, reg.status.in_(APPROVED), reg.decided_at >= start, reg.decided_at < end)
        .group_by(reg.partner_id)
    )
    for pid, row in rows.items():
        row.sent, row.approved = sent.get(pid, 0), approved.get(pid, 0)
    if module_enabled("sfa"):
        from plugins.sfa.models import Deal

        won = (
            select(reg.partner_id, Deal.currency, count, func.sum(Deal.amount))
            .join(Deal, (Deal.id == reg.deal_id) & (Deal.tenant_id == reg.tenant_id))
            .where(
                scope,
                reg.status.in_(CREDITED),
                Deal.status == "won",
                Deal.closed_at >= start,
                Deal.closed_at < end,
            )
            .group_by(reg.partner_id, Deal.currency)
        )
        for pid, currency, n, total in db.session.execute(won):
            row = rows[pid]
            amount = Decimal(total or 0).quantize(CENT)
            row.won += int(n)
            row.revenue[currency] = amount
            row.commission[currency] = (amount * row.rate / 100).quantize(CENT, ROUND_HALF_UP)
    return list(rows.values())


def totals(rows: list[Figures]) -> dict[str, Any]:
    """The sums of a table of figures (revenue and commission per currency)."""
    result: dict[str, Any] = {"sent": 0, "approved": 0, "won": 0, "revenue": {}, "commission": {}}
    for row in rows:
        for name in ("sent", "approved", "won"):
            result[name] += getattr(row, name)
        for name in ("revenue", "commission"):
            for currency, amount in getattr(row, name).items():
                result[name][currency] = result[name].get(currency, Decimal("0")) + amount
    return result
