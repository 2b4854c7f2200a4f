"""Tenant B's sales ids on tenant A's pages and API: 404 everywhere, B's rows unchanged.

Every URL rule of the module (pages and API) is discovered from the URL map and tried with
the id of every sales row B has (pipelines, stages, deals, history, leads, activities, rules,
quotas), as a signed-in owner of A and with A's API key.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_api import auth, make_key, snapshot
from helpers_sfa import deal, lead, sales_tenant, stages
from sqlalchemy import select

from crm_platform.identity import Membership
from plugins.sfa import assignment, models, scoring
from plugins.sfa.leads import log_activity
from plugins.sfa.models import Lead, Quota

SECRET = "Bravo secret deal"
MODELS = (
    models.Pipeline,
    models.Stage,
    models.Deal,
    models.DealStageChange,
    models.Lead,
    models.LeadActivity,
    models.ScoringRule,
    models.AssignmentRule,
    models.Quota,
)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # Reach the views' own checks, not the CSRF guard or the rate limits in front of them.
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


@pytest.fixture
def world(app: Any) -> dict[str, Any]:
    a = sales_tenant(app, "alpha", "owner@alpha.example")
    b = sales_tenant(app, "bravo", "owner@bravo.example", industry="telecom")
    s = stages(app, b)
    deal(app, b, name=SECRET, amount="999", stage_id=s["Proposal"])
    lead_id = lead(app, b, name="Bravo secret lead")
    with in_tenant(app, b) as session:
        row = session.scalars(select(Lead)).unique().one()
        log_activity(row, {"kind": "call", "subject": "Bravo secret call"})
        scoring.add_rule({"kind": "activity", "activity_kind": "call", "points": 5})
        owner = session.scalars(select(Membership.user_id)).first()
        assignment.add_rule({"name": "All", "match_field": "any", "member_ids": [str(owner)]})
        session.add(Quota(user_id=owner, year=2031, quarter=1, amount=1, currency="USD"))
        session.commit()
        ids = [str(i) for m in MODELS for i in session.scalars(select(m.id))]
    assert lead_id in ids
    return {"a": a, "b": b, "ids": ids}


def _rules(app: Any, prefix: str) -> list[Any]:
    return [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith(prefix)
        and r.arguments - {"tenant_slug"}
        and "static" not in r.endpoint
    ]


def _urls(app: Any, rule: Any, ids: list[str], **fixed: str) -> list[str]:
    args = sorted(rule.arguments - {"tenant_slug"})
    with app.test_request_context():
        return [
            app.url_for(rule.endpoint, **fixed, **dict(zip(args, combo, strict=True)))
            for combo in itertools.product(*[ids for _ in args])
        ]


def test_pages_of_a_with_b_ids_answer_404(app: Any, world: dict[str, Any]) -> None:
    before = snapshot(app, world["b"])
    client = app.test_client()
    assert login(client, "owner@alpha.example").status_code == 302
    rules = _rules(app, "sfa.")
    assert {"sfa.deal", "sfa.deal_move", "sfa.lead_convert", "sfa.stage_update"} <= {
        r.endpoint for r in rules
    }
    for rule in rules:
        for url in _urls(app, rule, world["ids"], tenant_slug="alpha"):
            for method in sorted(m for m in rule.methods if m in ("GET", "POST")):
                response = client.open(url, method=method, data={"stage_id": world["ids"][1]})
                assert response.status_code == 404, f"{method} {url}"
                assert SECRET not in response.get_data(as_text=True)
    assert snapshot(app, world["b"]) == before


def test_api_of_a_with_b_ids_answers_404(app: Any, world: dict[str, Any]) -> None:
    before = snapshot(app, world["b"])
    client = app.test_client()
    headers = auth(make_key(app, world["a"], "owner@alpha.example"))
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.split(".")[0] in ("api_leads", "api_deals", "api_pipelines") and r.arguments
    ]
    assert len(rules) >= 6
    for rule in rules:
        for url in _urls(app, rule, world["ids"]):
            for method in sorted(m for m in rule.methods if m in ("GET", "POST", "PATCH")):
                response = client.open(
                    url,
                    method=method,
                    headers=headers,
                    json={"stage_id": world["ids"][1], "name": "Hijack"},
                )
                assert response.status_code == 404, f"{method} {url}"
                assert SECRET not in response.get_data(as_text=True)
    listed = client.get("/api/v1/deals", headers=headers).json
    assert listed["data"] == []
    assert snapshot(app, world["b"]) == before


def test_a_search_and_lists_never_show_b(app: Any, world: dict[str, Any]) -> None:
    client = app.test_client()
    login(client, "owner@alpha.example")
    for url in (
        "/t/alpha/sales/",
        "/t/alpha/sales/deals?status=all",
        "/t/alpha/sales/leads?status=all",
        "/t/alpha/search?q=Bravo",
        "/t/alpha/sales/forecast?year=2031&quarter=0",
    ):
        body = client.get(url).get_data(as_text=True)
        assert "Bravo secret" not in body, url
    assert client.get("/t/bravo/sales/").status_code == 404  # not a member of B
