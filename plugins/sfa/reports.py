"""What Sales contributes to the report builder (``crm_report_sources``): deals and quote lines.

Deals group by stage, pipeline, owner, the owner's team, status, forecast category, the win or
loss reason, the first competitor named, and the account's industry, region and size; amounts
sum and average, and two derived numbers give the velocity: days in the current stage (open
deals) and days from creation to close (won or lost deals). Quote lines give the product and
price analysis: quantity, list value, discount and net value by product and product line, and
the margins: the unit cost kept on each line when it was priced, the line's cost (quantity
times unit cost) and margin (net value less cost; none when the cost is not known).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from crm_platform.sdk import (
    Account,
    Membership,
    ReportField,
    ReportSource,
    TeamMember,
    all_teams,
    db,
)

from .models import FORECAST_CATEGORIES, Deal, DealStageChange, Pipeline, Stage
from .quote_models import Product, Quote, QuoteLine
from .quotes import STATUS_LABELS as QUOTE_STATUS_LABELS
from .visibility import deal_clause

STATUS_LABELS = {"open": _l("open"), "won": _l("won"), "lost": _l("lost")}
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")


class days_between(FunctionElement):  # noqa: N801 - an SQL function's name
    """Days (fractional) from the first datetime to the second, on PostgreSQL and SQLite."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "postgresql")
def _days_pg(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
        f"{compiler.process(start, **kw)})) / 86400.0)"
    )


@compiles(days_between)
def _days_default(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
    )


def _members() -> dict[str, str]:
    rows = db.session.scalars(select(Membership)).unique().all()
    return {str(m.user_id): m.user.name or m.user.email for m in rows}


def _teams() -> dict[str, str]:
    return {str(t.id): t.name for t in all_teams()}


def _stages() -> dict[str, str]:
    """Stages in pipeline and position order (a funnel's order), named with their pipeline
    when the tenant has more than one."""
    stmt = (
        select(Stage, Pipeline.name)
        .join(
            Pipeline, and_(Pipeline.tenant_id == Stage.tenant_id, Pipeline.id == Stage.pipeline_id)
        )
        .order_by(Pipeline.position, Pipeline.name, Stage.position)
    )
    rows = db.session.execute(stmt).all()
    several = len({name for _, name in rows}) > 1
    return {
        str(stage.id): f"{pipeline} · {stage.name}" if several else stage.name
        for stage, pipeline in rows
    }


def _pipelines() -> dict[str, str]:
    stmt = select(Pipeline).order_by(Pipeline.position, Pipeline.name)
    return {str(p.id): p.name for p in db.session.scalars(stmt)}


def _products() -> dict[str, str]:
    return {str(p.id): p.name for p in db.session.scalars(select(Product).order_by(Product.name))}


_DEAL_LIST = {
    "status": "status",
    "stage_id": "stage",
    "owner_id": "owner",
    "pipeline_id": "pipeline",
}


def _deals_list(filters: Mapping[str, str]) -> str | None:
    """The deals list for filters it can express (status, stage, owner, pipeline)."""
    args = {"status": "all"}
    for name, value in filters.items():
        if name not in _DEAL_LIST or (value == "" and name != "owner_id"):
            return None
        args[_DEAL_LIST[name]] = value or "none"
    return url_for("sfa.deals", **args)


def _first_competitor() -> ColumnElement[Any]:
    return Deal.competitors[0].as_string()


def _account_join(stmt: Any) -> Any:
    return stmt.outerjoin(
        Account, and_(Account.tenant_id == Deal.tenant_id, Account.id == Deal.account_id)
    )


def _team_join(stmt: Any) -> Any:
    return stmt.outerjoin(
        TeamMember,
        and_(TeamMember.tenant_id == Deal.tenant_id, TeamMember.user_id == Deal.owner_id),
    )


def deal_source() -> ReportSource:
    """Deals."""
    return ReportSource(
        key="deals",
        label=_l("Deals"),
        model=Deal,
        fields=(
            ReportField("name", _l("Name"), "text", Deal.name, groupable=False),
            ReportField("status", _l("Status"), "choice", Deal.status, choices=STATUS_LABELS),
            ReportField("stage_id", _l("Stage"), "choice", Deal.stage_id, choices=_stages),
            ReportField("pipeline_id", _l("Pipeline"), "choice", Deal.pipeline_id, _pipelines),
            ReportField("owner_id", _l("Owner"), "choice", Deal.owner_id, choices=_members),
            ReportField(
                "owner_team",
                _l("Owner's team"),
                "choice",
                TeamMember.team_id,
                choices=_teams,
                join="team",
            ),
            ReportField("amount", _l("Amount"), "money", Deal.amount, aggregatable=True),
            ReportField("currency", _l("Currency"), "text", Deal.currency),
            ReportField(
                "forecast_category",
                _l("Forecast category"),
                "choice",
                Deal.forecast_category,
                choices={c: c.replace("_", " ") for c in FORECAST_CATEGORIES},
            ),
            ReportField("close_reason", _l("Win or loss reason"), "text", Deal.close_reason),
            ReportField("competitor", _l("Competitor (first named)"), "text", _first_competitor()),
            ReportField("expected_close", _l("Expected close"), "date", Deal.expected_close),
            ReportField("closed_at", _l("Closed"), "datetime", Deal.closed_at),
            ReportField("created_at", _l("Created"), "datetime", Deal.created_at),
            ReportField(
                "days_in_stage",
                _l("Days in current stage"),
                "number",
                days_between(Deal.stage_entered_at, func.current_timestamp()),
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "days_to_close",
                _l("Days to close"),
                "number",
                days_between(Deal.created_at, Deal.closed_at),
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "account_industry", _l("Industry"), "text", Account.industry, join="account"
            ),
            ReportField("account_region", _l("Region"), "text", Account.region, join="account"),
            ReportField(
                "account_size",
                _l("Company size"),
                "choice",
                Account.size,
                choices={s: s for s in SIZES},
                join="account",
            ),
        ),
        visible=deal_clause,
        joins={"account": _account_join, "team": _team_join},
        record_url=lambda row: url_for("sfa.deal", deal_id=row.id),
        drill_url=_deals_list,
        permission="sfa.read",
    )


