"""Margins by product line (quote lines with the unit cost kept when they were priced) and
customers by value tier (order revenue of the last 12 months, bucketed in SQL), with exact
figures on PostgreSQL and SQLite (``CRM_TEST_DB=sqlite``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_analytics import run_as
from helpers_sfa import deal
from sqlalchemy import select

from crm_platform.customers import Account
from crm_platform.identity import Membership, Tenant, User
from crm_platform.orders import Order
from crm_platform.report_sources import VALUE_TIER_LABELS, VALUE_TIERS, revenue_since
from plugins.analytics.builtin import BY_KEY
from plugins.analytics.engine import Definition, checked, statement
from plugins.sfa.models import Deal
from plugins.sfa.products import create_product, update_product
from plugins.sfa.quotes import add_line, create_quote

OWNER = "owner@acme.example"
REP = "rep@acme.example"


def _rows(result: Any) -> dict[tuple[str, ...], list[float | None]]:
    return {
        tuple(r.labels): [round(v, 2) if v is not None else None for v in r.values]
        for r in result.rows
    }


# --------------------------------------------------------------------------- margins


def _catalogue_and_quotes(app: Any, acme: Any) -> None:
    """Laptop (Hardware, cost 600), Mouse (Hardware, cost 5), Support (Services, cost 30),
    Widget (no line, cost 10), Cable (Hardware, no cost); an accepted quote and a draft."""
    deal_id = deal(app, acme, name="Margins", amount="1")
    with in_tenant(app, acme) as session:
        laptop = create_product(
            {
                "code": "L",
                "name": "Laptop",
                "unit_price": "1000",
                "cost": "600",
                "product_line": "Hardware",
            }
        )
        mouse = create_product(
            {
                "code": "M",
                "name": "Mouse",
                "unit_price": "20",
                "cost": "5",
                "product_line": " Hardware ",
            }
        )
        support = create_product(
            {
                "code": "S",
                "name": "Support",
                "unit_price": "100",
                "cost": "30",
                "product_line": "Services",
            }
        )
        widget = create_product({"code": "W", "name": "Widget", "unit_price": "50", "cost": "10"})
        cable = create_product(
            {"code": "C", "name": "Cable", "unit_price": "7", "product_line": "Hardware"}
        )
        d = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        sold = create_quote(d)
        # Laptop: 2 × 1000 = 2000, 10 % off → net 1800, cost 1200, margin 600
        add_line(sold, {"product_id": str(laptop.id), "quantity": "2", "discount_percent": "10"})
        # Mouse: 10 × 20 = 200, cost 50, margin 150
        add_line(sold, {"product_id": str(mouse.id), "quantity": "10"})
        # Support: 3 × 100 = 300, cost 90, margin 210
        add_line(sold, {"product_id": str(support.id), "quantity": "3"})
        # Widget, no product line: net 50, cost 10, margin 40
        add_line(sold, {"product_id": str(widget.id), "quantity": "1"})
        # no cost known: not in the margin report
        add_line(sold, {"product_id": str(cable.id), "quantity": "4"})
        add_line(sold, {"description": "Travel", "quantity": "1", "unit_price": "99"})
        draft = create_quote(d)
        add_line(draft, {"product_id": str(laptop.id), "quantity": "5"})
        sold.status = "accepted"
        session.commit()
        # a later cost change leaves the lines already priced as they were
        update_product(laptop, {"cost": "900"})
        session.commit()


def test_margin_by_product_line(app: Any, acme: Any) -> None:
    _catalogue_and_quotes(app, acme)
    result = run_as(app, acme, OWNER, BY_KEY["margin-by-product-line"].definition)
    # sum of margin, of net value, of cost
    assert _rows(result) == {
        ("Hardware",): [750.0, 2000.0, 1250.0],
        ("Services",): [210.0, 300.0, 90.0],
        ("—",): [40.0, 50.0, 10.0],
    }
    assert result.money == [True, True, True]
    # the same by product, with the unit cost as it was when quoted
    by_product = run_as(
        app,
        acme,
        OWNER,
        Definition(
            source="quote_lines",
            groups=["product_id"],
            aggregates=[("max", "unit_cost"), ("sum", "margin")],
            filters=[("quote_status", "eq", "accepted")],
        ),
    )
    rows = _rows(by_product)
    assert rows[("Laptop",)] == [600.0, 600.0]
    assert rows[("Cable",)] == [None, None]  # no cost: no margin
    assert rows[("—",)] == [None, None]  # the free line


def test_discounts_by_product_line(app: Any, acme: Any) -> None:
    _catalogue_and_quotes(app, acme)
    result = run_as(app, acme, OWNER, BY_KEY["discounts-by-product-line"].definition)
    rows = _rows(result)
    # Hardware: laptop 2000 (+ the draft's 5000), mouse 200, cable 28; 200 discount
    assert rows[("Hardware",)] == [7228.0, 200.0, 2.5]
    assert rows[("Services",)] == [300.0, 0.0, 0.0]
    assert rows[("—",)] == [149.0, 0.0, 0.0]  # widget and the free line


def test_margins_drill_down_to_the_lines(app: Any, acme: Any) -> None:
    _catalogue_and_quotes(app, acme)
    result = run_as(app, acme, OWNER, BY_KEY["margin-by-product-line"].definition)
    hardware = next(r for r in result.rows if r.labels == ["Hardware"])
    assert ("product_line", "eq", "Hardware") in hardware.drill
    count = run_as(
        app,
        acme,
        OWNER,
        Definition(source="quote_lines", aggregates=[("count", "")], filters=hardware.drill),
    )
    assert count.rows[0].values == [2.0]  # laptop and mouse (the cable has no cost)


# --------------------------------------------------------------------------- value tiers


def _account(session: Any, name: str, owner: Any = None) -> Account:
    account = Account(name=name, owner_id=owner)
    session.add(account)
    session.flush()
    return account


def _order(session: Any, account: Any, total: str, *, days: int = 30, status: str = "paid") -> None:
    session.add(
        Order(
            number=f"O-{uuid.uuid4().hex[:8]}",
            account_id=account.id if account is not None else None,
            ordered_at=datetime.now(UTC) - timedelta(days=days),
            status=status,
            total=Decimal(total),
        )
    )


def _tiered(app: Any, acme: Any, *, rep_id: Any = None) -> None:
    with in_tenant(app, acme) as session:
        big = _account(session, "Big")
        _order(session, big, "60000")
        _order(session, big, "40000", status="shipped")  # 100,000: A (the boundary)
        almost = _account(session, "Almost")
        _order(session, almost, "99999.99")  # B
        ten = _account(session, "Ten", owner=rep_id)
        _order(session, ten, "10000", status="pending")  # B (the boundary)
        small = _account(session, "Small", owner=rep_id)
        _order(session, small, "0.01", status="completed")  # C
        old = _account(session, "Old")
        _order(session, old, "200000", days=400)  # out of the window
        _order(session, old, "5000", days=300)  # C
        _order(session, old, "9999.99", status="refunded")
        zero = _account(session, "Zero", owner=rep_id)
        _order(session, zero, "0")  # none
        cancelled = _account(session, "Cancelled")
        _order(session, cancelled, "50000", status="cancelled")  # none
        _account(session, "Nothing")  # none
        gone = _account(session, "Gone")
        _order(session, gone, "500000")
        gone.deleted_at = datetime.now(UTC)  # deleted accounts are not counted
        _order(session, None, "70000")  # an order on no account
        session.commit()


def test_customers_by_value_tier(app: Any, acme: Any) -> None:
    _tiered(app, acme)
    result = run_as(app, acme, OWNER, BY_KEY["customers-by-value-tier"].definition)
    assert [r.keys[0] for r in result.rows] == ["A", "B", "C", "none"]  # the tiers' order
    assert {r.keys[0]: r.values for r in result.rows} == {
        "A": [1.0, 100000.0],
        "B": [2.0, 109999.99],
        "C": [2.0, 5000.01],
        "none": [3.0, 0.0],
    }
    assert result.rows[0].labels == ["A: 100,000 or more"]
    assert result.rows[-1].labels == ["No revenue"]
    # the drill-down lists a tier's accounts
    b_tier = run_as(
        app,
        acme,
        OWNER,
        Definition(source="accounts", aggregates=[("count", "")], filters=result.rows[1].drill),
    )
    assert b_tier.rows[0].values == [2.0]


def test_value_tier_respects_visibility(app: Any, acme: Any, factory: Any) -> None:
    factory.member(acme, REP, "member")
    with in_tenant(app, acme) as session:
        rep_id = session.scalars(select(User.id).where(User.email == REP)).one()
        tenant = session.get(Tenant, acme.id)
        tenant.settings = {**(tenant.settings or {}), "record_visibility": {"member": "own"}}
        session.commit()
    _tiered(app, acme, rep_id=rep_id)
    result = run_as(app, acme, REP, BY_KEY["customers-by-value-tier"].definition)
    assert {r.keys[0]: r.values for r in result.rows} == {
        "B": [1.0, 10000.0],
        "C": [1.0, 0.01],
        "none": [1.0, 0.0],
    }


def test_value_tier_is_one_grouped_statement(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        member = session.scalars(select(Membership)).first()
        defn = BY_KEY["customers-by-value-tier"].definition
        sql = str(statement(defn, checked(defn, member), member)).upper()
    assert sql.count("GROUP BY") == 1 and "FROM ORDERS" in sql


@pytest.mark.parametrize(
    ("now", "since"),
    [
        (datetime(2026, 11, 24, 9, 30, tzinfo=UTC), datetime(2025, 11, 24, 9, 30, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2025, 1, 31, tzinfo=UTC)),
    ],
)
def test_the_window_is_twelve_months(now: datetime, since: datetime) -> None:
    assert revenue_since(now) == since


def test_tiers_and_their_labels() -> None:
    """The boundaries the report test checks: A from 100,000, B from 10,000, C above 0."""
    assert [(name, str(least)) for name, least in VALUE_TIERS] == [("A", "100000"), ("B", "10000")]
    assert [(k, str(v)) for k, v in VALUE_TIER_LABELS.items()] == [
        ("A", "A: 100,000 or more"),
        ("B", "B: 10,000 or more"),
        ("C", "C: less than 10,000"),
        ("none", "No revenue"),
    ]
