"""Session invalidation (sign-out, password change) and re-authentication before sensitive
actions (``require_recent_auth``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import PASSWORD, in_tenant, login
from flask import Flask
from helpers_web import (
    csrf,
    events,
    field_error,
    membership_id,
    post_form,
    roles,
    tenant_row,
)
from sqlalchemy import select

from crm_platform import two_factor
from crm_platform.api.models import ApiKey
from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.provisioning import find_user
from crm_platform.reauth import SESSION_KEY
from crm_platform.sdk import require_recent_auth
from crm_platform.webhooks.models import Webhook

BOSS = "boss@acme.example"
REP = "rep@acme.example"
KEYS = "/t/acme/settings/api-keys"


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    tenant = factory.tenant("acme", owner_email=BOSS)
    factory.member(tenant, REP, "member")
    return tenant


def age_session(client: Any, seconds: int = 3600) -> None:
    """Make the client's last full sign-in ``seconds`` older."""
    with client.session_transaction() as sess:
        sess[SESSION_KEY] = sess[SESSION_KEY] - seconds


def session_cookie(client: Any) -> str:
    return client.get_cookie("session").value


def with_cookie(app: Any, value: str) -> Any:
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


def reauth_location(response: Any) -> str:
    assert response.status_code == 303, response.status_code
    location = response.headers["Location"]
    assert location.startswith("/reauth?next="), location
    return location


# =========================================================================== invalidation


def test_a_cookie_copied_before_sign_out_no_longer_works(app: Any, client: Any, acme: Any) -> None:
    login(client, BOSS)
    stolen = session_cookie(client)
    assert with_cookie(app, stolen).get("/t/acme/").status_code == 200  # the copy works...
    out = client.post("/logout", data={"csrf_token": csrf(client, "/t/acme/")})
    assert out.status_code == 302
    assert with_cookie(app, stolen).get("/t/acme/").status_code == 302  # ...not after sign-out
    assert client.get("/t/acme/").status_code == 302
    assert login(client, BOSS).status_code == 302  # signing in again works
    assert client.get("/t/acme/").status_code == 200


def test_sign_out_also_ends_remembered_sessions(app: Any, client: Any, acme: Any) -> None:
    client.post(
        "/login",
        data={"csrf_token": csrf(client), "email": BOSS, "password": PASSWORD, "remember": "y"},
    )
    remembered = client.get_cookie("remember_token").value
    client.post("/logout", data={"csrf_token": csrf(client, "/t/acme/")})
    thief = app.test_client()
    thief.set_cookie("remember_token", remembered)
    assert thief.get("/t/acme/").status_code == 302


def test_password_change_ends_other_sessions_and_stolen_cookies(
    app: Any, client: Any, acme: Any
) -> None:
    login(client, BOSS)
    laptop = app.test_client()
    login(laptop, BOSS)
    stolen = session_cookie(client)
    page = client.get("/profile/password")
    assert page.status_code == 200 and 'name="current"' in page.text

    wrong = post_form(
        client,
        "/profile/password",
        {
            "current": "not-my-password",
            "password": "a-brand-new-secret",
            "confirm": "a-brand-new-secret",
        },
    )
    assert wrong.status_code == 400 and field_error(wrong.text, "current") == "Wrong password."
    weak = post_form(
        client,
        "/profile/password",
        {"current": PASSWORD, "password": "short", "confirm": "short"},
    )
    assert weak.status_code == 400 and field_error(weak.text, "password")

    done = post_form(
        client,
        "/profile/password",
        {"current": PASSWORD, "password": "a-brand-new-secret", "confirm": "a-brand-new-secret"},
    )
    assert done.status_code == 302 and done.headers["Location"] == "/profile/security"
    assert client.get("/t/acme/").status_code == 200  # this session goes on
    assert laptop.get("/t/acme/").status_code == 302  # the others end
    assert with_cookie(app, stolen).get("/t/acme/").status_code == 302
    fresh = app.test_client()
    assert login(fresh, BOSS).status_code == 200  # the old password fails
    assert login(fresh, BOSS, "a-brand-new-secret").status_code == 302
    assert len(events(app, tenant_row(app, "acme"), "auth.password_changed")) == 1


