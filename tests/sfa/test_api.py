"""``/api/v1/leads``, ``/api/v1/deals`` and ``/api/v1/pipelines``: the same services as the
pages, the API's error shape (400 naming fields, 409 stale version or already converted),
the OpenAPI document, and 404 while Sales is off."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant
from helpers_api import assert_error, auth, make_key
from helpers_sfa import stages

from crm_platform.identity import Tenant
from crm_platform.modules import disable_module


@pytest.fixture
def key(app: Any, acme: Any) -> dict[str, str]:
    return auth(make_key(app, acme, "owner@acme.example"))


def test_leads_capture_list_get_patch(client: Any, key: dict, app: Any, acme: Any) -> None:
    created = client.post(
        "/api/v1/leads",
        json={
            "name": "Api Andy",
            "company": "Api Inc",
            "email": "ANDY@api.example",
            "source": "event",
        },
        headers=key,
    )
    assert created.status_code == 201, created.json
    lead = created.json
    assert (
        lead["object"],
        lead["email"],
        lead["source"],
        lead["captured_via"],
        lead["owner_id"],
    ) == ("lead", "andy@api.example", "Event", "api", None)  # no rule: the pool
    assert created.headers["Location"] == f"/api/v1/leads/{lead['id']}"
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=key).json["name"] == "Api Andy"
    listed = client.get("/api/v1/leads?pool=true&q=andy", headers=key).json
    assert [item["id"] for item in listed["data"]] == [lead["id"]]
    patched = client.patch(f"/api/v1/leads/{lead['id']}", json={"status": "working"}, headers=key)
    assert patched.status_code == 200 and patched.json["status"] == "working"
    bad = client.post("/api/v1/leads", json={"name": "", "phone": "1", "shoe": 9}, headers=key)
    error = assert_error(bad, 400, "validation_failed")
    assert set(error["fields"]) == {"shoe"}
    bad = client.post("/api/v1/leads", json={"name": "", "phone": "1"}, headers=key)
    assert set(assert_error(bad, 400, "validation_failed")["fields"]) == {"name", "phone"}
    query = client.get("/api/v1/leads?status=maybe", headers=key)
    assert set(assert_error(query, 400)["fields"]) == {"status"}


def test_convert_by_api_once(client: Any, key: dict, app: Any, acme: Any) -> None:
    lead = client.post(
        "/api/v1/leads", json={"name": "Conv Carl", "company": "Carl Co"}, headers=key
    ).json
    url = f"/api/v1/leads/{lead['id']}/convert"
    done = client.post(url, json={"deal_amount": "900", "create_deal": True}, headers=key)
    assert done.status_code == 200, done.json
    assert done.json["deal"]["amount"] == "900.00" and done.json["lead"]["status"] == "converted"
    again = client.post(url, json={}, headers=key)
    error = assert_error(again, 409, "already_converted")
    assert "already converted" in error["message"]


def test_deals_create_move_patch_conflicts(client: Any, key: dict, app: Any, acme: Any) -> None:
    s = stages(app, acme)
    created = client.post(
        "/api/v1/deals", json={"name": "Api deal", "amount": "1500.5"}, headers=key
    )
    assert created.status_code == 201, created.json
    deal = created.json
    assert (deal["stage"], deal["amount"], deal["status"], deal["version"]) == (
        "Qualification",
        "1500.50",
        "open",
        1,
    )
    moved = client.post(
        f"/api/v1/deals/{deal['id']}/move",
        json={"stage_id": s["Proposal"], "version": 1},
        headers=key,
    )
    assert moved.status_code == 200 and moved.json["stage"] == "Proposal"
    stale = client.post(
        f"/api/v1/deals/{deal['id']}/move",
        json={"stage_id": s["Negotiation"], "version": 1},
        headers=key,
    )
    error = assert_error(stale, 409, "conflict")
    assert "Someone else changed" in error["message"] and error["fields"] == {"version": "Now 2."}
    lost = client.post(
        f"/api/v1/deals/{deal['id']}/move", json={"stage_id": s.lost, "version": 2}, headers=key
    )
    assert assert_error(lost, 400)["fields"] == {"close_reason": "Say why the deal was lost."}
    negative = client.patch(
        f"/api/v1/deals/{deal['id']}", json={"amount": "-3", "version": 2}, headers=key
    )
    assert assert_error(negative, 400)["fields"] == {"amount": "The amount cannot be negative."}
    patched = client.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"amount": "2000", "version": 2, "competitors": ["Globex"]},
        headers=key,
    )
    assert patched.status_code == 200 and patched.json["version"] == 3
    assert patched.json["competitors"] == ["Globex"]
    listed = client.get(f"/api/v1/deals?stage_id={s['Proposal']}&owner=me", headers=key).json
    assert [d["name"] for d in listed["data"]] == ["Api deal"]
    unknown = client.post("/api/v1/deals", json={"name": "X", "stage_id": "nope"}, headers=key)
    assert assert_error(unknown, 400)["fields"] == {"stage_id": "There is no such stage."}


def test_pipelines_are_read_only(client: Any, key: dict, app: Any, acme: Any) -> None:
    listed = client.get("/api/v1/pipelines", headers=key).json["data"]
    (pipeline,) = listed
    assert pipeline["is_default"] and [s["outcome"] for s in pipeline["stages"]][-2:] == [
        "won",
        "lost",
    ]
    one = client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=key)
    assert one.json["name"] == pipeline["name"]
    assert client.post("/api/v1/pipelines", json={"name": "x"}, headers=key).status_code == 405


def test_the_resources_are_in_the_openapi_document(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert set(paths["/api/v1/leads"]) == {"get", "post"}
    assert set(paths["/api/v1/deals/{deal_id}"]) == {"get", "patch"}
    assert "post" in paths["/api/v1/deals/{deal_id}/move"]
    assert "post" in paths["/api/v1/leads/{lead_id}/convert"]
    assert set(paths["/api/v1/pipelines"]) == {"get"}
    schemas = document["components"]["schemas"]
    assert "amount" in schemas["Deals"]["properties"] and "score" in schemas["Leads"]["properties"]


def test_module_off_answers_404(client: Any, key: dict, app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        disable_module(session.get(Tenant, acme.id), "sfa")
        session.commit()
    for url in ("/api/v1/leads", "/api/v1/deals", "/api/v1/pipelines"):
        assert_error(client.get(url, headers=key), 404, "not_found")
