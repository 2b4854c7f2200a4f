"""Built-in reports: ready definitions on the sources the modules contribute.

The analytics home page lists those whose source the tenant has (Sales for deals and quote
lines, Service for tickets, Marketing for campaigns); each opens in the builder, where it can
be changed and saved as one's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from .engine import Definition, validate

WON = ("status", "eq", "won")
CLOSED = ("status", "ne", "open")
#: Quote lines sold: their quote was accepted (which wins the deal).
SOLD = ("quote_status", "eq", "accepted")


@dataclass(frozen=True)
class Builtin:
    """A built-in report: key, name, what it answers, its group on the page, definition."""

    key: str
    name: Any
    description: Any
    category: Any
    definition: Definition


def _d(source: str, groups: list[str], aggs: list[tuple[str, str]], **kw: Any) -> Definition:
    return Definition(source=source, groups=groups, aggregates=aggs, **kw)


SALES, PIPELINE, WINLOSS = _l("Sales"), _l("Pipeline"), _l("Win and loss")
PRODUCTS, CUSTOMERS, SERVICE, MARKETING = (
    _l("Products and prices"),
    _l("Customers"),
    _l("Service"),
    _l("Marketing"),
)

BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        "sales-by-month",
        _l("Sales by month"),
        _l("Won deals' value by the month they closed."),
        SALES,
        _d("deals", ["closed_at"], [("sum", "amount"), ("count", "")], filters=[WON], chart="line"),
    ),
    Builtin(
        "sales-by-quarter",
        _l("Sales by quarter"),
        _l("Won deals' value by the quarter they closed."),
        SALES,
        _d("deals", ["closed_at"], [("sum", "amount")], bucket="quarter", filters=[WON]),
    ),
    Builtin(
        "sales-by-owner",
        _l("Sales by owner"),
        _l("Won deals' value by the rep who owns them."),
        SALES,
        _d("deals", ["owner_id"], [("sum", "amount"), ("count", "")], filters=[WON]),
    ),
    Builtin(
        "sales-by-team",
        _l("Sales by team"),
        _l("Won deals' value by the owner's team (a rep in two teams counts in both)."),
        SALES,
        _d("deals", ["owner_team"], [("sum", "amount")], filters=[WON]),
    ),
    Builtin(
        "sales-by-region",
        _l("Sales by region"),
        _l("Won deals' value by the account's region."),
        SALES,
        _d("deals", ["account_region"], [("sum", "amount")], filters=[WON], chart="pie"),
    ),
    Builtin(
        "sales-by-product",
        _l("Sales by product"),
        _l("Net value of quote lines on won deals, by product."),
        SALES,
        _d(
            "quote_lines",
            ["product_id"],
            [("sum", "net_value"), ("sum", "quantity")],
            filters=[("deal_status", "eq", "won")],
        ),
    ),
    Builtin(
        "orders-by-month",
        _l("Order revenue by month"),
        _l("Totals of orders that count as revenue, by month ordered."),
        SALES,
        _d(
            "orders",
            ["ordered_at"],
            [("sum", "total"), ("count", "")],
            filters=[("status", "ne", "cancelled"), ("status", "ne", "refunded")],
            chart="line",
        ),
    ),
    Builtin(
        "funnel",
        _l("Pipeline funnel"),
        _l("Deals in each stage, in the pipeline's order."),
        PIPELINE,
        _d("deals", ["stage_id"], [("count", ""), ("sum", "amount")], chart="funnel"),
    ),
    Builtin(
        "stage-conversion",
        _l("Funnel conversion"),
        _l("Deals that entered each stage (from the deals' history), in the pipeline's order."),
        PIPELINE,
        _d("stage_moves", ["to_stage_id"], [("count", ""), ("sum", "amount")], chart="funnel"),
    ),
    Builtin(
        "velocity",
        _l("Velocity by stage"),
        _l("Average days open deals have been in their current stage."),
        PIPELINE,
        _d(
            "deals",
            ["stage_id"],
            [("avg", "days_in_stage"), ("count", "")],
            filters=[("status", "eq", "open")],
            sort="group",
        ),
    ),
    Builtin(
        "days-to-close",
        _l("Days to close"),
        _l("Average days from creation to winning, by quarter closed."),
        PIPELINE,
        _d(
            "deals",
            ["closed_at"],
            [("avg", "days_to_close")],
            bucket="quarter",
            filters=[WON],
            chart="line",
        ),
    ),
    Builtin(
        "win-loss-reason",
        _l("Win and loss by reason"),
        _l("Closed deals by the reason given, won and lost."),
        WINLOSS,
        _d("deals", ["close_reason", "status"], [("count", "")], filters=[CLOSED]),
    ),
    Builtin(
        "win-loss-competitor",
        _l("Win and loss by competitor"),
        _l("Closed deals by the first competitor named, won and lost."),
        WINLOSS,
        _d("deals", ["competitor", "status"], [("count", "")], filters=[CLOSED]),
    ),
    Builtin(
        "discounts-by-product",
        _l("Discounts by product"),
        _l("List value, discount given and average discount percentage, by product."),
        PRODUCTS,
        _d(
            "quote_lines",
            ["product_id"],
            [("sum", "list_value"), ("sum", "discount"), ("avg", "discount_percent")],
        ),
    ),
    Builtin(
        "discounts-by-product-line",
        _l("Discounts by product line"),
        _l("List value, discount given and average discount percentage, by product line."),
        PRODUCTS,
        _d(
            "quote_lines",
            ["product_line"],
            [("sum", "list_value"), ("sum", "discount"), ("avg", "discount_percent")],
        ),
    ),
    Builtin(
        "margin-by-product-line",
        _l("Margin by product line"),
        _l(
            "Margin, revenue (net value) and cost of the lines of accepted quotes whose unit "
            "cost is known, by product line."
        ),
        PRODUCTS,
        _d(
            "quote_lines",
            ["product_line"],
            [("sum", "margin"), ("sum", "net_value"), ("sum", "cost")],
            filters=[SOLD, ("unit_cost", "not_empty", "")],
        ),
    ),
    Builtin(
        "price-by-product",
        _l("Prices by product"),
        _l("Lowest, average and highest unit price quoted, by product."),
        PRODUCTS,
        _d(
            "quote_lines",
            ["product_id"],
            [("min", "unit_price"), ("avg", "unit_price"), ("max", "unit_price")],
            chart="table",
        ),
    ),
    Builtin(
        "revenue-by-size",
        _l("Revenue by company size"),
        _l("Order revenue by the size of the ordering account (value by customer tier)."),
        CUSTOMERS,
        _d(
            "orders",
            ["account_size"],
            [("sum", "total"), ("avg", "total")],
            filters=[("status", "ne", "cancelled"), ("status", "ne", "refunded")],
        ),
    ),
    Builtin(
        "customers-by-value-tier",
        _l("Customers by value tier"),
        _l("Accounts by their order revenue in the last 12 months (tiers A, B, C), with it."),
        CUSTOMERS,
        _d("accounts", ["value_tier"], [("count", ""), ("sum", "revenue_12m")], sort="group"),
    ),
    Builtin(
        "customers-by-industry",
        _l("Customers by industry"),
        _l("Accounts by industry."),
        CUSTOMERS,
        _d("accounts", ["industry"], [("count", "")], chart="pie"),
    ),
    Builtin(
        "customers-by-size",
        _l("Customers by size"),
        _l("Accounts by number of employees."),
        CUSTOMERS,
        _d("accounts", ["size"], [("count", "")], sort="group"),
    ),
    Builtin(
        "customers-by-region",
        _l("Customers by region"),
        _l("Accounts by region."),
        CUSTOMERS,
        _d("accounts", ["region"], [("count", "")]),
    ),
    Builtin(
        "customers-by-lifecycle",
        _l("Customers by lifecycle stage"),
        _l("Accounts from prospect to churned."),
        CUSTOMERS,
        _d("accounts", ["lifecycle_stage"], [("count", "")], chart="funnel"),
    ),
    Builtin(
        "tickets-by-month",
        _l("Tickets by month and priority"),
        _l("Tickets opened each month, by priority."),
        SERVICE,
        _d("tickets", ["created_at", "priority"], [("count", "")]),
    ),
    Builtin(
        "resolution-by-queue",
        _l("Resolution time by queue"),
        _l("Average hours to first response and to solve, by queue."),
        SERVICE,
        _d(
            "tickets",
            ["queue_id"],
            [("avg", "first_response_hours"), ("avg", "resolution_hours"), ("count", "")],
        ),
    ),
    Builtin(
        "tickets-by-channel",
        _l("Tickets by channel"),
        _l("Where tickets come from."),
        SERVICE,
        _d("tickets", ["channel"], [("count", "")], chart="pie"),
    ),
    Builtin(
        "campaigns-by-channel",
        _l("Campaign cost and responses by channel"),
        _l("What campaigns cost and the responses recorded, by channel."),
        MARKETING,
        _d("campaigns", ["channel"], [("sum", "cost"), ("sum", "responses"), ("count", "")]),
    ),
)
BY_KEY = {b.key: b for b in BUILTINS}


def available(sources: Mapping[str, Any]) -> list[Builtin]:
    """The built-in reports whose source the member has (and that check out on it)."""
    return [b for b in BUILTINS if not validate(b.definition, sources)]
