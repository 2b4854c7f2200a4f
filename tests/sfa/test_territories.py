"""Teams and territories: territories by region and industry, the "territory" visibility rule
of deals and leads (404 outside it), the team hierarchy (a manager sees the sub-teams'
pipeline on the board and the forecast), lead assignment by territory, the settings page."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant
from helpers_sfa import deal, get_lead, lead, signed_in, stages, user_uuid
from helpers_web import flashes, post_form
from sqlalchemy import select

from crm_platform.identity import User
from crm_platform.records.service import create_record
from crm_platform.records.teams import Team, TeamMember
from plugins.sfa import assignment, territories
from plugins.sfa.planning_models import TeamParent, Territory
from plugins.sfa.settings import save_sales_settings

SETTINGS = "/t/acme/sales/settings/territories"


def _account(app: Any, acme: Any, name: str, region: str, industry: str | None = None) -> str:
    with in_tenant(app, acme) as session:
        data = {"name": name, "region": region, "industry": industry or ""}
        row = create_record("account", data)
        session.commit()
        return str(row.id)


def _territory(app: Any, acme: Any, **data: Any) -> str:
    with in_tenant(app, acme) as session:
        row = territories.save_territory(data)
        session.commit()
        return str(row.id)


def _rule(app: Any, acme: Any, **rules: str) -> None:
    with in_tenant(app, acme) as session:
        save_sales_settings({"record_visibility": rules})
        session.commit()


def test_a_territory_matches_regions_and_industries() -> None:
    rules = {"region": ["east", "north"], "industry": ["banking"]}
    assert territories.record_matches(rules, " East ", "Banking")
    assert not territories.record_matches(rules, "East", "Retail")  # both fields must match
    assert not territories.record_matches(rules, "South", "Banking")
    assert territories.record_matches({"region": ["east"], "industry": []}, "EAST", None)
    assert not territories.record_matches({"region": [], "industry": []}, "East", "x")


@pytest.fixture
def world(app: Any, acme: Any, factory: Any) -> dict[str, Any]:
    """Territory East (region East, banking or retail) worked by Ann; Bob works none. The
    owner's deals on an East bank, a West bank and an East telecom; leads alike."""
    ann = factory.member(acme, "ann@acme.example", "member").id
    factory.member(acme, "bob@acme.example", "member")
    _territory(
        app, acme, name="East", region="East", industry="banking, retail", member_ids=[str(ann)]
    )
    east = _account(app, acme, "East Bank", "East", "banking")
    west = _account(app, acme, "West Bank", "West", "banking")
    telco = _account(app, acme, "East Telco", "east", "telecom")
    owner = str(user_uuid(app, "owner@acme.example"))
    ids = {
        "east": deal(app, acme, name="East deal", account_id=east, owner_id=owner),
        "west": deal(app, acme, name="West deal", account_id=west, owner_id=owner),
        "telco": deal(app, acme, name="Telco deal", account_id=telco, owner_id=owner),
        "lead_east": lead(
            app, acme, name="Eve East", region="EAST", industry="retail", owner_id=owner
        ),
        "lead_west": lead(
            app, acme, name="Walt West", region="West", industry="retail", owner_id=owner
        ),
    }
    return ids


def test_territory_visibility_of_deals_and_leads(app: Any, acme: Any, world: dict) -> None:
    _rule(app, acme, member="territory")
    ann, bob = signed_in(app, "ann@acme.example"), signed_in(app, "bob@acme.example")
    assert ann.get(f"/t/acme/sales/deals/{world['east']}").status_code == 200
    assert ann.get(f"/t/acme/sales/deals/{world['west']}").status_code == 404
    assert ann.get(f"/t/acme/sales/deals/{world['telco']}").status_code == 404  # not banking
    assert bob.get(f"/t/acme/sales/deals/{world['east']}").status_code == 404
    assert ann.get(f"/t/acme/sales/leads/{world['lead_east']}").status_code == 200
    assert ann.get(f"/t/acme/sales/leads/{world['lead_west']}").status_code == 404
    assert bob.get(f"/t/acme/sales/leads/{world['lead_east']}").status_code == 404
    board = ann.get("/t/acme/sales/?owner=all").text
    assert 'data-name="East deal"' in board
    assert 'data-name="West deal"' not in board and 'data-name="Telco deal"' not in board
    leads = ann.get("/t/acme/sales/leads").text
    assert "Eve East" in leads and "Walt West" not in leads


def test_other_rules_and_the_default(app: Any, acme: Any, world: dict) -> None:
    ann = signed_in(app, "ann@acme.example")
    assert ann.get(f"/t/acme/sales/deals/{world['west']}").status_code == 200  # core: all
    _rule(app, acme, member="own")
    assert ann.get(f"/t/acme/sales/deals/{world['east']}").status_code == 404
    _rule(app, acme, member="all")
    assert ann.get(f"/t/acme/sales/deals/{world['west']}").status_code == 200
    owner = signed_in(app, "owner@acme.example")
    _rule(app, acme, member="own")
    assert owner.get(f"/t/acme/sales/deals/{world['west']}").status_code == 200  # owners: all


