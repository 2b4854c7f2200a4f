"""The core's report sources (``crm_report_sources``): accounts, contacts, activities, orders.

Each field is a column the reports group, filter or aggregate in SQL; owners and teams are
labelled from the tenant's members and teams when a report runs. Who sees which rows follows
the record visibility rules (``records/visibility.py``): accounts and contacts by their own
rule, orders and activities by the records they are on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from .customers import LIFECYCLE_STAGES, SIZES, SOURCES, Account, Contact
from .extensions import db
from .identity import Membership
from .orders import (
    ORDER_SOURCES,
    ORDER_STATUSES,
    REVENUE_STATUSES,
    SOURCE_LABELS,
    STATUS_LABELS,
    Order,
)
from .plugin_types import ReportField, ReportSource
from .records.activities import KIND_LABELS, Activity
from .records.teams import Team
from .records.visibility import visible_clause
from .tenancy import utcnow

#: Value tiers of accounts by their order revenue in the last ``VALUE_TIER_MONTHS`` months
#: (orders of ``REVENUE_STATUSES``, totals summed whatever their currency): the tier and the
#: least revenue it needs, highest first. Below the last threshold: ``C`` when there is any
#: revenue (more than zero), else ``none``.
VALUE_TIERS: tuple[tuple[str, Decimal], ...] = (("A", Decimal(100000)), ("B", Decimal(10000)))
VALUE_TIER_MONTHS = 12
VALUE_TIER_LABELS = {
    **{
        name: _l("%(tier)s: %(amount)s or more", tier=name, amount=f"{least:,.0f}")
        for name, least in VALUE_TIERS
    },
    "C": _l("C: less than %(amount)s", amount=f"{VALUE_TIERS[-1][1]:,.0f}"),
    "none": _l("No revenue"),
}


def member_labels() -> dict[str, str]:
    """The tenant's members by user id (as text): their names."""
    rows = db.session.scalars(select(Membership)).unique().all()
    return {str(m.user_id): m.user.name or m.user.email for m in rows}


def team_labels() -> dict[str, str]:
    """The tenant's teams by id (as text): their names."""
    return {str(t.id): t.name for t in db.session.scalars(select(Team))}


def _plain(values: tuple[str, ...]) -> dict[str, str]:
    return {v: v.replace("_", " ") for v in values}


def _record_fields(model: Any) -> tuple[ReportField, ...]:
    """What accounts and contacts share: classification, owner, team, dates."""
    return (
        ReportField(
            "lifecycle_stage",
            _l("Lifecycle stage"),
            "choice",
            model.lifecycle_stage,
            choices=_plain(LIFECYCLE_STAGES),
        ),
        ReportField("region", _l("Region"), "text", model.region),
        ReportField("source", _l("Source"), "choice", model.source, choices=_plain(SOURCES)),
        ReportField("owner_id", _l("Owner"), "choice", model.owner_id, choices=member_labels),
        ReportField("team_id", _l("Team"), "choice", model.team_id, choices=team_labels),
        ReportField("created_at", _l("Created"), "datetime", model.created_at),
        ReportField("updated_at", _l("Updated"), "datetime", model.updated_at),
    )


#: List-page query-string names of the account and contact fields the lists filter on.
_LIST_FILTERS = {
    "lifecycle_stage": "stage",
    "owner_id": "owner",
    "team_id": "team",
    "region": "region",
    "industry": "industry",
}


def _list_url(endpoint: str, allowed: tuple[str, ...]) -> Any:
    def drill(filters: Mapping[str, str]) -> str | None:
        args = {}
        for name, value in filters.items():
            if name not in allowed:
                return None
            if value == "":
                if name != "owner_id":
                    return None
                value = "none"
            args[_LIST_FILTERS[name]] = value
        return url_for(endpoint, **args)

    return drill


def _seen_records(model: Any, membership: Any) -> Any:
    clause = visible_clause(model, membership)
    stmt = select(model.id).where(model.deleted_at.is_(None))
    return stmt if clause is None else stmt.where(clause)


def _visible_linked(model: Any, membership: Any, *, own: bool = False) -> Any:
    """Rows of ``model`` (orders, activities) on an account or contact the member sees
    (activities also when they are the member's own)."""
    if visible_clause(Account, membership) is None and visible_clause(Contact, membership) is None:
        return None
    clauses = [
        model.account_id.in_(_seen_records(Account, membership)),
        model.contact_id.in_(_seen_records(Contact, membership)),
    ]
    if own:
        clauses.append(model.owner_id == membership.user_id)
    return or_(*clauses)


def revenue_since(now: datetime | None = None) -> datetime:
    """The start of the value tiers' window: the same time ``VALUE_TIER_MONTHS`` months ago
    (the last day of that month when it is shorter)."""
    now = now or utcnow()
    month = now.month - 1 - VALUE_TIER_MONTHS
    year, month = now.year + month // 12, month % 12 + 1
    for day in (now.day, 30, 29, 28):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _account_revenue(since: datetime) -> Any:
    """The SQL sum of an account's revenue orders since ``since`` (NULL: none), correlated to
    the report's ``accounts`` row (it uses the ``(tenant_id, account_id, ordered_at)``
    index)."""
    return func.sum(Order.total), (
        Order.tenant_id == Account.tenant_id,
        Order.account_id == Account.id,
        Order.status.in_(REVENUE_STATUSES),
        Order.ordered_at >= since,
    )


def account_revenue_expr(since: datetime) -> Any:
    """An account's order revenue since ``since`` (0 when none): a correlated subquery."""
    total, where = _account_revenue(since)
    return select(func.coalesce(total, 0)).where(*where).correlate(Account).scalar_subquery()


