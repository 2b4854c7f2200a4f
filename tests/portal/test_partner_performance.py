"""Partner performance and commission statements: registrations sent, approved, won (the
approved registration's Sales deal won in the period) and won revenue per partner, and the
commission at the organisation's rate (the tier's default or its own override), exact for a
known set of won, lost and open deals; each partner sees only their own; bad rates and
periods are refused with nothing written."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import events
from sqlalchemy import select

from .helpers import owner_client, switch
from .partner_helpers import (
    partner_client,
    partner_org,
    post_staff,
    register,
    registration_id,
    registration_row,
)

PERF = "/t/shop/portal-settings/channel/performance"
RATES = "/t/shop/portal-settings/channel/commission"
PARTNER_PERF = "/t/shop/portal/partner/performance"


def _close(app: Any, tenant: Any, reg_id: str, outcome: str, amount: str, when: Any = None) -> None:
    """Set the amount of the registration's deal and move it to the won or lost stage
    through Sales' service (``when``: the day it closed)."""
    from plugins.sfa.deals import move_deal
    from plugins.sfa.models import Deal, Stage

    deal_id = registration_row(app, tenant, reg_id)["deal_id"]
    with in_tenant(app, tenant) as session:
        deal = session.scalars(select(Deal).where(Deal.id == deal_id)).unique().one()
        deal.amount = Decimal(amount)
        stage = session.scalars(
            select(Stage).where(Stage.pipeline_id == deal.pipeline_id, Stage.outcome == outcome)
        ).first()
        move_deal(deal, str(stage.id), reason="Too expensive" if outcome == "lost" else None)
        if when is not None:
            deal.closed_at = when
        session.commit()


def _decide(staff: Any, reg_id: str, decision: str, data: dict[str, Any]) -> Any:
    """A channel manager's decision with one signed-in staff client (sign-in is rate-limited)."""
    base = f"/t/shop/portal-settings/channel/registrations/{reg_id}"
    return post_staff(staff, f"{base}/{decision}", data, page=base)


def _approved(staff: Any, client: Any, company: str) -> str:
    reg = registration_id(
        register(client, company=company, contact_email=f"x@{company.split()[0].lower()}.example")
    )
    assert _decide(staff, reg, "approve", {"create_deal": "1"}).status_code == 303
    return reg


@pytest.fixture
def known(app: Any, shop: Any) -> dict[str, Any]:
    """Xenon (gold, the tier's 10 %) and Yttrium (silver, its own 12.5 %) with a known set of
    registrations and deals this month."""
    x_org = partner_org(app, shop, "Xenon Partners", "gold")
    y_org = partner_org(app, shop, "Yttrium Ltd", "silver")
    xavier = partner_client(app, shop, x_org, "xavier@xenon.example")
    yara = partner_client(app, shop, y_org, "yara@yttrium.example")
    staff = owner_client(app, shop)
    won_a = _approved(staff, xavier, "Alpha Won")
    won_b = _approved(staff, xavier, "Bravo Won")
    lost = _approved(staff, xavier, "Charlie Lost")
    rejected = registration_id(register(xavier, company="Delta Co", contact_email="d@d.example"))
    assert _decide(staff, rejected, "reject", {"reason": "No"}).status_code == 303
    registration_id(register(xavier, company="Echo Co", contact_email="e@e.example"))  # pending
    _approved(staff, xavier, "Foxtrot Open")  # approved, deal still open
    _close(app, shop, won_a, "won", "10000")
    _close(app, shop, won_b, "won", "2500.50")
    _close(app, shop, lost, "lost", "99999")
    y_won = _approved(staff, yara, "Golf Won")
    y_old = _approved(staff, yara, "Hotel Old")
    _close(app, shop, y_won, "won", "3333.33")
    last_year = datetime(date.today().year - 1, 6, 15, 12, tzinfo=UTC)
    _close(app, shop, y_old, "won", "7000", when=last_year)
    form = {"rate_registered": "5", "rate_silver": "8", "rate_gold": "10", f"org_{y_org}": "12.5"}
    saved = post_staff(staff, RATES, form)
    assert saved.status_code == 303, saved.text
    return {"x": x_org, "y": y_org, "xavier": xavier, "yara": yara, "staff": staff}


