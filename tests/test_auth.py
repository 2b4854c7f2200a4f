"""Accounts and sign-in: sign-up by e-mail, sign-in and out, rate limits, password reset."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import PASSWORD, login
from helpers_web import (
    csrf,
    events,
    field_error,
    last_mail,
    mails,
    post_form,
    roles,
    signed_in_the_past,
    tamper,
    tenant_count,
    tenant_row,
    token_of,
    user_exists,
    without_tokens,
)
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from crm_platform.auth.views import PendingSignup
from crm_platform.extensions import db

SIGNUP = {
    "company_name": "Nimbus Freight",
    "slug": "nimbus",
    "industry": "retail",
    "name": "Nora Nimbus",
    "email": "nora@nimbus.example",
    "password": PASSWORD,
}
WRONG = "Wrong e-mail address or password."


def _signup(client: Any, **changes: str) -> Any:
    return post_form(client, "/signup", {**SIGNUP, **changes})


def _pending_count(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PendingSignup))


def _signed_in_home(client: Any, slug: str) -> int:
    """Status of the workspace home without following redirects (200 = signed-in member)."""
    return client.get(f"/t/{slug}/").status_code


# =========================================================================== sign-up


def test_signup_full_flow_creates_workspace_and_signs_in(app: Any, client: Any) -> None:
    form = client.get("/signup")
    assert form.status_code == 200 and "Create your workspace" in form.text

    answer = _signup(client)
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text and SIGNUP["email"] in answer.text
    # Nothing exists until the address is confirmed.
    assert tenant_row(app, "nimbus") is None
    assert not user_exists(app, SIGNUP["email"])

    mail = last_mail(app, SIGNUP["email"])
    assert mail.subject == "Confirm your new workspace"
    assert mail.link.startswith("/signup/confirm/")

    confirm = client.get(mail.link)
    assert confirm.status_code == 200
    assert "Create my workspace" in confirm.text and "/t/nimbus/" in confirm.text
    assert tenant_row(app, "nimbus") is None  # a GET (e.g. a mail scanner) creates nothing

    created = post_form(client, mail.link)
    assert created.status_code == 302
    assert created.headers["Location"] == "/t/nimbus/"

    home = client.get("/t/nimbus/")
    assert home.status_code == 200
    assert "Nimbus Freight" in home.text and "Welcome! Your workspace is ready." in home.text

    tenant = tenant_row(app, "nimbus")
    assert tenant is not None and tenant.name == "Nimbus Freight" and tenant.industry == "retail"
    assert roles(app, tenant) == {SIGNUP["email"]: "owner"}
    created_events = events(app, tenant, "tenant.created")
    assert len(created_events) == 1
    assert created_events[0].target == "nimbus"
    assert created_events[0].actor_label == SIGNUP["email"]
    # The chosen password works.
    client.post("/logout", data={"csrf_token": csrf(client)})
    assert login(client, SIGNUP["email"]).status_code == 302


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"slug": "taken"}, "slug", "already taken"),
        ({"slug": "admin"}, "slug", "reserved"),
        ({"slug": "api"}, "slug", "reserved"),
        ({"slug": "-nimbus"}, "slug", "lowercase letters"),
        ({"slug": "ni"}, "slug", "lowercase letters"),
        ({"slug": "nim_bus"}, "slug", "lowercase letters"),
        ({"slug": "nim bus"}, "slug", "lowercase letters"),
        ({"email": "not-an-address"}, "email", ""),
        ({"email": "nora@"}, "email", ""),
        ({"password": "short1!"}, "password", "at least 10 characters"),
        ({"password": "password123"}, "password", "too common"),
        ({"password": "aaaaaaaaaaaa"}, "password", "too common or too simple"),
        ({"password": "nora@nimbus.example"}, "password", "e-mail address or name"),
        ({"password": "xx-nora-2026-xx"}, "password", "e-mail address or name"),
        ({"name": "Nora Nimbus Long", "password": "nora nimbus long"}, "password", "name"),
    ],
)
def test_signup_field_errors(
    app: Any, client: Any, factory: Any, changes: dict[str, str], field: str, message: str
) -> None:
    factory.tenant("taken")
    before = tenant_count(app)
    page = _signup(client, **changes)
    assert page.status_code == 200
    assert "Check your inbox" not in page.text
    error = field_error(page.text, field)
    assert error is not None, f"no error shown under {field}"
    assert message.lower() in error.lower()
    # Nothing was started: no pending sign-up, no mail, no tenant.
    assert _pending_count(app) == 0
    assert mails(app) == []
    assert tenant_count(app) == before


def test_signup_with_existing_email_answers_the_same_and_mails_a_notice(
    app: Any, client: Any, factory: Any
) -> None:
    factory.user("known@nimbus.example", "Known Person")
    fresh = _signup(client, email="fresh@nimbus.example", slug="fresh-co")
    other = app.test_client()
    known = _signup(other, email="known@nimbus.example", slug="known-co")

    assert fresh.status_code == known.status_code == 200
    # Byte for byte the same page, but for the address itself: no account enumeration.
    assert without_tokens(fresh.text).replace("fresh@", "X@") == without_tokens(known.text).replace(
        "known@", "X@"
    )

    notice = last_mail(app, "known@nimbus.example")
    assert notice.subject == "You already have an account"
    assert "/login" in notice.links and "/password/forgot" in notice.links
    assert not any("/signup/confirm/" in link for link in notice.links)
    # Only the new address got a confirmation link; the known one got no pending sign-up.
    assert _pending_count(app) == 1
    assert tenant_row(app, "known-co") is None and tenant_row(app, "fresh-co") is None


def test_signup_with_existing_email_does_the_same_slow_work(
    app: Any, client: Any, factory: Any, monkeypatch: Any
) -> None:
    """Hashing the password (scrypt, tens of ms) for new addresses only would let response
    times tell which addresses have an account."""
    import crm_platform.auth.views as views

    factory.user("known@nimbus.example", "Known Person")
    calls: list[str] = []
    real = views.hash_password

    def counting(password: str) -> str:
        calls.append(password)
        return real(password)

    monkeypatch.setattr(views, "hash_password", counting)
    _signup(client, email="fresh@nimbus.example", slug="fresh-co")
    fresh_calls = len(calls)
    _signup(app.test_client(), email="known@nimbus.example", slug="known-co")
    assert fresh_calls >= 1
    assert len(calls) - fresh_calls == fresh_calls


def test_signup_confirmation_link_works_once(app: Any, client: Any) -> None:
    _signup(client)
    link = last_mail(app, SIGNUP["email"]).link
    assert post_form(client, link).status_code == 302

    other = app.test_client()
    again_get = other.get(link)
    assert again_get.status_code == 400 and "already used" in again_get.text
    again_post = post_form(other, link, page="/login")
    assert again_post.status_code == 400 and "already used" in again_post.text
    assert tenant_count(app) == 1


def test_signup_tampered_or_forged_token_is_refused(app: Any, client: Any) -> None:
    _signup(client)
    link = last_mail(app, SIGNUP["email"]).link
    token = token_of(link)

    tampered = client.get(f"/signup/confirm/{tamper(token)}")
    assert tampered.status_code == 400 and "not valid" in tampered.text

    payload = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="crm-signup").loads(token)
    forged = URLSafeTimedSerializer("another-secret", salt="crm-signup").dumps(payload)
    assert client.get(f"/signup/confirm/{forged}").status_code == 400
    # A token made for another purpose (same key) is refused too.
    other_purpose = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="crm-reset").dumps(
        payload
    )
    assert client.get(f"/signup/confirm/{other_purpose}").status_code == 400
    assert post_form(client, f"/signup/confirm/{forged}", page="/login").status_code == 400
    assert client.get("/signup/confirm/garbage").status_code == 400
    assert tenant_count(app) == 0


def test_signup_expired_link_is_refused(app: Any, client: Any, monkeypatch: Any) -> None:
    with signed_in_the_past(monkeypatch, 24 * 3600 + 60):
        _signup(client)
    link = last_mail(app, SIGNUP["email"]).link
    page = client.get(link)
    assert page.status_code == 400 and "expired" in page.text
    assert post_form(client, link, page="/login").status_code == 400
    assert tenant_count(app) == 0 and not user_exists(app, SIGNUP["email"])


def test_signup_slug_taken_before_confirmation(app: Any, client: Any, factory: Any) -> None:
    _signup(client)
    link = last_mail(app, SIGNUP["email"]).link
    factory.tenant("nimbus", owner_email="quicker@elsewhere.example")

    page = post_form(client, link)
    assert page.status_code == 400 and "already taken" in page.text
    # Nothing created: no user for the sign-up's address, still one tenant, not signed in.
    assert not user_exists(app, SIGNUP["email"])
    assert tenant_count(app) == 1
    assert roles(app, tenant_row(app, "nimbus")) == {"quicker@elsewhere.example": "owner"}
    assert client.get("/workspaces").status_code == 302


# =========================================================================== sign-in


def test_login_redirects_to_local_next(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    token = csrf(client)
    response = client.post(
        "/login?next=/t/acme/accounts",
        data={"csrf_token": token, "email": "boss@acme.example", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/t/acme/accounts"
    assert client.get("/t/acme/accounts").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/t/acme/",
        "http://evil.example/",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
    ],
)
def test_login_ignores_foreign_next(app: Any, client: Any, factory: Any, target: str) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    token = csrf(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": token, "email": "boss@acme.example", "password": PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil" not in location and "javascript" not in location
    assert location == "/"


def test_wrong_password_and_unknown_email_read_the_same(
    app: Any, client: Any, factory: Any
) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    wrong = login(client, "boss@acme.example", "not-the-password-1")
    unknown = login(app.test_client(), "nobody@acme.example", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 200
    assert field_error(wrong.text, "password") == WRONG
    assert field_error(unknown.text, "password") == WRONG
    assert without_tokens(wrong.text).replace("boss@", "X@") == without_tokens(
        unknown.text
    ).replace("nobody@", "X@")
    assert client.get("/t/acme/").status_code == 302  # still signed out


def test_failed_login_is_audited_in_each_tenant_of_the_user(
    app: Any, client: Any, factory: Any
) -> None:
    acme = factory.tenant("acme", owner_email="boss@acme.example")
    beta = factory.tenant("beta", owner_email="other@beta.example")
    factory.member(beta, "boss@acme.example", "member")
    bystander = factory.tenant("gamma", owner_email="g@gamma.example")

    login(client, "boss@acme.example", "not-the-password-1")
    for tenant in (acme, beta):
        failed = events(app, tenant, "auth.login_failed")
        assert len(failed) == 1
        assert failed[0].actor_label == "boss@acme.example"
    assert events(app, bystander, "auth.login_failed") == []
    assert events(app, acme, "auth.login") == []

    login(client, "boss@acme.example")
    assert len(events(app, acme, "auth.login")) == 1
    assert len(events(app, beta, "auth.login")) == 1


def test_inactive_user_cannot_sign_in(app: Any, client: Any, factory: Any) -> None:
    from crm_platform.provisioning import find_user

    factory.tenant("acme", owner_email="boss@acme.example")
    with app.app_context():
        find_user("boss@acme.example").active = False
        db.session.commit()
    page = login(client, "boss@acme.example")
    assert page.status_code == 200 and field_error(page.text, "password") == WRONG
    assert client.get("/t/acme/").status_code == 302


def test_login_regenerates_the_session(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
        old_csrf = sess.get("csrf_token")
    assert old_csrf
    assert login(client, "boss@acme.example").status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != old_csrf
        assert sess.get("_user_id")


def test_logout_needs_post_and_csrf(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    login(client, "boss@acme.example")

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/t/acme/").status_code == 200  # still signed in

    out = client.post("/logout", data={"csrf_token": csrf(client, "/t/acme/")})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/t/acme/").status_code == 302
    assert len(events(app, tenant_row(app, "acme"), "auth.logout")) == 1


def test_posts_without_csrf_token_are_refused(app: Any, client: Any, factory: Any) -> None:
    acme = factory.tenant("acme", owner_email="boss@acme.example")
    assert (
        client.post("/login", data={"email": "boss@acme.example", "password": PASSWORD})
    ).status_code == 400
    assert client.get("/t/acme/").status_code == 302  # the refused post did not sign in

    assert client.post("/signup", data=SIGNUP).status_code == 400
    assert mails(app) == [] and _pending_count(app) == 0

    login(client, "boss@acme.example")
    invite = client.post(
        "/t/acme/members/invite", data={"email": "new@acme.example", "role": "member"}
    )
    assert invite.status_code == 400
    assert mails(app) == []
    assert events(app, acme, "member.invited") == []


class TestLoginRateLimit:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "RATELIMIT_LOGIN": "3 per minute"}

    def _post(self, client: Any, email: str, ip: str = "127.0.0.1") -> Any:
        token = csrf(client)
        return client.post(
            "/login",
            data={"csrf_token": token, "email": email, "password": "not-the-password-1"},
            environ_base={"REMOTE_ADDR": ip},
        )

    def test_fourth_post_is_limited(self, app: Any, client: Any, factory: Any) -> None:
        factory.tenant("acme", owner_email="boss@acme.example")
        for _ in range(3):
            assert self._post(client, "boss@acme.example").status_code == 200
        limited = self._post(client, "boss@acme.example")
        assert limited.status_code == 429
        assert "Too many attempts" in limited.text
        # The right password does not get through either while limited.
        right = client.post(
            "/login",
            data={"csrf_token": csrf(client), "email": "boss@acme.example", "password": PASSWORD},
        )
        assert right.status_code == 429
        assert client.get("/t/acme/").status_code == 302
        # Only three failures reached the view (and the audit log).
        assert len(events(app, tenant_row(app, "acme"), "auth.login_failed")) == 3

    def test_get_is_not_limited(self, app: Any, client: Any) -> None:
        for _ in range(10):
            assert client.get("/login").status_code == 200

    def test_limit_by_ip_across_addresses(self, app: Any, client: Any) -> None:
        for i in range(3):
            assert self._post(client, f"user{i}@acme.example", "10.0.0.1").status_code == 200
        assert self._post(client, "user9@acme.example", "10.0.0.1").status_code == 429
        assert self._post(client, "user9@acme.example", "10.0.0.2").status_code == 200

    def test_limit_by_email_across_ips(self, app: Any, client: Any) -> None:
        for i in range(3):
            assert self._post(client, "victim@acme.example", f"10.0.1.{i}").status_code == 200
        # A fourth address does not help an attacker guessing one account's password
        # (case and spaces do not make it another account either).
        assert self._post(client, " Victim@ACME.example", "10.0.1.9").status_code == 429
        assert self._post(client, "someone@acme.example", "10.0.1.10").status_code == 200


# =========================================================================== password reset


def _forgot(client: Any, email: str) -> Any:
    return post_form(client, "/password/forgot", {"email": email})


def _reset(client: Any, link: str, password: str, confirm: str | None = None) -> Any:
    return post_form(
        client, link, {"password": password, "confirm": password if confirm is None else confirm}
    )


def test_password_reset_full_flow(app: Any, client: Any, factory: Any) -> None:
    acme = factory.tenant("acme", owner_email="boss@acme.example")
    other = app.test_client()  # signed in elsewhere before the reset
    assert login(other, "boss@acme.example").status_code == 302
    assert _signed_in_home(other, "acme") == 200

    answer = _forgot(client, "boss@acme.example")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    mail = last_mail(app, "boss@acme.example")
    assert mail.subject == "Reset your password"
    assert mail.link.startswith("/password/reset/")

    form = client.get(mail.link)
    assert form.status_code == 200 and "Choose a new password" in form.text
    done = _reset(client, mail.link, "a-brand-new-secret")
    assert done.status_code == 302
    assert _signed_in_home(client, "acme") == 200  # signed in by the reset

    # The other session is signed out (session_version bump).
    assert _signed_in_home(other, "acme") == 302
    # The old password fails, the new one works.
    fresh = app.test_client()
    assert field_error(login(fresh, "boss@acme.example").text, "password") == WRONG
    assert login(fresh, "boss@acme.example", "a-brand-new-secret").status_code == 302
    assert len(events(app, acme, "auth.password_reset")) == 1


def test_password_reset_ends_remembered_sessions(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    laptop = app.test_client()
    laptop.post(
        "/login",
        data={
            "csrf_token": csrf(laptop),
            "email": "boss@acme.example",
            "password": PASSWORD,
            "remember": "y",
        },
    )
    assert laptop.get_cookie("remember_token") is not None
    laptop.delete_cookie("session")  # the browser was closed: only "keep me signed in" is left
    assert _signed_in_home(laptop, "acme") == 200

    _forgot(client, "boss@acme.example")
    link = last_mail(app, "boss@acme.example").link
    assert _reset(client, link, "a-brand-new-secret").status_code == 302

    laptop.delete_cookie("session")
    assert _signed_in_home(laptop, "acme") == 302


def test_password_reset_unknown_email_same_answer_no_mail(
    app: Any, client: Any, factory: Any
) -> None:
    factory.user("known@acme.example")
    known = _forgot(client, "known@acme.example")
    unknown = _forgot(app.test_client(), "ghost@acme.example")
    assert known.status_code == unknown.status_code == 200
    assert without_tokens(known.text).replace("known@", "X@") == without_tokens(
        unknown.text
    ).replace("ghost@", "X@")
    assert mails(app, "ghost@acme.example") == []
    assert len(mails(app, "known@acme.example")) == 1


def test_password_reset_link_works_once(app: Any, client: Any, factory: Any) -> None:
    factory.user("known@acme.example")
    _forgot(client, "known@acme.example")
    link = last_mail(app, "known@acme.example").link
    assert _reset(client, link, "a-brand-new-secret").status_code == 302

    other = app.test_client()
    again = other.get(link)
    assert again.status_code == 400 and "already used" in again.text
    post = _reset_with_token_from_login(other, link, "yet-another-secret-9")
    assert post.status_code == 400
    assert login(app.test_client(), "known@acme.example", "yet-another-secret-9").status_code == 200


def _reset_with_token_from_login(client: Any, link: str, password: str) -> Any:
    data = {"csrf_token": csrf(client), "password": password, "confirm": password}
    return client.post(link, data=data)


def test_password_reset_link_dies_when_password_changes_otherwise(
    app: Any, client: Any, factory: Any
) -> None:
    factory.user("known@acme.example")
    _forgot(client, "known@acme.example")
    _forgot(client, "known@acme.example")
    first, second = (m.link for m in mails(app, "known@acme.example"))
    assert _reset(client, second, "a-brand-new-secret").status_code == 302
    assert app.test_client().get(first).status_code == 400


def test_password_reset_expired_link(app: Any, client: Any, factory: Any, monkeypatch: Any) -> None:
    factory.user("known@acme.example")
    with signed_in_the_past(monkeypatch, app.config["TOKEN_MAX_AGE_RESET"] + 60):
        _forgot(client, "known@acme.example")
    link = last_mail(app, "known@acme.example").link
    page = client.get(link)
    assert page.status_code == 400 and "expired" in page.text
    assert _reset_with_token_from_login(client, link, "a-brand-new-secret").status_code == 400
    assert login(app.test_client(), "known@acme.example").status_code == 302  # unchanged


def test_password_reset_tampered_link(app: Any, client: Any, factory: Any) -> None:
    factory.user("known@acme.example")
    _forgot(client, "known@acme.example")
    token = token_of(last_mail(app, "known@acme.example").link)
    page = client.get(f"/password/reset/{tamper(token)}")
    assert page.status_code == 400 and "not valid" in page.text
    # A sign-up token is no reset token.
    signup_token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="crm-signup").dumps(
        URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="crm-reset").loads(token)
    )
    assert client.get(f"/password/reset/{signup_token}").status_code == 400
    assert (
        _reset_with_token_from_login(client, f"/password/reset/{tamper(token)}", "a-new-secret-1")
    ).status_code == 400
    assert login(app.test_client(), "known@acme.example").status_code == 302


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", None, "at least 10 characters"),
        ("password123", None, "too common"),
        ("known@acme.example", None, "e-mail address or name"),
        ("a-brand-new-secret", "a-different-secret", "passwords differ"),
    ],
)
def test_password_reset_weak_password_is_a_form_error(
    app: Any, client: Any, factory: Any, password: str, confirm: str | None, message: str
) -> None:
    factory.user("known@acme.example")
    _forgot(client, "known@acme.example")
    link = last_mail(app, "known@acme.example").link
    page = _reset(client, link, password, confirm)
    assert page.status_code == 200
    shown = (field_error(page.text, "password") or "") + (field_error(page.text, "confirm") or "")
    assert message in shown
    # Nothing changed: the old password still works and the link still does too.
    assert login(app.test_client(), "known@acme.example").status_code == 302
    assert client.get(link).status_code == 200


# =========================================================================== workspaces


def test_workspaces_list_and_open_both(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example", name="Acme Works")
    beta = factory.tenant("beta", owner_email="other@beta.example", name="Beta Labs")
    factory.member(beta, "boss@acme.example", "readonly")
    factory.tenant("gamma", owner_email="g@gamma.example", name="Gamma Hidden")
    login(client, "boss@acme.example")

    page = client.get("/workspaces")
    assert page.status_code == 200
    assert "Acme Works" in page.text and "Beta Labs" in page.text
    assert "/t/acme/" in page.text and "/t/beta/" in page.text
    assert "Gamma Hidden" not in page.text and "/t/gamma/" not in page.text
    assert client.get("/t/acme/").status_code == 200
    assert client.get("/t/beta/").status_code == 200
    assert client.get("/t/gamma/").status_code == 404
    # With several workspaces, "/" goes to the one used last.
    assert client.get("/").headers["Location"] == "/t/beta/"


def test_workspaces_needs_sign_in(app: Any, client: Any) -> None:
    response = client.get("/workspaces")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_workspaces_create(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    factory.tenant("taken", owner_email="x@taken.example")
    login(client, "boss@acme.example")

    dup = post_form(
        client, "/workspaces", {"company_name": "Again", "slug": "taken", "industry": "generic"}
    )
    assert dup.status_code == 200
    assert "already taken" in (field_error(dup.text, "slug") or "")
    reserved = post_form(
        client, "/workspaces", {"company_name": "Again", "slug": "login", "industry": "generic"}
    )
    assert "reserved" in (field_error(reserved.text, "slug") or "")
    assert tenant_count(app) == 2

    ok = post_form(
        client,
        "/workspaces",
        {"company_name": "Second Shop", "slug": "second-shop", "industry": "telecom"},
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/t/second-shop/"
    tenant = tenant_row(app, "second-shop")
    assert tenant is not None and tenant.industry == "telecom"
    assert roles(app, tenant) == {"boss@acme.example": "owner"}
    assert client.get("/t/second-shop/").status_code == 200
    assert [e.action for e in events(app, tenant)] == ["tenant.created"]


def test_index_sends_signed_out_visitors_to_login(app: Any, client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_signed_out_tenant_redirect_keeps_query(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="boss@acme.example")
    response = client.get("/t/acme/accounts?after=x")
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/t/acme/accounts?after=x"]
