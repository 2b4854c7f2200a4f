"""``/api/v1/tickets``, ``/calls`` and ``/articles``: the core's API conventions (key,
error shape, cursor pages, OpenAPI), tenant isolation, 404 while Service is off."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import last_mail
from sqlalchemy import select

from crm_platform.testing import make_api_key
from plugins.service.models import Ticket

from .helpers import open_ticket


@pytest.fixture
def keys(app: Any, acme: Any, factory: Any) -> dict[str, Any]:
    other = factory.tenant("other", owner_email="owner@other.example")
    return {
        "acme": {"Authorization": f"Bearer {make_api_key(app, acme, 'owner@acme.example')}"},
        "other": {"Authorization": f"Bearer {make_api_key(app, other, 'owner@other.example')}"},
        "read": {
            "Authorization": "Bearer "
            + make_api_key(app, acme, "owner@acme.example", scope="read", name="reader")
        },
    }


def test_open_list_get_update_and_reply(app: Any, client: Any, keys: dict, events: Any) -> None:
    body = {
        "subject": "API ticket",
        "description": "From the portal",
        "requester_email": "carol@customer.example",
        "priority": "high",
    }
    created = client.post("/api/v1/tickets", json=body, headers=keys["acme"])
    assert created.status_code == 201, created.json
    ticket = created.json
    assert ticket["number"] == 1 and ticket["channel"] == "api"
    assert ticket["sla"]["status"] == "on_track" and ticket["sla"]["first_response_due_at"]
    assert client.get(created.headers["Location"], headers=keys["acme"]).json["id"] == ticket["id"]
    listed = client.get("/api/v1/tickets?status=new&limit=1", headers=keys["acme"]).json
    assert [t["subject"] for t in listed["data"]] == ["API ticket"]
    url = f"/api/v1/tickets/{ticket['id']}"
    changed = client.patch(
        url, json={"priority": "urgent", "category": "Portal"}, headers=keys["acme"]
    )
    assert changed.status_code == 200 and changed.json["priority"] == "urgent"
    reply = client.post(
        url + "/messages", json={"body": "On it", "status": "pending"}, headers=keys["acme"]
    )
    assert reply.status_code == 201 and reply.json["kind"] == "reply"
    assert client.get(url, headers=keys["acme"]).json["sla"]["status"] == "paused"
    thread = client.get(url + "/messages", headers=keys["acme"]).json["data"]
    assert [m["kind"] for m in thread] == ["customer", "reply"]
    assert "On it" in last_mail(app, "carol@customer.example").body
    assert [name for name, _, _ in events.seen if name.startswith("ticket.")] == ["ticket.created"]


def test_errors_are_in_the_api_shape(client: Any, keys: dict) -> None:
    bad = client.post(
        "/api/v1/tickets",
        json={"subject": "", "priority": "x", "colour": "red"},
        headers=keys["acme"],
    )
    assert bad.status_code == 400 and bad.json["error"]["fields"] == {"colour": "Unknown field."}
    bad = client.post(
        "/api/v1/tickets", json={"subject": "", "priority": "x"}, headers=keys["acme"]
    )
    assert set(bad.json["error"]["fields"]) == {"subject", "priority"}
    assert client.get("/api/v1/tickets?status=weird", headers=keys["acme"]).status_code == 400
    assert (
        client.post("/api/v1/tickets", json={"subject": "x"}, headers=keys["read"]).status_code
        == 403
    )
    assert client.get("/api/v1/tickets").status_code == 401


def test_other_tenants_and_module_off(app: Any, client: Any, acme: Any, keys: dict) -> None:
    ticket_id = open_ticket(app, acme)
    assert client.get("/api/v1/tickets", headers=keys["other"]).status_code == 404  # off
    from crm_platform.sdk import Tenant, enable_module

    with app.app_context():
        from crm_platform.extensions import db

        other = db.session.scalars(select(Tenant).where(Tenant.slug == "other")).one()
    with in_tenant(app, other) as session:
        enable_module(session.get(Tenant, other.id), "service")
        session.commit()
    assert client.get("/api/v1/tickets", headers=keys["other"]).json["data"] == []
    assert client.get(f"/api/v1/tickets/{ticket_id}", headers=keys["other"]).status_code == 404
    patched = client.patch(
        f"/api/v1/tickets/{ticket_id}", json={"priority": "low"}, headers=keys["other"]
    )
    assert patched.status_code == 404
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Ticket)).one().priority == "normal"


def test_calls_and_articles(client: Any, keys: dict) -> None:
    call = client.post(
        "/api/v1/calls",
        json={"number": "+49 30 1234567", "duration": 42, "outcome": "voicemail"},
        headers=keys["acme"],
    )
    assert call.status_code == 201 and call.json["number"] == "+49301234567"
    found = client.get("/api/v1/calls?number=0049 30 1234567", headers=keys["acme"]).json
    assert [c["id"] for c in found["data"]] == [call.json["id"]]
    bad = client.post("/api/v1/calls", json={"number": "none"}, headers=keys["acme"])
    assert bad.status_code == 400 and "number" in bad.json["error"]["fields"]
    article = client.post(
        "/api/v1/articles",
        json={"title": "Billing FAQ", "body": "Invoices go out monthly."},
        headers=keys["acme"],
    )
    assert article.status_code == 201 and article.json["version"] == 1
    url = f"/api/v1/articles/{article.json['id']}"
    changed = client.patch(url, json={"body": "Invoices go out weekly."}, headers=keys["acme"])
    assert changed.json["version"] == 2
    hits = client.get("/api/v1/articles?q=invoices", headers=keys["acme"]).json["data"]
    assert [a["title"] for a in hits] == ["Billing FAQ"]


def test_resources_are_in_the_openapi_document(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}/messages",
        "/api/v1/calls",
        "/api/v1/articles/{article_id}",
    ):
        assert path in document["paths"], path
    for schema in ("Tickets", "Calls", "Articles"):
        assert schema in document["components"]["schemas"]
    from openapi_spec_validator import validate

    validate(document)
