"""The API resources (segments, campaigns, suppression) and tenant isolation: tenant B's
marketing ids on tenant A's pages and API answer 404 and show nothing of B."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_api import assert_error, auth, make_key, snapshot
from helpers_marketing import add_contact, enable_marketing
from sqlalchemy import select

from crm_platform.testing import run_jobs
from plugins.marketing.campaigns import create_campaign, start_campaign
from plugins.marketing.models import (
    Campaign,
    EmailTemplate,
    Enrollment,
    Message,
    Segment,
    Sequence,
    Suppression,
)
from plugins.marketing.segments import create_segment
from plugins.marketing.sequences import enroll, save_sequence
from plugins.marketing.suppression import suppress

STAGE_IS = {
    "match": "all",
    "groups": [
        {
            "match": "all",
            "rules": [{"field": "contact.lifecycle_stage", "op": "is", "value": "lead"}],
        }
    ],
}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": False}


def test_segments_api(app, client, shop) -> None:
    key = auth(make_key(app, shop, "owner@shop.example"))
    add_contact(app, shop, first_name="Lee", email="lee@x.example", lifecycle_stage="lead")
    created = client.post(
        "/api/v1/segments", json={"name": "Leads", "definition": STAGE_IS}, headers=key
    )
    assert created.status_code == 201, created.json
    segment_id = created.json["id"]
    assert created.json["member_count"] == 1
    run_jobs(app)
    got = client.get(f"/api/v1/segments/{segment_id}", headers=key).json
    assert got["live_count"] == 1 and got["refreshed_at"]
    members = client.get(f"/api/v1/segments/{segment_id}/members", headers=key).json
    assert [m["name"] for m in members["data"]] == ["Lee"]
    clash = {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "rules": [
                    {"field": "contact.lifecycle_stage", "op": "is", "value": "lead"},
                    {"field": "contact.lifecycle_stage", "op": "is", "value": "customer"},
                ],
            }
        ],
    }
    error = assert_error(
        client.post("/api/v1/segments/count", json={"definition": clash}, headers=key),
        400,
        "validation_failed",
    )
    assert "can never match" in error["fields"]["groups.0"]
    assert client.post(
        "/api/v1/segments/count", json={"definition": STAGE_IS}, headers=key
    ).json == {"count": 1}
    error = assert_error(
        client.post("/api/v1/segments", json={"name": "X", "colour": 1}, headers=key), 400
    )
    assert error["fields"] == {"colour": "Unknown field."}
    static = client.post(
        "/api/v1/segments", json={"name": "Picked", "kind": "static"}, headers=key
    ).json
    lee = members["data"][0]["id"]
    added = client.post(
        f"/api/v1/segments/{static['id']}/members", json={"contact_ids": [lee]}, headers=key
    )
    assert added.json == {"added": 1, "member_count": 1}
    assert client.delete(f"/api/v1/segments/{segment_id}", headers=key).status_code == 204


def test_campaigns_and_suppression_api(app, client, shop, smtp) -> None:
    key = auth(make_key(app, shop, "owner@shop.example"))
    add_contact(app, shop, first_name="Lee", email="lee@x.example", lifecycle_stage="lead")
    segment = client.post(
        "/api/v1/segments", json={"name": "Leads", "definition": STAGE_IS}, headers=key
    ).json
    bad = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Hi",
            "segment_id": segment["id"],
            "subject": "{{ contact.nick }}",
            "body_html": "<p>x</p>",
        },
        headers=key,
    )
    error = assert_error(bad, 400, "validation_failed")
    assert "{{ contact.nick }}" in error["fields"]["subject"]
    created = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Hi",
            "segment_id": segment["id"],
            "subject": "Hi {{ contact.first_name }}",
            "body_html": "<p>x</p>",
            "cost": "10",
        },
        headers=key,
    )
    assert created.status_code == 201 and created.json["status"] == "draft"
    campaign_id = created.json["id"]
    future = client.post(
        f"/api/v1/campaigns/{campaign_id}/send", json={"at": "2001-01-01T00:00Z"}, headers=key
    )
    assert_error(future, 400)
    sent = client.post(f"/api/v1/campaigns/{campaign_id}/send", json={}, headers=key)
    assert sent.status_code == 202 and sent.json["status"] == "sending"
    run_jobs(app)
    stats = client.get(f"/api/v1/campaigns/{campaign_id}", headers=key).json["stats"]
    assert stats["sent"] == 1 and stats["delivered"] == 1 and stats["cost"] == "10.00"
    again = client.post(f"/api/v1/campaigns/{campaign_id}/send", json={}, headers=key)
    assert_error(again, 400)
    message_id = smtp.received[0].message_id
    bounce = client.post(
        "/api/v1/suppression/bounces", json={"message_id": message_id, "type": "hard"}, headers=key
    )
    assert bounce.json == {"recorded": 1}
    listed = client.get("/api/v1/suppression?email=lee@x.example", headers=key).json["data"]
    assert [(e["email"], e["reason"]) for e in listed] == [("lee@x.example", "bounced")]
    added = client.post(
        "/api/v1/suppression", json={"email": "Who@X.example", "scope": "events"}, headers=key
    )
    assert added.status_code == 201 and added.json["email"] == "who@x.example"
    assert (
        client.post(
            "/api/v1/suppression", json={"email": "who@x.example", "scope": "events"}, headers=key
        ).status_code
        == 200
    )
    assert_error(client.post("/api/v1/suppression", json={"email": "nope"}, headers=key), 400)
    assert_error(
        client.post(
            "/api/v1/suppression", json={"email": "a@x.example", "scope": "gossip"}, headers=key
        ),
        400,
    )
    assert client.delete(f"/api/v1/suppression/{added.json['id']}", headers=key).status_code == 204
    document = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/segments",
        "/api/v1/campaigns",
        "/api/v1/suppression",
        "/api/v1/campaigns/{campaign_id}/send",
        "/api/v1/suppression/bounces",
    ):
        assert path in document["paths"], path
    assert "definition" in document["components"]["schemas"]["Segments"]["properties"]


# --------------------------------------------------------------------------- isolation

SECRETS = (
    "Bravo Secret Segment",
    "Bravo Secret Campaign",
    "bravo.secret@x.example",
    "Bravo Secret Template",
    "Bravo Secret Drip",
)


@pytest.fixture
def world(app: Any, factory: Any) -> dict[str, Any]:
    a = factory.tenant("alpha", owner_email="owner@alpha.example")
    b = factory.tenant("bravo", owner_email="owner@bravo.example")
    for tenant in (a, b):
        enable_marketing(app, tenant)
    contact = add_contact(app, b, first_name="Bravo", email=SECRETS[2], lifecycle_stage="lead")
    with in_tenant(app, b) as session:
        segment = create_segment({"name": SECRETS[0], "definition": STAGE_IS})
        campaign = create_campaign(
            {
                "name": SECRETS[1],
                "segment_id": str(segment.id),
                "subject": "s",
                "body_html": "<p>b</p>",
            }
        )
        session.flush()
        start_campaign(campaign)
        session.add(EmailTemplate(name=SECRETS[3], subject="s", body_html="b"))
        sequence = save_sequence(
            {"name": SECRETS[4], "steps": [{"kind": "task", "delay_hours": 1, "subject": "t"}]}
        )
        enroll(sequence, [contact])
        suppress("someone@bravo.example")
        session.commit()
        ids = [
            str(i)
            for model in (
                Segment,
                Campaign,
                EmailTemplate,
                Sequence,
                Enrollment,
                Message,
                Suppression,
            )
            for i in session.scalars(select(model.id))
        ]
    ids.append(contact)
    return {"a": a, "b": b, "ids": ids, "key": make_key(app, a, "owner@alpha.example")}


def _rules(app: Any, prefix: str) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith(prefix)]


def _urls(app: Any, rule: Any, slug: str | None, ids: list[str]) -> list[str]:
    args = sorted(rule.arguments - {"tenant_slug"})
    out = []
    with app.test_request_context():
        for combo in itertools.product(*[ids + ["not-a-uuid"] for _ in args]):
            values = dict(zip(args, combo, strict=True))
            if slug:
                values["tenant_slug"] = slug
            out.append(app.url_for(rule.endpoint, **values))
    return out


def _no_secrets(response: Any, what: str) -> None:
    body = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in body, f"{what} leaked {secret!r}"


def test_b_marketing_ids_on_a_pages_and_api_are_not_found(app, world) -> None:
    before = snapshot(app, world["b"])
    client = app.test_client()
    login(client, "owner@alpha.example")
    app.config["WTF_CSRF_ENABLED"] = False
    checked = 0
    for rule in _rules(app, "/t/<tenant_slug>/marketing"):
        if not rule.arguments - {"tenant_slug"}:
            continue
        for url in _urls(app, rule, "alpha", world["ids"]):
            for method in sorted(rule.methods & {"GET", "POST"}):
                response = client.open(url, method=method, data={"name": "x"})
                what = f"{method} {url}"
                assert response.status_code in (400, 404), what
                _no_secrets(response, what)
                checked += 1
    for method, url in (
        ("POST", "/t/alpha/marketing/lists/add"),
        ("POST", "/t/alpha/marketing/sequences/enroll-contact"),
    ):
        for value in world["ids"]:
            data = {"segment_id": value, "sequence_id": value, "contact_id": value}
            assert client.open(url, method=method, data=data).status_code == 404
    api = app.test_client()
    for prefix in ("/api/v1/segments", "/api/v1/campaigns", "/api/v1/suppression"):
        for rule in _rules(app, prefix):
            if not rule.arguments:
                continue
            for url in _urls(app, rule, None, world["ids"]):
                for method in sorted(rule.methods & {"GET", "POST", "PATCH", "DELETE"}):
                    response = api.open(
                        url, method=method, json={"name": "x"}, headers=auth(world["key"])
                    )
                    assert response.status_code == 404, f"{method} {url}"
                    _no_secrets(response, url)
                    checked += 1
    for url in ("/api/v1/segments", "/api/v1/campaigns", "/api/v1/suppression"):
        _no_secrets(api.get(url, headers=auth(world["key"])), url)
    for url in (
        "/t/alpha/marketing/segments",
        "/t/alpha/marketing/campaigns",
        "/t/alpha/marketing/templates",
        "/t/alpha/marketing/sequences",
        "/t/alpha/marketing/suppression",
        "/t/alpha/marketing/",
    ):
        _no_secrets(client.get(url), url)
    assert checked > 100
    assert snapshot(app, world["b"]) == before


def test_deleting_a_segment_keeps_the_campaigns_that_used_it(app, client, shop) -> None:
    """The campaign keeps its content and recipients; only its link to the segment goes."""
    key = auth(make_key(app, shop, "owner@shop.example"))
    segment = client.post(
        "/api/v1/segments", json={"name": "Leads", "definition": STAGE_IS}, headers=key
    ).json
    with in_tenant(app, shop) as session:
        campaign = create_campaign(
            {"name": "Spring", "subject": "Hello", "segment_id": segment["id"]}
        )
        session.commit()
        campaign_id = campaign.id
    assert client.delete(f"/api/v1/segments/{segment['id']}", headers=key).status_code == 204
    with in_tenant(app, shop) as session:
        kept = session.scalars(select(Campaign).where(Campaign.id == campaign_id)).one()
        assert kept is not None and kept.segment_id is None and kept.name == "Spring"
        assert kept.tenant_id == shop.id