def value_tier_expr(since: datetime) -> Any:
    """An account's value tier (``A``, ``B``, ``C``, ``none``) by its order revenue since
    ``since``: one correlated subquery, groupable on PostgreSQL and SQLite alike."""
    total, where = _account_revenue(since)
    tier = case(
        *((total >= threshold, name) for name, threshold in VALUE_TIERS),
        (total > 0, "C"),
        else_="none",
    )
    return select(tier).where(*where).correlate(Account).scalar_subquery()


def core_report_sources() -> list[ReportSource]:
    """Accounts, contacts, activities and orders."""
    since = revenue_since()
    accounts = ReportSource(
        key="accounts",
        label=_l("Accounts"),
        model=Account,
        fields=(
            ReportField("name", _l("Name"), "text", Account.name, groupable=False),
            ReportField("industry", _l("Industry"), "text", Account.industry),
            ReportField("size", _l("Size"), "choice", Account.size, choices=_plain(SIZES)),
            *_record_fields(Account),
            ReportField(
                "value_tier",
                _l("Value tier"),
                "choice",
                value_tier_expr(since),
                choices=VALUE_TIER_LABELS,
            ),
            ReportField(
                "revenue_12m",
                _l("Revenue, last 12 months"),
                "money",
                account_revenue_expr(since),
                groupable=False,
                aggregatable=True,
            ),
        ),
        visible=lambda m: visible_clause(Account, m),
        base=lambda: Account.deleted_at.is_(None),
        record_url=lambda row: url_for("workspace.account", account_id=row.id),
        drill_url=_list_url("workspace.accounts", tuple(_LIST_FILTERS)),
    )
    contacts = ReportSource(
        key="contacts",
        label=_l("Contacts"),
        model=Contact,
        fields=(
            ReportField("last_name", _l("Last name"), "text", Contact.last_name, groupable=False),
            ReportField(
                "first_name", _l("First name"), "text", Contact.first_name, groupable=False
            ),
            ReportField("title", _l("Job title"), "text", Contact.title),
            *_record_fields(Contact),
            ReportField(
                "account_industry",
                _l("Account industry"),
                "text",
                Account.industry,
                join="account",
            ),
        ),
        visible=lambda m: visible_clause(Contact, m),
        base=lambda: Contact.deleted_at.is_(None),
        joins={
            "account": lambda stmt: stmt.outerjoin(
                Account,
                and_(Account.tenant_id == Contact.tenant_id, Account.id == Contact.account_id),
            )
        },
        record_url=lambda row: url_for("workspace.contact", contact_id=row.id),
        drill_url=_list_url("workspace.contacts", ("lifecycle_stage", "owner_id", "team_id")),
        title_field="last_name",
    )
    activities = ReportSource(
        key="activities",
        label=_l("Activities"),
        model=Activity,
        fields=(
            ReportField("subject", _l("Subject"), "text", Activity.subject, groupable=False),
            ReportField(
                "kind",
                _l("Kind"),
                "choice",
                Activity.kind,
                choices={k: str(v) for k, v in KIND_LABELS.items()},
            ),
            ReportField(
                "done",
                _l("Done"),
                "choice",
                Activity.done,
                choices={"True": _l("done"), "False": _l("open")},
            ),
            ReportField("owner_id", _l("Owner"), "choice", Activity.owner_id, member_labels),
            ReportField("due_date", _l("Due"), "date", Activity.due_date),
            ReportField("done_at", _l("Done at"), "datetime", Activity.done_at),
            ReportField("created_at", _l("Created"), "datetime", Activity.created_at),
        ),
        visible=lambda m: _visible_linked(Activity, m, own=True),
        record_url=_activity_url,
        title_field="subject",
    )
    orders = ReportSource(
        key="orders",
        label=_l("Orders"),
        model=Order,
        fields=(
            ReportField("number", _l("Number"), "text", Order.number, groupable=False),
            ReportField(
                "status",
                _l("Status"),
                "choice",
                Order.status,
                choices={s: STATUS_LABELS[s] for s in ORDER_STATUSES},
            ),
            ReportField(
                "source",
                _l("Source"),
                "choice",
                Order.source,
                choices={s: SOURCE_LABELS[s] for s in ORDER_SOURCES},
            ),
            ReportField("currency", _l("Currency"), "text", Order.currency),
            ReportField("total", _l("Total"), "money", Order.total, aggregatable=True),
            ReportField("ordered_at", _l("Ordered"), "datetime", Order.ordered_at),
            ReportField(
                "account_industry", _l("Industry"), "text", Account.industry, join="account"
            ),
            ReportField("account_region", _l("Region"), "text", Account.region, join="account"),
            ReportField(
                "account_size",
                _l("Company size"),
                "choice",
                Account.size,
                choices=_plain(SIZES),
                join="account",
            ),
        ),
        visible=lambda m: _visible_linked(Order, m),
        joins={
            "account": lambda stmt: stmt.outerjoin(
                Account,
                and_(Account.tenant_id == Order.tenant_id, Account.id == Order.account_id),
            )
        },
        record_url=lambda row: url_for("workspace.order", order_id=row.id),
        title_field="number",
        date_field="ordered_at",
    )
    return [accounts, contacts, activities, orders]


def _activity_url(row: Any) -> str:
    if row.contact_id is not None:
        return url_for("workspace.contact", contact_id=row.contact_id)
    if row.account_id is not None:
        return url_for("workspace.account", account_id=row.account_id)
    return url_for("workspace.tasks")