def _cells(html: str, row_id: str) -> list[str]:
    import re

    row = html.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", row)]


def test_figures_and_commission_are_exact(app: Any, shop: Any, known: dict[str, Any]) -> None:
    from plugins.portal import performance

    with in_tenant(app, shop):
        period = performance.period_of("month", date.today())
        rows = {r.org.name: r for r in performance.figures(period)}
    x, y = rows["Xenon Partners"], rows["Yttrium Ltd"]
    assert (x.sent, x.approved, x.won) == (6, 4, 2)
    assert x.revenue == {"EUR": Decimal("12500.50")} and x.rate == Decimal("10")
    assert x.commission == {"EUR": Decimal("1250.05")}
    assert (y.sent, y.approved, y.won) == (2, 2, 1)  # the deal won last year is not this month
    assert y.revenue == {"EUR": Decimal("3333.33")} and y.rate == Decimal("12.50")
    assert y.commission == {"EUR": Decimal("416.67")}  # 416.66625, rounded half up
    with in_tenant(app, shop):
        year = performance.figures(performance.period_of("year", last_year_day()))
    assert {r.org.name: r.revenue for r in year} == {
        "Xenon Partners": {},
        "Yttrium Ltd": {"EUR": Decimal("7000.00")},
    }
    page = known["staff"].get(PERF)
    assert page.status_code == 200
    x_cells = _cells(page.text, f"perf-{known['x']}")
    assert x_cells[2:] == [
        ["6"],
        ["4"],
        ["2"],
        ["12,500.50", "EUR"],
        ["10.00", "%"],
        [
            "1,250.05",
            "EUR",
        ],
    ]
    total = _cells(page.text, "perf-total")
    assert total[2:5] == [["8"], ["6"], ["3"]]
    assert total[5] == ["15,833.83", "EUR"] and total[7] == ["1,666.72", "EUR"]


def last_year_day() -> date:
    return date(date.today().year - 1, 6, 1)


def test_partner_sees_only_their_own_statement(app: Any, shop: Any, known: dict[str, Any]) -> None:
    page = known["xavier"].get(PARTNER_PERF)
    assert page.status_code == 200
    text = page.text
    assert "Xenon Partners" in text and "Yttrium" not in text
    assert 'id="perf-sent">6<' in text and 'id="perf-won">2<' in text
    assert "12,500.50 EUR" in text and "1,250.05 EUR" in text and "10.00 %" in text
    assert "3,333.33" not in text and "416.67" not in text
    other = known["yara"].get(PARTNER_PERF).text
    assert "416.67 EUR" in other and "12.50 %" in other and "12,500.50" not in other
    quarter = known["yara"].get(f"{PARTNER_PERF}?period=year&on={last_year_day().isoformat()}")
    assert quarter.status_code == 200 and "7,000.00 EUR" in quarter.text
    assert "875.00 EUR" in quarter.text  # 7000 × 12.5 %
    assert (
        'href="/t/shop/portal/partner/performance"'
        in known["xavier"].get("/t/shop/portal/partner/").text
    )


