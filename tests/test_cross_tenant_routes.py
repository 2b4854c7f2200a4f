"""Every tenant URL rule, driven with another tenant's ids, session and none: never data.

The rules are discovered from ``app.url_map``, so a route added by the core or any plugin is
covered without editing this file. Any ``<..._id>`` argument is tried with every id of
tenant B's rows; ``<token>`` with B's invitation token.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import in_tenant, login
from sqlalchemy import select

from crm_platform.customers import Account, Contact
from crm_platform.identity import Invitation, Membership, Tenant
from crm_platform.modules import enable_module, installed_modules
from crm_platform.tenancy import provider_scope, tenant_tables
from crm_platform.tokens import make_token

SECRETS = ("Bravo Secret Account", "secret.person@bravo.example", "Hidden Bravo")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # Reach the views' own access checks, not the CSRF guard in front of them.
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


@pytest.fixture
def world(app: Any, factory: Any) -> dict[str, Any]:
    a = factory.tenant("alpha", owner_email="owner@alpha.example")
    b = factory.tenant("bravo", owner_email="owner@bravo.example", name="Hidden Bravo")
    factory.member(b, "member@bravo.example", "admin")
    for tenant in (a, b):  # every module on, so plugin routes reach their own access checks
        with in_tenant(app, tenant) as session:
            row = session.get(Tenant, tenant.id)
            for key in installed_modules():
                enable_module(row, key)
            session.commit()
    ids: list[str] = []
    with in_tenant(app, b) as session:
        account = Account(name=SECRETS[0], industry="secret")
        session.add(account)
        session.flush()
        session.add(Contact(first_name="Secret", account_id=account.id, email=SECRETS[1]))
        from datetime import timedelta

        from crm_platform.tenancy import utcnow

        invitation = Invitation(
            email="invitee@bravo.example", role="admin", expires_at=utcnow() + timedelta(days=1)
        )
        session.add(invitation)
        session.commit()
        for model in (Account, Contact, Membership, Invitation):
            ids += [str(i) for i in session.scalars(select(model.id))]
        token = make_token("invite", {"tid": str(b.id), "iid": str(invitation.id)})
    return {"a": a, "b": b, "ids": ids, "token": token}


def _snapshot(app: Any, tenant: Any) -> dict[str, list[tuple]]:
    """Every row of ``tenant`` in every tenant table."""
    with app.app_context(), provider_scope("test snapshot", "tests") as session:
        out = {}
        for table in sorted(tenant_tables(), key=lambda t: t.name):
            stmt = select(table).where(table.c.tenant_id == tenant.id)
            rows = session.execute(stmt.order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
        return out


#: The route sweeps run in this many parts, so that pytest-xdist workers share them.
SHARDS = 4


def _tenant_rules(app: Any, shard: int | None = None) -> list[Any]:
    """Every tenant URL rule (sorted by path; ``shard``: every ``SHARDS``-th from it)."""
    rules = sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "tenant_slug" in rule.arguments and not rule.endpoint.startswith("static")
        ),
        key=lambda r: (r.rule, r.endpoint),
    )
    return rules if shard is None else rules[shard::SHARDS]


def _urls(app: Any, rule: Any, slug: str, world: dict[str, Any]) -> list[str]:
    others = sorted(rule.arguments - {"tenant_slug"})
    choices = []
    for arg in others:
        if arg == "token":
            choices.append([world["token"]])
        else:
            choices.append(world["ids"] + ["not-a-uuid"])
    urls = []
    with app.test_request_context():
        for combo in itertools.product(*choices) if choices else [()]:
            values = dict(zip(others, combo, strict=True))
            urls.append(app.url_for(rule.endpoint, tenant_slug=slug, **values))
    return urls


def _methods(rule: Any) -> list[str]:
    return sorted(m for m in rule.methods if m in {"GET", "POST"})


def _public(app: Any, rule: Any) -> bool:
    return bool(getattr(app.view_functions[rule.endpoint], "crm_public", False))


def _assert_no_secrets(response: Any, what: str, allowed: tuple[str, ...] = ()) -> None:
    body = response.get_data(as_text=True)
    for secret in set(SECRETS) - set(allowed):
        assert secret not in body, f"{what} leaked {secret!r}"


def test_rules_are_discovered(app: Any) -> None:
    endpoints = {r.endpoint for r in _tenant_rules(app)}
    assert {"workspace.account", "tenants.change_role", "tenants.accept_invitation"} <= endpoints


@pytest.mark.parametrize("shard", range(SHARDS))
def test_member_of_a_with_b_ids_gets_nothing(
    app: Any, client: Any, world: dict, shard: int
) -> None:
    before = _snapshot(app, world["b"])
    login(client, "owner@alpha.example")
    for rule in _tenant_rules(app, shard):
        for url in _urls(app, rule, "alpha", world):
            for method in _methods(rule):
                response = client.open(url, method=method, data={"role": "owner"})
                what = f"{method} {url}"
                assert response.status_code != 500, what
                if rule.arguments - {"tenant_slug"}:
                    assert response.status_code in (400, 403, 404), what
                _assert_no_secrets(response, what)
    assert _snapshot(app, world["b"]) == before


@pytest.mark.parametrize("shard", range(SHARDS))
def test_member_of_a_cannot_open_b(app: Any, client: Any, world: dict, shard: int) -> None:
    before = _snapshot(app, world["b"])
    login(client, "owner@alpha.example")
    for rule in _tenant_rules(app, shard):
        if _public(app, rule):
            continue
        for url in _urls(app, rule, "bravo", world):
            for method in _methods(rule):
                response = client.open(url, method=method, data={"role": "member"})
                assert response.status_code == 404, f"{method} {url}"
                _assert_no_secrets(response, f"{method} {url}")
    assert _snapshot(app, world["b"]) == before


@pytest.mark.parametrize("shard", range(SHARDS))
def test_signed_out_visitor_is_sent_to_sign_in(
    app: Any, client: Any, world: dict, shard: int
) -> None:
    before = _snapshot(app, world["b"])
    for rule in _tenant_rules(app, shard):
        for slug in ("alpha", "bravo"):
            for url in _urls(app, rule, slug, world):
                for method in _methods(rule):
                    response = client.open(url, method=method, data={"name": "X"})
                    what = f"{method} {url}"
                    if _public(app, rule) and slug == "bravo":
                        # B's own valid link, opened under B: it may name B, nothing more.
                        _assert_no_secrets(response, what, allowed=("Hidden Bravo",))
                    else:
                        _assert_no_secrets(response, what)
                    if _public(app, rule):
                        assert response.status_code in (200, 400, 404), what
                    else:
                        assert response.status_code == 302, what
                        assert "/login" in response.headers["Location"], what
    assert _snapshot(app, world["b"]) == before
