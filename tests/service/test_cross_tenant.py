"""Tenant B's service ids on tenant A's pages and API: 404, never B's data, nothing changed.

The generic walker (tests/test_cross_tenant_routes.py) tries every route with B's customer
ids; this one tries every Service route with the ids of B's tickets, attachments, calls,
articles, queues, policies, calendars, holidays, canned responses, rules, scripts and
categories.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import in_tenant, login
from sqlalchemy import select

from crm_platform.sdk import Contact, Tenant, enable_module
from crm_platform.tenancy import provider_scope, tenant_tables
from crm_platform.testing import make_api_key
from plugins.service import admin, calls, kb, tickets
from plugins.service.attachments import Upload
from plugins.service.models import (
    Attachment,
    Calendar,
    CallScript,
    CannedResponse,
    EscalationRule,
    Holiday,
    KbCategory,
    Queue,
    SlaPolicy,
)

SECRET = "Bravo secret ticket"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


@pytest.fixture
def world(app: Any, factory: Any) -> dict[str, Any]:
    a = factory.tenant("alpha", owner_email="owner@alpha.example")
    b = factory.tenant("bravo", owner_email="owner@bravo.example")
    for tenant in (a, b):
        with in_tenant(app, tenant) as session:
            enable_module(session.get(Tenant, tenant.id), "service")
            session.commit()
    with in_tenant(app, b) as session:
        contact = Contact(first_name="Secret", email="secret@bravo.example", phone="+861012345678")
        session.add(contact)
        session.flush()
        ticket, _ = tickets.create_ticket(
            {"subject": SECRET, "description": SECRET, "contact_id": str(contact.id)},
            channel="agent",
            uploads=[Upload("secret.pdf", "application/pdf", SECRET.encode())],
        )
        call = calls.log_call(
            {"number": "+861012345678", "contact_id": str(contact.id), "notes": SECRET}
        )
        article = kb.create_article(
            {"title": SECRET, "body": SECRET, "visibility": "public", "status": "published"}
        )
        calendar = session.scalars(select(Calendar)).one()
        admin.add_holiday(calendar, {"day": "2030-01-01", "name": SECRET})
        admin.save_rule({"name": SECRET, "trigger": "breached", "action": "raise_priority"})
        session.commit()
        ids = [str(ticket.id), str(call.id), str(article.id)]
        for model in (
            Attachment,
            Calendar,
            CallScript,
            CannedResponse,
            EscalationRule,
            Holiday,
            KbCategory,
            Queue,
            SlaPolicy,
        ):
            ids += [str(i) for i in session.scalars(select(model.id))]
    return {"a": a, "b": b, "ids": ids}


def _snapshot(app: Any, tenant: Any) -> dict[str, list[tuple]]:
    with app.app_context(), provider_scope("test snapshot", "tests") as session:
        out = {}
        for table in sorted(tenant_tables(), key=lambda t: t.name):
            if not table.name.startswith("service_"):
                continue
            stmt = select(table).where(table.c.tenant_id == tenant.id)
            out[table.name] = [tuple(r) for r in session.execute(stmt.order_by(*table.primary_key))]
        return out


def _service_rules(app: Any) -> list[Any]:
    return [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("service.") and r.arguments - {"tenant_slug", "filename"}
    ]


def test_b_service_ids_on_a_pages_answer_404(app: Any, world: dict) -> None:
    before = _snapshot(app, world["b"])
    client = app.test_client()
    login(client, "owner@alpha.example")
    tried = 0
    for rule in _service_rules(app):
        others = sorted(rule.arguments - {"tenant_slug"})
        for combo in itertools.product(world["ids"], repeat=len(others)):
            with app.test_request_context():
                url = app.url_for(
                    rule.endpoint, tenant_slug="alpha", **dict(zip(others, combo, strict=True))
                )
            for method in sorted(m for m in rule.methods if m in {"GET", "POST"}):
                response = client.open(url, method=method, data={"status": "solved"})
                tried += 1
                assert response.status_code in (400, 404), f"{method} {url}"
                assert SECRET not in response.get_data(as_text=True), f"{method} {url}"
    assert tried > 50
    assert _snapshot(app, world["b"]) == before


def test_b_service_ids_through_a_key_answer_404(app: Any, world: dict) -> None:
    before = _snapshot(app, world["b"])
    headers = {"Authorization": f"Bearer {make_api_key(app, world['a'], 'owner@alpha.example')}"}
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("api_tickets.", "api_calls.", "api_articles.")):
            continue
        others = sorted(rule.arguments)
        if not others:
            continue
        for rid in world["ids"]:
            url = rule.rule.replace(f"<{others[0]}>", rid)
            for method in sorted(m for m in rule.methods if m in {"GET", "POST", "PATCH"}):
                response = client.open(url, method=method, json={"body": "x"}, headers=headers)
                assert response.status_code == 404, f"{method} {url}"
                assert SECRET not in response.get_data(as_text=True)
    assert _snapshot(app, world["b"]) == before


def test_screen_pop_and_search_do_not_reach_b(app: Any, world: dict) -> None:
    client = app.test_client()
    login(client, "owner@alpha.example")
    assert "Secret" not in client.get("/t/alpha/service/calls/pop?number=+861012345678").text
    assert SECRET not in client.get("/t/alpha/search?q=Bravo").text
    assert SECRET not in client.get("/t/alpha/service/help/articles?q=secret").text
    assert SECRET not in client.get("/t/alpha/service/kb?q=secret").text
