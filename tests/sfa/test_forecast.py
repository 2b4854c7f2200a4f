"""The forecast: weighted pipeline by month and quarter, commit and best case, won deals,
quotas per rep and quarter with attainment, owners and teams, and what each member sees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_sfa import deal, signed_in, stages, user_uuid
from helpers_sql import counted
from helpers_web import post_form
from sqlalchemy import select

from crm_platform.identity import Membership, Tenant
from crm_platform.records.teams import Team, TeamMember
from crm_platform.records.visibility import save_visibility_settings
from plugins.sfa.forecast import build
from plugins.sfa.models import Deal, Quota

YEAR = 2031


@pytest.fixture
def world(app: Any, acme: Any, factory: Any) -> dict[str, Any]:
    rep = factory.member(acme, "rep@acme.example", "member").id
    factory.member(acme, "manager@acme.example", "manager")
    owner = user_uuid(app, "owner@acme.example")
    with in_tenant(app, acme) as session:
        team = Team(name="East")
        session.add(team)
        session.flush()
        for email in ("rep@acme.example", "manager@acme.example"):
            session.add(TeamMember(team_id=team.id, user_id=user_uuid(app, email)))
        session.commit()
        team_id = str(team.id)
    s = stages(app, acme)

    def add(owner_id: Any, amount: str, stage: str, close: str | None, **kw: Any) -> str:
        return deal(
            app,
            acme,
            owner_id=str(owner_id),
            amount=amount,
            stage_id=s[stage],
            expected_close=close,
            **kw,
        )

    add(rep, "10000", "Proposal", f"{YEAR}-02-10", forecast_category="commit", name="A")
    add(rep, "5000", "Negotiation", f"{YEAR}-05-01", forecast_category="best_case", name="B")
    add(owner, "2000", "Qualification", f"{YEAR}-02-20", name="C")
    add(owner, "1000", "Negotiation", f"{YEAR}-02-20", forecast_category="omitted", name="D")
    add(rep, "9999", "Proposal", f"{YEAR}-02-20", currency="EUR", name="E")
    add(rep, "700", "Proposal", None, name="F")
    won = add(rep, "8000", "Won", f"{YEAR}-03-01", name="G")
    add(owner, "3000", "Proposal", f"{YEAR + 1}-01-10", name="Next year")
    with in_tenant(app, acme) as session:
        row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(won))).unique().one()
        row.closed_at = datetime(YEAR, 3, 15, 12, tzinfo=UTC)
        session.add(
            Quota(user_id=rep, year=YEAR, quarter=1, amount=Decimal("16000"), currency="USD")
        )
        session.commit()
    return {"rep": rep, "owner": owner, "team": team_id}


def _membership(session: Any, user_id: Any) -> Membership:
    return session.scalars(select(Membership).where(Membership.user_id == user_id)).one()


def test_weighted_pipeline_by_month_and_quarter(app: Any, acme: Any, world: dict) -> None:
    with in_tenant(app, acme) as session:
        me = _membership(session, world["owner"])
        months = build(year=YEAR, quarter=0, by="month", currency="USD", membership=me)
        quarters = build(year=YEAR, quarter=1, by="quarter", currency="USD", membership=me)
    feb = 1
    assert months.weighted["commit"][feb] == Decimal("4000.00")  # 10000 at 40 %
    assert months.weighted["pipeline"][feb] == Decimal("200.00")  # 2000 at 10 %, D omitted
    assert months.weighted["best_case"][4] == Decimal("3500.00")  # May: 5000 at 70 %
    assert months.won[2] == Decimal("8000")
    assert sum(months.weighted["pipeline"]) == Decimal("200.00")  # next year's deal left out
    assert quarters.labels == ["Q1", "Q2", "Q3", "Q4"]
    assert quarters.weighted["commit"] == [Decimal("4000.00"), 0, 0, 0]
    assert quarters.quota[0] == Decimal("16000")
    assert (quarters.undated, quarters.other_currencies) == (1, 1)
    rep = next(r for r in quarters.owners if r.label == "Rep")
    assert (rep.weighted, rep.commit, rep.won, rep.quota) == (
        Decimal("4000.00"),
        Decimal("10000"),
        Decimal("8000"),
        Decimal("16000"),
    )
    assert rep.attainment == 50.0
    (east,) = quarters.teams
    assert (east.label, east.won, east.quota) == ("East", Decimal("8000"), Decimal("16000"))
    assert quarters.total.weighted == Decimal("4200.00")


def test_the_forecast_page_draws_charts_and_tables(app: Any, owner: Any, world: dict) -> None:
    page = owner.get(f"/t/acme/sales/forecast?year={YEAR}&quarter=1&by=month")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 3  # weighted pipeline, won and quota, attainment
    assert "Weighted pipeline by expected close" in page.text
    assert "$16,000.00" in page.text and "50%" in page.text
    assert "1 open deals have no expected close date" in page.text
    assert "East" in page.text
    euro = owner.get(f"/t/acme/sales/forecast?year={YEAR}&quarter=0&currency=eur")
    assert euro.status_code == 200 and "€9,999.00" in euro.text
    assert owner.get("/t/acme/sales/forecast?currency=money").status_code == 400
    assert owner.get("/t/acme/sales/forecast?year=nineteen").status_code == 400


def test_a_manager_starts_with_the_team_and_a_rep_with_own_deals(
    app: Any, acme: Any, world: dict
) -> None:
    with in_tenant(app, acme) as session:
        tenant = session.get(Tenant, acme.id)
        save_visibility_settings(tenant, {"member": "own"})
        session.commit()
    manager = signed_in(app, "manager@acme.example")
    page = manager.get(f"/t/acme/sales/forecast?year={YEAR}&quarter=1")
    assert f'value="team:{world["team"]}" selected' in page.text
    assert ">Rep<" in page.text and ">Owner of acme<" not in page.text
    everyone = manager.get(f"/t/acme/sales/forecast?year={YEAR}&quarter=1&owner=all")
    assert ">Owner of acme<" in everyone.text
    rep = signed_in(app, "rep@acme.example")
    mine = rep.get(f"/t/acme/sales/forecast?year={YEAR}&quarter=1&owner=all")
    assert ">Rep<" in mine.text and ">Owner of acme<" not in mine.text  # "own" visibility
    assert rep.get("/t/acme/sales/quotas").status_code == 403  # members do not edit quotas


def test_managers_edit_quotas(app: Any, acme: Any, world: dict) -> None:
    manager = signed_in(app, "manager@acme.example")
    url = f"/t/acme/sales/quotas?year={YEAR}"
    page = manager.get(url)
    assert page.status_code == 200 and 'value="16000.00"' in page.text
    rep = world["rep"]
    bad = post_form(manager, url, {f"q_{rep}_1": "-5", f"q_{rep}_2": "abc"})
    assert bad.status_code == 400 and "The amount cannot be negative." in bad.text
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Quota.amount)).all() == [Decimal("16000.00")]
    saved = post_form(manager, url, {f"q_{rep}_1": "", f"q_{rep}_2": "20000"})
    assert saved.status_code == 303
    with in_tenant(app, acme) as session:
        rows = [(q.quarter, q.amount) for q in session.scalars(select(Quota))]
    assert rows == [(2, Decimal("20000.00"))]


def test_the_forecast_runs_the_same_queries_with_more_deals_and_teams(
    app: Any, owner: Any, acme: Any, world: dict
) -> None:

    from plugins.sfa.planning_models import TeamParent

    url = f"/t/acme/sales/forecast?year={YEAR}&quarter=1"
    owner.get(url)  # warm

    def queries() -> list[str]:
        with counted(app) as statements:
            assert owner.get(url).status_code == 200
        return statements

    before = queries()
    s = stages(app, acme)
    rep = str(user_uuid(app, "rep@acme.example"))
    for i in range(6):
        stage = (s["Proposal"], s["Negotiation"], s.won)[i % 3]
        deal(
            app,
            acme,
            owner_id=rep,
            amount="10",
            stage_id=stage,
            expected_close=f"{YEAR}-0{i + 1}-03",
        )
    with in_tenant(app, acme) as session:  # two more teams, one under "East"
        east = session.scalars(select(Team).where(Team.name == "East")).one()
        for name in ("West", "East North"):
            session.add(Team(name=name))
        session.flush()
        north = session.scalars(select(Team).where(Team.name == "East North")).one()
        session.add(TeamParent(team_id=north.id, parent_id=east.id))
        session.commit()
    after = queries()
    assert len(after) == len(before), after
