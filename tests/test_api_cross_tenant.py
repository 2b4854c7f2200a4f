"""Every /api/v1 rule, core and plugin, discovered from the URL map and driven across tenants.

Tenant A's key on tenant B's ids, B's key on A's ids, a revoked key and no key: 401, 403 or
404 and never B's data; B's rows are unchanged afterwards (checked through the provider scope).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import in_tenant
from helpers_api import auth, make_key, snapshot
from sqlalchemy import select

from crm_platform.api.models import ApiKey
from crm_platform.api.openapi import api_registry
from crm_platform.customers import Account, Contact
from crm_platform.identity import Tenant
from crm_platform.modules import enable_module, installed_modules
from crm_platform.records.activities import Activity
from crm_platform.records.custom_fields import CustomField
from crm_platform.tenancy import utcnow

SECRETS = ("Bravo Secret Account", "secret.person@bravo.example", "Bravo secret call")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def world(app: Any, factory: Any) -> dict[str, Any]:
    a = factory.tenant("alpha", owner_email="owner@alpha.example")
    b = factory.tenant("bravo", owner_email="owner@bravo.example", name="Hidden Bravo")
    for tenant in (a, b):  # every module on, so plugin resources reach their own checks
        with in_tenant(app, tenant) as session:
            row = session.get(Tenant, tenant.id)
            for key in installed_modules():
                enable_module(row, key)
            session.commit()
    ids: dict[str, list[str]] = {}
    for name, tenant in (("a", a), ("b", b)):
        with in_tenant(app, tenant) as session:
            account = Account(name=SECRETS[0] if name == "b" else "Alpha Co", industry="x")
            session.add(account)
            session.flush()
            contact = Contact(
                first_name="Secret",
                account_id=account.id,
                email=SECRETS[1] if name == "b" else "a@alpha.example",
            )
            session.add(contact)
            session.flush()
            session.add(
                Activity(
                    subject=SECRETS[2] if name == "b" else "Alpha call",
                    account_id=account.id,
                    contact_id=contact.id,
                    kind="call",
                )
            )
            session.add(CustomField(entity="account", key="secret_tier", label="Tier", type="text"))
            session.commit()
            ids[name] = [
                str(i)
                for model in (Account, Contact, Activity, CustomField)
                for i in session.scalars(select(model.id))
            ]
    keys = {
        "a": make_key(app, a, "owner@alpha.example"),
        "b": make_key(app, b, "owner@bravo.example"),
        "revoked": make_key(app, b, "owner@bravo.example", name="old"),
    }
    with in_tenant(app, b) as session:
        old = session.scalars(select(ApiKey).where(ApiKey.name == "old")).one()
        old.revoked_at = utcnow()
        session.commit()
    return {"a": a, "b": b, "ids": ids, "keys": keys}


def _api_rules(app: Any) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")]


def _public(app: Any, rule: Any) -> bool:
    return bool(getattr(app.view_functions[rule.endpoint], "crm_api_public", False))


def _urls(app: Any, rule: Any, ids: list[str]) -> list[str]:
    args = sorted(rule.arguments)
    urls = []
    with app.test_request_context():
        for combo in itertools.product(*[ids + ["not-a-uuid"] for _ in args]):
            urls.append(app.url_for(rule.endpoint, **dict(zip(args, combo, strict=True))))
    return urls


def _methods(rule: Any) -> list[str]:
    return [m for m in METHODS if m in rule.methods]


def _no_secrets(response: Any, what: str) -> None:
    body = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in body, f"{what} leaked {secret!r}"


BODY = {"name": "Hijack", "first_name": "Hijack", "subject": "Hijack", "message": "Hijack"}


def test_rules_are_discovered(app: Any) -> None:
    endpoints = {r.endpoint for r in _api_rules(app)}
    assert {"api.account_get", "api.activity_update", "api.custom_fields"} <= endpoints
    assert "api_greetings.list_greetings" in endpoints  # a plugin resource
    registry = api_registry(app)
    plugin_rules = [
        r for r in _api_rules(app) if getattr(registry.info_of(r.endpoint), "plugin", None)
    ]
    assert plugin_rules


def test_a_key_on_b_ids_gets_nothing(app: Any, client: Any, world: dict) -> None:
    before = snapshot(app, world["b"])
    for rule in _api_rules(app):
        if _public(app, rule):
            continue
        for url in _urls(app, rule, world["ids"]["b"]):
            for method in _methods(rule):
                response = client.open(
                    url, method=method, json=BODY, headers=auth(world["keys"]["a"])
                )
                what = f"A's key: {method} {url}"
                assert response.status_code != 500, what
                if rule.arguments:
                    assert response.status_code in (400, 403, 404), what
                _no_secrets(response, what)
    assert snapshot(app, world["b"]) == before


def test_b_key_on_a_ids_gets_nothing_of_a(app: Any, client: Any, world: dict) -> None:
    before = snapshot(app, world["a"])
    for rule in _api_rules(app):
        if _public(app, rule) or not rule.arguments:
            continue
        for url in _urls(app, rule, world["ids"]["a"]):
            for method in _methods(rule):
                response = client.open(
                    url, method=method, json=BODY, headers=auth(world["keys"]["b"])
                )
                what = f"B's key: {method} {url}"
                assert response.status_code in (400, 403, 404), what
                for secret in ("Alpha Co", "a@alpha.example", "Alpha call"):
                    assert secret not in response.get_data(as_text=True), what
    assert snapshot(app, world["a"]) == before


@pytest.mark.parametrize("who", ["revoked", "none", "garbage"])
def test_revoked_or_missing_key_gets_401(app: Any, client: Any, world: dict, who: str) -> None:
    before = snapshot(app, world["b"])
    headers = {
        "revoked": auth(world["keys"]["revoked"]),
        "none": {},
        "garbage": {"Authorization": "Bearer crm_nothing"},
    }[who]
    for rule in _api_rules(app):
        for url in _urls(app, rule, world["ids"]["b"][:2]):
            for method in _methods(rule):
                response = client.open(url, method=method, json=BODY, headers=headers)
                what = f"{who}: {method} {url}"
                _no_secrets(response, what)
                if _public(app, rule):
                    assert response.status_code == 200, what
                else:
                    assert response.status_code == 401, what
                    assert response.json["error"]["code"] == "unauthorized", what
    assert snapshot(app, world["b"]) == before


def test_lists_of_a_never_show_b(app: Any, client: Any, world: dict) -> None:
    for rule in _api_rules(app):
        if rule.arguments or "GET" not in rule.methods or _public(app, rule):
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint)
        response = client.get(url, headers=auth(world["keys"]["a"]))
        assert response.status_code == 200, url
        _no_secrets(response, url)


def test_plugin_resource_answers_404_when_its_module_is_off(app, client, world) -> None:
    from crm_platform.modules import disable_module

    url = "/api/v1/greetings"
    assert client.get(url, headers=auth(world["keys"]["a"])).status_code == 200
    with in_tenant(app, world["a"]) as session:
        disable_module(session.get(Tenant, world["a"].id), "hello")
        session.commit()
    response = client.get(url, headers=auth(world["keys"]["a"]))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get(url, headers=auth(world["keys"]["b"])).status_code == 200