def test_security_page_links_to_password_change(app: Any, client: Any, acme: Any) -> None:
    login(client, BOSS)
    assert 'href="/profile/password"' in client.get("/profile/security").text
    assert client.get("/profile/password", follow_redirects=False).status_code == 200
    assert app.test_client().get("/profile/password").status_code == 302  # signed out


# =========================================================================== re-auth flow


def test_stale_session_confirms_the_password_and_comes_back(
    app: Any, client: Any, acme: Any
) -> None:
    login(client, BOSS)
    assert client.get("/profile/password").status_code == 200  # fresh sign-in: recent
    age_session(client)
    location = reauth_location(client.get("/profile/password?x=1"))
    assert location == "/reauth?next=/profile/password?x%3D1"
    page = client.get(location)
    assert page.status_code == 200 and "Confirm it" in page.text
    assert 'name="code"' not in page.text  # no two-factor: the password alone

    wrong = post_form(client, location, {"password": "not-my-password"})
    assert wrong.status_code == 400 and field_error(wrong.text, "password") == "Wrong password."
    assert reauth_location(client.get("/profile/password"))

    done = post_form(client, location, {"password": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/profile/password?x=1"
    assert client.get("/profile/password").status_code == 200
    acme_row = tenant_row(app, "acme")
    assert len(events(app, acme_row, "auth.reauth_failed")) == 1
    assert len(events(app, acme_row, "auth.reauthenticated")) == 1


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\t/evil"])
def test_reauth_never_returns_to_another_site(
    app: Any, client: Any, acme: Any, target: str
) -> None:
    login(client, BOSS)
    age_session(client)
    done = post_form(client, "/reauth?next=" + target, {"password": PASSWORD}, page="/reauth")
    assert done.status_code == 303 and done.headers["Location"] == "/"


def test_remembered_session_counts_as_stale(app: Any, client: Any, acme: Any) -> None:
    client.post(
        "/login",
        data={"csrf_token": csrf(client), "email": BOSS, "password": PASSWORD, "remember": "y"},
    )
    client.delete_cookie("session")  # the browser was closed
    assert client.get("/t/acme/").status_code == 200  # still signed in...
    assert reauth_location(client.get("/profile/password"))  # ...but not recently


def test_reauth_seconds_come_from_the_config(app: Any, client: Any, acme: Any) -> None:
    app.config["REAUTH_SECONDS"] = 60
    login(client, BOSS)
    age_session(client, 30)
    assert client.get("/profile/password").status_code == 200
    age_session(client, 40)
    assert reauth_location(client.get("/profile/password"))


def test_reauth_with_two_factor_asks_for_a_code(
    app: Any, client: Any, acme: Any, monkeypatch: Any
) -> None:
    clock = {"t": 1_900_000_000.0}
    monkeypatch.setattr(two_factor, "now", lambda: clock["t"])
    login(client, BOSS)
    page = client.get("/profile/two-factor")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    step = int(clock["t"] // 30)
    post_form(client, "/profile/two-factor", {"code": two_factor.code_for(secret, step)})
    age_session(client)
    location = reauth_location(client.get("/profile/password"))
    assert 'name="code"' in client.get(location).text
    no_code = post_form(client, location, {"password": PASSWORD})
    assert no_code.status_code == 400
    assert "not valid" in field_error(no_code.text, "code")
    done = post_form(
        client, location, {"password": PASSWORD, "code": two_factor.code_for(secret, step + 1)}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/profile/password"


def test_disabling_two_factor_needs_a_recent_sign_in(
    app: Any, client: Any, acme: Any, monkeypatch: Any
) -> None:
    clock = {"t": 1_900_000_000.0}
    monkeypatch.setattr(two_factor, "now", lambda: clock["t"])
    login(client, BOSS)
    page = client.get("/profile/two-factor")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    step = int(clock["t"] // 30)
    post_form(client, "/profile/two-factor", {"code": two_factor.code_for(secret, step)})
    age_session(client)
    answer = client.post(
        "/profile/two-factor/disable",
        data={
            "csrf_token": csrf(client, "/profile/security"),
            "disable-password": PASSWORD,
            "disable-code": two_factor.code_for(secret, step + 1),
        },
        headers={"Referer": "http://localhost/profile/security"},
    )
    assert reauth_location(answer) == "/reauth?next=/profile/security"
    with app.app_context():
        assert two_factor.is_enabled(find_user(BOSS))


# =========================================================================== protected actions


def _stale_post(client: Any, url: str, data: dict[str, Any], page: str) -> Any:
    """POST ``data`` from ``page`` after the session's sign-in went stale."""
    token = csrf(client, page)
    age_session(client)
    return client.post(
        url, data={"csrf_token": token, **data}, headers={"Referer": f"http://localhost{page}"}
    )


def test_api_key_creation_and_revocation_need_a_recent_sign_in(
    app: Any, client: Any, acme: Any
) -> None:
    login(client, BOSS)
    answer = _stale_post(client, KEYS, {"name": "Website", "scope": "read"}, KEYS)
    location = reauth_location(answer)
    assert location == f"/reauth?next={KEYS}"
    with in_tenant(app, acme) as session:
        assert session.scalars(select(ApiKey)).all() == []  # nothing was done
    page = client.get(location)
    assert "submit the form again" in page.text
    back = post_form(client, location, {"password": PASSWORD})
    assert back.headers["Location"] == KEYS
    created = post_form(client, KEYS, {"name": "Website", "scope": "read"})
    assert created.status_code == 200 and 'id="new-api-key"' in created.text
    with in_tenant(app, acme) as session:
        key = session.scalars(select(ApiKey)).one()
        key_id = key.id

    revoke = _stale_post(client, f"{KEYS}/{key_id}/revoke", {}, KEYS)
    assert reauth_location(revoke)
    with in_tenant(app, acme) as session:
        assert session.get(ApiKey, (acme.id, key_id)).revoked_at is None


def test_member_role_change_and_removal_need_a_recent_sign_in(
    app: Any, client: Any, acme: Any
) -> None:
    login(client, BOSS)
    rep_id = membership_id(app, acme, REP)
    answer = _stale_post(
        client, f"/t/acme/members/{rep_id}/role", {"role": "admin"}, "/t/acme/members"
    )
    assert reauth_location(answer) == "/reauth?next=/t/acme/members"
    assert roles(app, acme)[REP] == "member"
    removed = _stale_post(client, f"/t/acme/members/{rep_id}/remove", {}, "/t/acme/members")
    assert reauth_location(removed)
    assert REP in roles(app, acme)

    post_form(client, "/reauth?next=/t/acme/members", {"password": PASSWORD}, page="/reauth")
    changed = post_form(
        client, f"/t/acme/members/{rep_id}/role", {"role": "admin"}, page="/t/acme/members"
    )
    assert changed.status_code == 303
    assert roles(app, acme)[REP] == "admin"


def test_members_without_the_permission_still_get_403(app: Any, client: Any, acme: Any) -> None:
    login(client, REP)
    boss_id = membership_id(app, acme, BOSS)
    answer = _stale_post(client, f"/t/acme/members/{boss_id}/role", {"role": "member"}, "/t/acme/")
    assert answer.status_code == 403  # the permission is checked first: no password prompt


def test_webhook_creation_needs_a_recent_sign_in(app: Any, client: Any, acme: Any) -> None:
    login(client, BOSS)
    url = "/t/acme/settings/webhooks/new"
    assert client.get(url).status_code == 200
    age_session(client)
    assert reauth_location(client.get(url)) == f"/reauth?next={url}"
    answer = client.post(
        url,
        data={"csrf_token": csrf(client, "/profile/security"), "url": "https://example.com/h"},
    )
    reauth_location(answer)
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Webhook)).all() == []


def test_htmx_requests_get_a_client_side_redirect(app: Any, client: Any, acme: Any) -> None:
    login(client, BOSS)
    rep_id = membership_id(app, acme, REP)
    token = csrf(client, "/t/acme/members")
    age_session(client)
    answer = client.post(
        f"/t/acme/members/{rep_id}/role",
        data={"csrf_token": token, "role": "admin"},
        headers={"HX-Request": "true", "Referer": "http://localhost/t/acme/members"},
    )
    assert answer.status_code == 200
    assert answer.headers["HX-Redirect"] == "/reauth?next=/t/acme/members"
    assert roles(app, acme)[REP] == "member"


def test_foreign_referrer_is_not_used_as_the_way_back(app: Any, client: Any, acme: Any) -> None:
    login(client, BOSS)
    token = csrf(client, KEYS)
    age_session(client)
    answer = client.post(
        KEYS,
        data={"csrf_token": token, "name": "x", "scope": "read"},
        headers={"Referer": "https://evil.example/t/acme/"},
    )
    assert reauth_location(answer) == "/reauth?next=/"


def test_provider_actions_on_tenants_need_a_recent_sign_in(
    app: Any, client: Any, acme: Any, factory: Any
) -> None:
    from crm_platform.provider.staff import grant_staff

    factory.user("ops@provider.example", "Ops")
    with app.app_context():
        grant_staff(find_user("ops@provider.example"), "admin", actor="tests")
        db.session.commit()
    login(client, "ops@provider.example")
    page = f"/provider/tenants/{acme.id}"
    for action, data in (
        ("suspend", {"status-reason": "late payment"}),
        ("resume", {"status-reason": "paid"}),
        ("impersonate", {"impersonate-member": "x", "impersonate-reason": "support"}),
        ("trial", {"days": "7", "reason": "x"}),
        ("plan", {"plan": "x", "reason": "x"}),
        ("suspension", {"reason": "x"}),
    ):
        prefix = "/provider/billing" if action in ("trial", "plan", "suspension") else "/provider"
        answer = _stale_post(client, f"{prefix}/tenants/{acme.id}/{action}", data, page)
        assert reauth_location(answer) == f"/reauth?next={page}", action
        with client.session_transaction() as sess:
            sess[SESSION_KEY] = sess[SESSION_KEY] + 3600  # fresh again for the next one
    with app.app_context():
        assert db.session.get(Tenant, acme.id).status == "active"
    # Fresh: the action runs.
    done = post_form(
        client, f"/provider/tenants/{acme.id}/suspend", {"status-reason": "late"}, page=page
    )
    assert done.status_code == 302
    with app.app_context():
        assert db.session.get(Tenant, acme.id).status == "suspended"


def test_decorator_takes_its_own_max_age(app_config: dict[str, Any]) -> None:
    """``require_recent_auth(max_age=...)`` is the SDK's; signed-out requests pass through."""
    calls: list[str] = []

    def view() -> str:
        calls.append("ran")
        return "ok"

    strict = require_recent_auth(max_age=5)(view)
    plain = require_recent_auth(view)
    assert strict.__name__ == plain.__name__ == "view"
    assert strict.crm_recent_auth == 5 and plain.crm_recent_auth == "default"
    flask_app = Flask(__name__)
    flask_app.secret_key = "x"
    from flask_login import LoginManager

    LoginManager(flask_app).user_loader(lambda identity: None)
    with flask_app.test_request_context("/"):
        assert strict() == "ok" and plain() == "ok"  # nobody signed in: the view decides
    assert calls == ["ran", "ran"]
