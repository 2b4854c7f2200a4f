"""API keys: the settings page (create shown once, list, revoke, audited), hashing at rest,
and authentication failures."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from conftest import csrf_token_from, in_tenant, login
from helpers_api import assert_error, auth, call, make_key
from sqlalchemy import select

from crm_platform.api.models import ApiKey, parse_token
from crm_platform.audit import AuditEvent
from crm_platform.identity import Membership, Tenant, User
from crm_platform.tenancy import utcnow

PAGE = "/t/acme/settings/api-keys"


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    tenant = factory.tenant("acme", owner_email="owner@acme.example")
    factory.member(tenant, "rep@acme.example", "member")
    return tenant


def _create(client: Any, name: str, scope: str = "read") -> Any:
    token = csrf_token_from(client.get(PAGE).text)
    return client.post(PAGE, data={"name": name, "scope": scope, "csrf_token": token})


def test_page_creates_a_key_shown_once_and_stored_hashed(app: Any, client: Any, acme) -> None:
    login(client, "owner@acme.example")
    home = client.get("/t/acme/").text
    assert f'href="{PAGE}"' in home  # reachable from the navigation
    response = _create(client, "  Website   form ", "read_write")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    import re

    token = re.search(r'id="new-api-key">([^<]+)<', response.text).group(1)
    assert parse_token(token) is not None
    assert "/api/v1/docs" in response.text
    with in_tenant(app, acme) as session:
        key = session.scalars(select(ApiKey)).one()
        assert key.name == "Website form" and key.scope == "read_write"
        assert key.secret_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (key.secret_hash, key.prefix, key.name)
        assert token.startswith(f"crm_{key.prefix}_")
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.created"))
        assert event.one().details["prefix"] == key.prefix
    page = client.get(PAGE).text
    assert token not in page  # never shown again
    assert f"crm_{key.prefix}" in page and "Website form" in page
    assert call(client, "GET", "/api/v1/accounts", token).status_code == 200


def test_page_refuses_a_key_without_a_name(app: Any, client: Any, acme) -> None:
    login(client, "owner@acme.example")
    assert _create(client, "   ").status_code == 400
    with in_tenant(app, acme) as session:
        assert session.scalars(select(ApiKey)).all() == []


def test_revoke_stops_the_key_and_is_audited(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "owner@acme.example")
    assert call(client, "GET", "/api/v1/accounts", token).status_code == 200
    login(client, "owner@acme.example")
    with in_tenant(app, acme) as session:
        key_id = session.scalars(select(ApiKey.id)).one()
    csrf = csrf_token_from(client.get(PAGE).text)
    response = client.post(f"{PAGE}/{key_id}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert_error(call(client, "GET", "/api/v1/accounts", token), 401, "unauthorized")
    assert "revoked" in client.get(PAGE).text
    with in_tenant(app, acme) as session:
        assert session.get(ApiKey, (acme.id, key_id)).revoked_at is not None
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "api_key.revoked" in actions


def test_members_without_settings_permission_cannot_manage_keys(app: Any, client, acme) -> None:
    login(client, "rep@acme.example")
    assert client.get(PAGE).status_code == 403
    assert f'href="{PAGE}"' not in client.get("/t/acme/").text


def test_last_used_is_recorded(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "owner@acme.example")
    assert call(client, "GET", "/api/v1/accounts", token).status_code == 200
    with in_tenant(app, acme) as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() is not None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer crm_aaaaaaaa_" + "0" * 32 + "_" + "x" * 43,
    ],
)
def test_missing_or_bad_keys_get_401(app: Any, client: Any, acme, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/accounts", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_tampered_secret_gets_401(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "owner@acme.example")
    tampered = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    assert_error(call(client, "GET", "/api/v1/accounts", tampered), 401)


def test_session_cookie_is_not_an_api_credential(app: Any, client: Any, acme) -> None:
    login(client, "owner@acme.example")
    assert_error(client.get("/api/v1/accounts"), 401, "unauthorized")
    # and no CSRF token is needed (nor looked at) with a key
    token = make_key(app, acme, "owner@acme.example")
    response = call(client, "POST", "/api/v1/accounts", token, {"name": "Cookie-free"})
    assert response.status_code == 201


def test_key_stops_working_when_its_creator_leaves(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "rep@acme.example")
    assert call(client, "GET", "/api/v1/accounts", token).status_code == 200
    with in_tenant(app, acme) as session:
        rep = session.scalars(select(User).where(User.email == "rep@acme.example")).one()
        session.delete(
            session.scalars(select(Membership).where(Membership.user_id == rep.id)).one()
        )
        session.commit()
    assert_error(call(client, "GET", "/api/v1/accounts", token), 401, "unauthorized")


def test_suspended_tenant_gets_403(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "owner@acme.example")
    with app.app_context():
        from crm_platform.extensions import db

        tenant = db.session.get(Tenant, acme.id)
        tenant.status, tenant.suspended_at = "suspended", utcnow()
        db.session.commit()
    assert_error(call(client, "GET", "/api/v1/accounts", token), 403, "tenant_suspended")


def test_read_only_key_cannot_write(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "owner@acme.example", scope="read")
    assert call(client, "GET", "/api/v1/accounts", token).status_code == 200
    for method, url in (
        ("POST", "/api/v1/accounts"),
        ("PATCH", "/api/v1/accounts/0190a8b0-0000-7000-8000-000000000000"),
        ("DELETE", "/api/v1/accounts/0190a8b0-0000-7000-8000-000000000000"),
    ):
        response = call(client, method, url, token, {"name": "X"})
        assert_error(response, 403, "insufficient_scope")


def test_key_acts_with_its_creators_role(app: Any, client: Any, factory: Any, acme) -> None:
    factory.member(acme, "viewer@acme.example", "readonly")
    token = make_key(app, acme, "viewer@acme.example", scope="read_write")
    assert call(client, "GET", "/api/v1/accounts", token).status_code == 200
    assert_error(call(client, "POST", "/api/v1/accounts", token, {"name": "X"}), 403, "forbidden")


def test_keys_are_per_tenant(app: Any, client: Any, factory: Any, acme) -> None:
    other = factory.tenant("other", owner_email="owner@other.example")
    token = make_key(app, other, "owner@other.example")
    # The tenant part of the key names "other": swapping it for acme's id finds no key.
    forged = token.replace(other.id.hex, acme.id.hex)
    assert_error(call(client, "GET", "/api/v1/accounts", forged), 401)


def test_revoked_timestamps_survive_expiry_logic(app: Any, acme) -> None:
    """A key revoked in the past stays revoked (no expiry resurrects it)."""
    token = make_key(app, acme, "owner@acme.example")
    with in_tenant(app, acme) as session:
        key = session.scalars(select(ApiKey)).one()
        key.revoked_at = utcnow() - timedelta(days=365)
        session.commit()
        from crm_platform.api.models import find_key

        assert find_key(token, parse_token(token)) is None


def test_api_has_no_cookies(app: Any, client: Any, acme) -> None:
    token = make_key(app, acme, "owner@acme.example")
    login(client, "owner@acme.example")
    response = client.get("/api/v1/accounts?lang=zh_Hans_CN", headers=auth(token))
    assert_error(response, 400, "validation_failed")  # lang is no API parameter
    assert "Set-Cookie" not in response.headers
    response = client.get("/api/v1/accounts", headers=auth(token))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