def test_tier_default_rates_apply_without_an_override(app: Any, shop: Any) -> None:
    from plugins.portal import performance

    org = partner_org(app, shop, "Plain Partner", "registered")
    client = partner_client(app, shop, org, "p@plain.example")
    staff = owner_client(app, shop)
    reg = _approved(staff, client, "India Won")
    _close(app, shop, reg, "won", "1000")
    with in_tenant(app, shop):
        (row,) = performance.figures(performance.period_of("quarter", date.today()))
    assert row.rate == Decimal("5") and row.commission == {"EUR": Decimal("50.00")}
    form = {"rate_registered": "6.25", "rate_silver": "8", "rate_gold": "10", f"org_{org}": ""}
    assert post_staff(staff, RATES, form).status_code == 303
    with in_tenant(app, shop):
        (row,) = performance.figures(performance.period_of("quarter", date.today()))
        assert performance.tier_rates()["registered"] == Decimal("6.25")
    assert row.commission == {"EUR": Decimal("62.50")}
    assert len(events(app, shop, "portal.commission_rates_changed")) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_gold", "-1"),
        ("rate_gold", "100.01"),
        ("rate_silver", "eight"),
        ("rate_silver", "8.125"),
        ("rate_registered", ""),
        ("org", "NaN"),
        ("org", "-5"),
    ],
)
def test_bad_rates_are_refused_and_nothing_is_written(
    app: Any, shop: Any, field: str, value: str
) -> None:
    from plugins.portal import performance
    from plugins.portal.partner_models import PartnerOrg

    org = partner_org(app, shop, "Rated Partner", "gold")
    name = f"org_{org}" if field == "org" else field
    form = {"rate_registered": "5", "rate_silver": "9", "rate_gold": "11", f"org_{org}": "7"}
    form[name] = value
    response = post_staff(owner_client(app, shop), RATES, form)
    assert response.status_code == 400
    assert f'id="{name}-error"' in response.text and "from 0 to 100" in response.text
    with in_tenant(app, shop) as session:
        assert performance.tier_rates() == performance.DEFAULT_RATES
        row = session.scalars(select(PartnerOrg).where(PartnerOrg.id == uuid.UUID(org))).one()
        assert row.commission_rate is None
    assert events(app, shop, "portal.commission_rates_changed") == []


def test_bad_period_answers_400_with_the_default(app: Any, shop: Any) -> None:
    staff = owner_client(app, shop)
    bad = staff.get(f"{PERF}?period=decade&on=yesterday")
    assert bad.status_code == 400
    assert 'id="period-error"' in bad.text and 'id="on-error"' in bad.text
    month = date.today().strftime("%Y-%m")
    assert month in bad.text
    ok = staff.get(f"{PERF}?period=quarter&on=2026-05-17")
    assert ok.status_code == 200 and "2026 Q2: 2026-04-01 to 2026-06-30" in ok.text


def test_periods() -> None:
    from plugins.portal.performance import period_of

    q4 = period_of("quarter", date(2026, 11, 23))
    assert (q4.start, q4.end, q4.label) == (date(2026, 10, 1), date(2027, 1, 1), "2026 Q4")
    dec = period_of("month", date(2026, 12, 31))
    assert (dec.start, dec.end, dec.last) == (date(2026, 12, 1), date(2027, 1, 1), dec.last)
    assert dec.last == date(2026, 12, 31) and dec.label == "2026-12"
    year = period_of("year", date(2026, 2, 2))
    assert (year.start, year.end) == (date(2026, 1, 1), date(2027, 1, 1))
    assert period_of("month", date(2026, 2, 10)).end - timedelta(days=1) == date(2026, 2, 28)


def test_access_and_sales_off(app: Any, shop: Any, alice: Any, known: dict[str, Any]) -> None:
    from conftest import login

    from crm_platform.identity import Tenant, User
    from crm_platform.provisioning import add_member, create_user

    from .helpers import portal_client, shows_sign_in

    assert portal_client(app, alice).get(PARTNER_PERF).status_code == 404  # a customer
    assert shows_sign_in(known["staff"].get(PARTNER_PERF))  # a staff session
    with app.app_context():
        from crm_platform.extensions import db

        user = create_user("mia@shop.example", "Mia Member", "member-pass-Zebra-42")
        db.session.commit()
        uid = user.id
    with in_tenant(app, shop) as session:
        add_member(session.get(Tenant, shop.id), session.get(User, uid), "member")
        session.commit()
    member = app.test_client()
    assert login(member, "mia@shop.example", "member-pass-Zebra-42").status_code == 302
    assert member.get(PERF).status_code == 403 and member.get(RATES).status_code == 403
    switch(app, shop, "sfa", False)
    page = known["staff"].get(PERF)
    assert page.status_code == 200 and "Sales is off" in page.text
    assert _cells(page.text, f"perf-{known['x']}")[2:5] == [["6"], ["4"], ["0"]]
    assert "1,250.05" not in known["xavier"].get(PARTNER_PERF).text
    switch(app, shop, "portal", False)
    assert known["xavier"].get(PARTNER_PERF).status_code == 404