def _line_deal_join(stmt: Any) -> Any:
    return stmt.join(
        Quote, and_(Quote.tenant_id == QuoteLine.tenant_id, Quote.id == QuoteLine.quote_id)
    ).join(Deal, and_(Deal.tenant_id == Quote.tenant_id, Deal.id == Quote.deal_id))


def _line_product_join(stmt: Any) -> Any:
    return stmt.outerjoin(
        Product, and_(Product.tenant_id == QuoteLine.tenant_id, Product.id == QuoteLine.product_id)
    )


def quote_line_source() -> ReportSource:
    """Quote lines: the product and price analysis (discounts and margins by product and
    product line)."""

    def visible(membership: Any) -> Any:
        clause = deal_clause(membership)
        if clause is None:
            return None
        seen = select(Deal.id).where(clause)
        quotes = select(Quote.id).where(Quote.deal_id.in_(seen))
        return QuoteLine.quote_id.in_(quotes)

    cents = 100.0
    return ReportSource(
        key="quote_lines",
        label=_l("Quote lines"),
        model=QuoteLine,
        fields=(
            ReportField(
                "description", _l("Description"), "text", QuoteLine.description, groupable=False
            ),
            ReportField("product_id", _l("Product"), "choice", QuoteLine.product_id, _products),
            ReportField(
                "quantity", _l("Quantity"), "number", QuoteLine.quantity, aggregatable=True
            ),
            ReportField(
                "unit_price", _l("Unit price"), "money", QuoteLine.unit_price, aggregatable=True
            ),
            ReportField(
                "discount_percent",
                _l("Discount %"),
                "number",
                QuoteLine.discount_percent,
                aggregatable=True,
            ),
            ReportField(
                "list_value",
                _l("List value"),
                "money",
                QuoteLine.subtotal_cents / cents,
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "discount",
                _l("Discount"),
                "money",
                QuoteLine.discount_cents / cents,
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "net_value",
                _l("Net value"),
                "money",
                (QuoteLine.subtotal_cents - QuoteLine.discount_cents) / cents,
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "product_line",
                _l("Product line"),
                "text",
                Product.product_line,
                join="product",
            ),
            ReportField(
                "unit_cost",
                _l("Unit cost"),
                "money",
                QuoteLine.unit_cost,
                aggregatable=True,
            ),
            ReportField(
                "cost",
                _l("Cost"),
                "money",
                QuoteLine.quantity * QuoteLine.unit_cost,
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "margin",
                _l("Margin"),
                "money",
                (QuoteLine.subtotal_cents - QuoteLine.discount_cents) / cents
                - QuoteLine.quantity * QuoteLine.unit_cost,
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "quote_status",
                _l("Quote status"),
                "choice",
                Quote.status,
                choices=QUOTE_STATUS_LABELS,
                join="deal",
            ),
            ReportField(
                "deal_status", _l("Deal status"), "choice", Deal.status, STATUS_LABELS, join="deal"
            ),
            ReportField("quote_created", _l("Quoted"), "datetime", Quote.created_at, join="deal"),
        ),
        visible=visible,
        joins={"deal": _line_deal_join, "product": _line_product_join},
        record_url=lambda row: url_for("sfa.quote", quote_id=row.quote_id),
        permission="sfa.read",
        title_field="description",
        date_field="quote_created",
    )


def stage_move_source() -> ReportSource:
    """Moves of deals into stages (the history): how many deals reached each stage, i.e. the
    funnel's conversion from stage to stage, and when."""

    def visible(membership: Any) -> Any:
        clause = deal_clause(membership)
        if clause is None:
            return None
        return DealStageChange.deal_id.in_(select(Deal.id).where(clause))

    return ReportSource(
        key="stage_moves",
        label=_l("Deal stage moves"),
        model=DealStageChange,
        fields=(
            ReportField(
                "to_stage_id", _l("Into stage"), "choice", DealStageChange.to_stage_id, _stages
            ),
            ReportField("to_name", _l("Into stage (name)"), "text", DealStageChange.to_name),
            ReportField("from_name", _l("From stage (name)"), "text", DealStageChange.from_name),
            ReportField(
                "changed_by_id", _l("Moved by"), "choice", DealStageChange.changed_by_id, _members
            ),
            ReportField("amount", _l("Amount"), "money", DealStageChange.amount, aggregatable=True),
            ReportField("changed_at", _l("Moved"), "datetime", DealStageChange.changed_at),
        ),
        visible=visible,
        record_url=lambda row: url_for("sfa.deal", deal_id=row.deal_id),
        permission="sfa.read",
        title_field="to_name",
        date_field="changed_at",
    )


def report_sources() -> list[ReportSource]:
    """Deals, their stage moves and quote lines."""
    return [deal_source(), stage_move_source(), quote_line_source()]