def test_lead_assignment_by_territory(app: Any, acme: Any, world: dict) -> None:
    with in_tenant(app, acme) as session:
        assignment.add_rule(
            {"name": "By territory", "match_field": "territory", "match_value": "east"}
        )
        session.commit()
    ann = user_uuid(app, "ann@acme.example")
    assert (
        get_lead(app, acme, lead(app, acme, name="New East", region="East", industry="Banking"))[
            "owner_id"
        ]
        == ann
    )
    assert (
        get_lead(app, acme, lead(app, acme, name="New West", region="West", industry="Banking"))[
            "owner_id"
        ]
        is None
    )  # the pool


@pytest.fixture
def org(app: Any, acme: Any, factory: Any) -> dict[str, Any]:
    """Team Sales (the manager) over team East (Ann); Zed in no team. A deal of each."""
    factory.member(acme, "manager@acme.example", "manager")
    ann = factory.member(acme, "ann@acme.example", "member").id
    zed = factory.member(acme, "zed@acme.example", "member").id
    with in_tenant(app, acme) as session:
        sales, east = Team(name="Sales"), Team(name="East")
        session.add_all([sales, east])
        session.flush()
        manager = session.scalars(select(User).where(User.email == "manager@acme.example")).one()
        session.add_all(
            [
                TeamMember(team_id=sales.id, user_id=manager.id),
                TeamMember(team_id=east.id, user_id=ann),
            ]
        )
        session.commit()
        ids = {"sales": str(sales.id), "east": str(east.id)}
    s = stages(app, acme)
    deal(
        app,
        acme,
        name="Ann's deal",
        owner_id=str(ann),
        amount="1000",
        stage_id=s["Proposal"],
        expected_close="2031-02-01",
    )
    deal(
        app,
        acme,
        name="Zed's deal",
        owner_id=str(zed),
        amount="2000",
        stage_id=s["Proposal"],
        expected_close="2031-02-01",
    )
    return ids


def test_managers_see_their_team_and_sub_teams(app: Any, acme: Any, owner: Any, org: dict) -> None:
    done = post_form(
        owner,
        "/t/acme/sales/settings/teams",
        {f"parent_{org['east']}": org["sales"]},
        page=SETTINGS,
    )
    assert done.status_code == 303
    with in_tenant(app, acme) as session:
        row = session.scalars(select(TeamParent)).one()
        assert str(row.parent_id) == org["sales"] and str(row.team_id) == org["east"]
    manager = signed_in(app, "manager@acme.example")
    board = manager.get("/t/acme/sales/")
    assert f'value="team:{org["sales"]}" selected' in board.text
    assert 'data-name="Ann&#39;s deal"' in board.text  # the sub-team's
    assert 'data-name="Zed&#39;s deal"' not in board.text
    everyone = manager.get("/t/acme/sales/?owner=all")
    assert 'data-name="Zed&#39;s deal"' in everyone.text
    forecast = manager.get("/t/acme/sales/forecast?year=2031&quarter=1")
    table = forecast.text.split('id="forecast-owners"')[1].split("</table>")[0]
    assert "$1,000.00" in table  # Ann's, in the sub-team
    assert "$2,000.00" not in table
    # a team cannot sit under its own sub-team
    cycle = post_form(
        owner,
        "/t/acme/sales/settings/teams",
        {f"parent_{org['sales']}": org["east"]},
        page=SETTINGS,
    )
    assert cycle.status_code == 303
    page = owner.get(SETTINGS)
    assert any("sub-teams" in m for m in flashes(page.text))
    with in_tenant(app, acme) as session:
        assert len(session.scalars(select(TeamParent)).all()) == 1


def test_the_territories_page(app: Any, acme: Any, owner: Any, rep: Any) -> None:
    assert rep.get(SETTINGS).status_code == 403
    page = owner.get(SETTINGS)
    assert page.status_code == 200 and "Teams and territories" in page.text
    rep_id = str(user_uuid(app, "rep@acme.example"))
    bad = post_form(owner, SETTINGS, {"name": "Nowhere"})
    assert bad.status_code == 400 and "Enter regions, industries or both." in bad.text
    made = post_form(
        owner, SETTINGS, {"name": "North", "region": "North, Northeast", "member_ids": [rep_id]}
    )
    assert made.status_code == 303
    with in_tenant(app, acme) as session:
        north = session.scalars(select(Territory)).one()
        tid = str(north.id)
    listed = owner.get(SETTINGS).text
    assert "North" in listed and "northeast" in listed
    twin = post_form(owner, SETTINGS, {"name": "north", "region": "x"})
    assert twin.status_code == 400 and "already a territory" in twin.text
    edit = f"{SETTINGS}/{tid}"
    changed = post_form(owner, edit, {"name": "North", "industry": "Retail"})
    assert changed.status_code == 303
    with in_tenant(app, acme):
        rules = territories.rules_of()[north.id]
        assert rules == {"region": [], "industry": ["retail"]}
        assert territories.members_of().get(north.id, []) == []
    saved = post_form(
        owner,
        "/t/acme/sales/settings/visibility",
        {"rule_member": "territory", "rule_readonly": "", "reminder_days": "2"},
        page=SETTINGS,
    )
    assert saved.status_code == 303
    with in_tenant(app, acme):
        from plugins.sfa.settings import sales_settings

        assert sales_settings().record_visibility == {"member": "territory"}
        assert sales_settings().reminder_days == 2
    gone = post_form(owner, f"{edit}/delete", page=SETTINGS)
    assert gone.status_code == 303
    assert owner.get(edit).status_code == 404
