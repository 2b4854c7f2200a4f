"""The report engine on the test database (PostgreSQL by default, SQLite with
``CRM_TEST_DB=sqlite``): groups, time buckets, aggregates, filters, checks, visibility."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant
from helpers_analytics import amounts, run_as, seed
from sqlalchemy import select

from crm_platform.identity import Membership
from crm_platform.sdk import ReportField, ReportSource
from plugins.analytics.builtin import BUILTINS
from plugins.analytics.engine import (
    Definition,
    ReportError,
    bucket_end,
    bucket_label,
    sources,
    statement,
    validate,
)

OWNER = "owner@acme.example"


def test_sum_of_won_deals_by_month(app: Any, acme: Any) -> None:
    seed(app, acme)
    defn = Definition(
        source="deals",
        groups=["closed_at"],
        bucket="month",
        aggregates=[("sum", "amount"), ("count", "")],
        filters=[("status", "eq", "won")],
    )
    result = run_as(app, acme, OWNER, defn)
    assert amounts(result) == {("2026-01",): 3000.0, ("2026-02",): 4000.0}
    assert [r.values[1] for r in result.rows] == [2.0, 1.0]
    # the drill-down of a month is the date range of that month, plus the report's filter
    assert result.rows[0].drill == [
        ("status", "eq", "won"),
        ("closed_at", "gte", "2026-01-01"),
        ("closed_at", "lt", "2026-02-01"),
    ]


@pytest.mark.parametrize(
    ("bucket", "labels"),
    [
        ("day", {"2026-01-10", "2026-01-20", "2026-02-05"}),
        ("week", {"2026-01-05", "2026-01-19", "2026-02-02"}),
        ("quarter", {"2026-Q1"}),
        ("year", {"2026"}),
    ],
)
def test_time_buckets(app: Any, acme: Any, bucket: str, labels: set[str]) -> None:
    seed(app, acme)
    defn = Definition(
        source="deals",
        groups=["closed_at"],
        bucket=bucket,
        aggregates=[("sum", "amount")],
        filters=[("status", "eq", "won")],
    )
    result = run_as(app, acme, OWNER, defn)
    assert {r.labels[0] for r in result.rows} == labels
    assert sum(r.values[0] for r in result.rows) == 7000.0


def test_bucket_arithmetic() -> None:
    from datetime import date

    assert bucket_end(date(2026, 11, 1), "quarter") == date(2027, 2, 1)
    assert bucket_end(date(2026, 12, 1), "month") == date(2027, 1, 1)
    assert bucket_label(date(2026, 10, 1), "quarter") == "2026-Q4"


def test_group_by_a_joined_field_and_two_groups(app: Any, acme: Any) -> None:
    seed(app, acme)
    by_region = Definition(
        source="deals", groups=["account_region"], aggregates=[("sum", "amount")]
    )
    assert amounts(run_as(app, acme, OWNER, by_region)) == {("North",): 5700.0, ("South",): 2500.0}
    two = Definition(
        source="deals",
        groups=["account_industry", "status"],
        aggregates=[("count", ""), ("avg", "amount"), ("min", "amount"), ("max", "amount")],
    )
    result = run_as(app, acme, OWNER, two)
    rows = {tuple(r.labels): r.values for r in result.rows}
    assert rows[("banking", "won")] == [2.0, 2500.0, 1000.0, 4000.0]
    assert rows[("retail", "lost")] == [1.0, 500.0, 500.0, 500.0]
    assert result.value_headings[0] == "Count"


def test_choice_labels_and_funnel_order(app: Any, acme: Any) -> None:
    info = seed(app, acme)
    defn = Definition(source="deals", groups=["stage_id"], chart="funnel")
    result = run_as(app, acme, OWNER, defn)
    labels = [r.labels[0] for r in result.rows]
    stage_order = list(info["stages"].by_name)
    assert labels == [name for name in stage_order if name in labels]  # the pipeline's order
    assert set(labels) == {"Won", "Lost", stage_order[0]}


def test_win_loss_by_reason_and_competitor(app: Any, acme: Any) -> None:
    seed(app, acme)
    reason = Definition(source="deals", groups=["close_reason"], filters=[("status", "eq", "lost")])
    assert amounts(run_as(app, acme, OWNER, reason)) == {("price",): 1.0}
    competitor = Definition(
        source="deals", groups=["competitor"], filters=[("status", "ne", "open")]
    )
    result = amounts(run_as(app, acme, OWNER, competitor))
    assert result[("Globex",)] == 1.0
    assert result[("—",)] == 3.0  # no competitor named


def test_filters(app: Any, acme: Any) -> None:
    seed(app, acme)

    def total(*filters: tuple[str, str, str]) -> float:
        defn = Definition(source="deals", aggregates=[("sum", "amount")], filters=list(filters))
        return run_as(app, acme, OWNER, defn).rows[0].values[0] or 0.0

    assert total() == 8200.0
    assert total(("amount", "gte", "1000")) == 7000.0
    assert total(("amount", "lt", "1000")) == 1200.0
    assert total(("name", "contains", "won")) == 7000.0
    assert total(("close_reason", "not_empty", "")) == 500.0
    assert total(("closed_at", "gte", "2026-02-01"), ("closed_at", "lt", "2026-03-01")) == 4500.0
    assert total(("account_industry", "eq", "retail")) == 2500.0


def test_every_builtin_report_runs(app: Any, acme: Any) -> None:
    seed(app, acme)
    with in_tenant(app, acme) as session:
        member = session.scalars(select(Membership)).first()
        available = sources(member)
    ran = 0
    for builtin in BUILTINS:
        if builtin.definition.source not in available:
            continue
        run_as(app, acme, OWNER, builtin.definition)
        ran += 1
    assert ran >= 15


@pytest.mark.parametrize(
    ("defn", "field", "message"),
    [
        (Definition(source="nope"), "source", "Choose one of the listed record types."),
        (Definition(source="deals", groups=["nope"]), "group", "nope is not a field of Deals."),
        (Definition(source="deals", groups=["amount", "amount"]), "group", "two different"),
        (Definition(source="deals", groups=["name"]), "group", "Name cannot be grouped by."),
        (Definition(source="deals", aggregates=[("sum", "name")]), "agg", "cannot be summed"),
        (Definition(source="deals", aggregates=[("median", "amount")]), "agg", "listed"),
        (Definition(source="deals", aggregates=[("sum", "")]), "agg", "Choose the field"),
        (Definition(source="deals", filters=[("amount", "eq", "lots")]), "filter", "number"),
        (Definition(source="deals", filters=[("status", "eq", "x")]), "filter", "listed"),
        (
            Definition(source="deals", filters=[("created_at", "gte", "2026-13-01")]),
            "filter",
            "date",
        ),
        (Definition(source="deals", filters=[("amount", "contains", "1")]), "filter", "text"),
        (Definition(source="deals", filters=[("status", "gt", "won")]), "filter", "compared"),
        (Definition(source="deals", bucket="decade"), "bucket", "period"),
        (Definition(source="deals", chart="radar"), "chart", "chart"),
    ],
)
def test_bad_definitions_are_refused(
    app: Any, acme: Any, defn: Definition, field: str, message: str
) -> None:
    with in_tenant(app, acme) as session:
        member = session.scalars(select(Membership)).first()
        errors = validate(defn, sources(member))
        assert field in errors and message in errors[field], errors
        with pytest.raises(ReportError):
            from plugins.analytics.engine import run

            run(defn, member)


def test_definitions_round_trip() -> None:
    from werkzeug.datastructures import MultiDict

    defn = Definition(
        source="deals",
        groups=["stage_id", "status"],
        bucket="week",
        aggregates=[("sum", "amount"), ("count", "")],
        filters=[("name", "contains", "a:b"), ("amount", "gte", "10")],
        columns=["name", "amount"],
        chart="line",
        sort="value",
    )
    assert Definition.from_args(MultiDict(defn.to_args())) == defn
    assert Definition.from_dict(defn.to_dict()) == defn


def test_one_statement_with_group_by(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        member = session.scalars(select(Membership)).first()
        source = sources(member)["deals"]
        defn = Definition(source="deals", groups=["closed_at", "account_region"])
        sql = str(statement(defn, source, member).compile(session.get_bind()))
    assert sql.count("SELECT") == 1 and "GROUP BY g0, g1" in sql and "LIMIT" in sql


def test_hook_crm_report_sources(app: Any, acme: Any) -> None:
    """Sources come from every enabled module through the core hook; a module that is off
    contributes none."""
    with in_tenant(app, acme) as session:
        member = session.scalars(select(Membership)).first()
        keys = set(sources(member))
    assert {"accounts", "contacts", "activities", "orders", "deals", "quote_lines"} <= keys
    assert "tickets" not in keys and "campaigns" not in keys  # Service, Marketing are off
    field = ReportField("x", "X", "number", None, aggregatable=True)
    source = ReportSource(key="x", label="X", model=None, fields=(field,))
    assert source.get_field("x") is field and source.get_field("y") is None
    with pytest.raises(ValueError):
        ReportField("x", "X", "colour", None)


def test_buckets_are_utc_days(app: Any, acme: Any) -> None:
    """A deal closed late on the last day of a month (UTC) counts in that month and day,
    whatever the database session's time zone."""
    from datetime import UTC, datetime

    from sqlalchemy import text, update

    from plugins.sfa.models import Deal

    seed(app, acme)
    with in_tenant(app, acme) as session:
        session.execute(
            update(Deal)
            .where(Deal.name == "Won B")
            .values(closed_at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL TIME ZONE 'Asia/Shanghai'"))
        member = session.scalars(select(Membership)).first()
        from plugins.analytics.engine import run

        defn = Definition(
            source="deals",
            groups=["closed_at"],
            bucket="day",
            aggregates=[("sum", "amount")],
            filters=[("status", "eq", "won")],
        )
        labels = {r.labels[0]: r.values[0] for r in run(defn, member).rows}
        session.rollback()
    assert labels["2026-01-31"] == 2000.0


def test_funnel_conversion_from_the_stage_history(app: Any, acme: Any) -> None:
    """Deals that entered each stage, from the deals' history, in the pipeline's order."""
    from helpers_sfa import deal, stages

    from plugins.sfa.deals import move_deal
    from plugins.sfa.models import Deal

    st = stages(app, acme)
    names = list(st.by_name)
    ids = [deal(app, acme, name=f"D{i}", amount="100") for i in range(4)]
    with in_tenant(app, acme) as session:
        for i, deal_id in enumerate(ids):
            row = session.get(Deal, (acme.id, uuid.UUID(deal_id)))
            for name in names[1 : 1 + i]:  # deal i goes i stages further
                if name not in ("Won", "Lost"):
                    move_deal(row, st[name])
        session.commit()
    result = run_as(app, acme, OWNER, Definition(source="stage_moves", groups=["to_stage_id"]))
    counts = amounts(result)
    assert counts[(names[0],)] == 4.0
    assert counts[(names[1],)] == 3.0
    assert [r.labels[0] for r in result.rows] == [n for n in names if (n,) in counts]
