"""Two-factor sign-in (TOTP): enrolment, the second sign-in step, replay, recovery codes,
rate limits, turning it off, and the requirements of staff and of a workspace."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from conftest import PASSWORD, login
from helpers_web import csrf, events, field_error, last_mail, post_form, tenant_row
from sqlalchemy import select

from crm_platform import two_factor
from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.provisioning import find_user
from crm_platform.sealing import unseal
from crm_platform.two_factor import RecoveryCode, UserTwoFactor

BOSS = "boss@acme.example"
WRONG_CODE = "That code is not valid."
T0 = 1_900_000_000.0  # a fixed clock: the start of a 30-second step


@pytest.fixture
def clock(monkeypatch: Any) -> dict[str, float]:
    """The clock the TOTP checks read; move it with ``clock["t"] += 30``."""
    state = {"t": T0}
    monkeypatch.setattr(two_factor, "now", lambda: state["t"])
    return state


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    return factory.tenant("acme", owner_email=BOSS)


def step(clock: dict[str, float], offset: int = 0) -> int:
    return int(clock["t"] // 30) + offset


def enable(client: Any, clock: dict[str, float]) -> tuple[str, list[str]]:
    """Turn two-factor on for the signed-in user; returns the secret and recovery codes."""
    page = client.get("/profile/two-factor")
    assert page.status_code == 200, page.status_code
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    done = post_form(
        client, "/profile/two-factor", {"code": two_factor.code_for(secret, step(clock))}
    )
    assert done.status_code == 200, done.text
    codes = [html.unescape(c) for c in re.findall(r"<li><code>([^<]+)</code></li>", done.text)]
    assert len(codes) == 10
    return secret, codes


def second_step(client: Any, code: str) -> Any:
    return post_form(client, "/login/two-factor", {"code": code})


def two_factor_row(app: Any, email: str) -> UserTwoFactor | None:
    with app.app_context():
        row = db.session.get(UserTwoFactor, find_user(email).id)
        if row is not None:
            db.session.expunge(row)
        return row


# =========================================================================== enrolment


def test_security_page_is_in_the_users_own_menu(app: Any, client: Any, acme: Any) -> None:
    login(client, BOSS)
    home = client.get("/t/acme/").text
    assert 'href="/profile/security"' in home
    page = client.get("/profile/security")
    assert page.status_code == 200 and 'href="/profile/two-factor"' in page.text
    assert "Off: signing in needs only your password." in page.text


def test_enrolment_shows_qr_and_secret_and_stores_it_sealed(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    page = client.get("/profile/two-factor")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script>" not in page.text  # no inline script
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    assert len(secret) == 32  # 160 bits
    # Reloading shows the same secret (the app may already have scanned it).
    assert secret in client.get("/profile/two-factor").text
    row = two_factor_row(app, BOSS)
    assert row is not None and not row.enabled
    assert row.secret_sealed.startswith("sealed:") and secret not in row.secret_sealed
    with app.app_context():
        assert unseal(row.secret_sealed, purpose="totp") == secret
        assert unseal(row.secret_sealed, purpose="calendar") is None
    # Not on yet: signing in needs only the password.
    assert login(app.test_client(), BOSS).headers["Location"] == "/"


def test_enrolment_refuses_a_wrong_code(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    page = client.get("/profile/two-factor")
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    for code in ("000000", two_factor.code_for(secret, step(clock, 3)), "abc"):
        answer = post_form(client, "/profile/two-factor", {"code": code})
        assert answer.status_code == 400
        assert WRONG_CODE in field_error(answer.text, "code")
    assert post_form(client, "/profile/two-factor", {"code": ""}).status_code == 400
    assert not two_factor_row(app, BOSS).enabled


def test_enrolment_turns_it_on_with_recovery_codes_stored_hashed(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    other = app.test_client()
    login(other, BOSS)
    _secret, codes = enable(client, clock)
    assert len(set(codes)) == 10
    assert client.get("/t/acme/").status_code == 200  # this session stays signed in
    assert other.get("/t/acme/").status_code == 302  # the others are signed out
    with app.app_context():
        rows = db.session.scalars(select(RecoveryCode)).all()
        assert len(rows) == 10
        stored = " ".join(r.code_hash for r in rows)
        assert not any(code in stored or code.replace("-", "") in stored for code in codes)
    page = client.get("/profile/security").text
    assert "On: signing in asks for a code" in page and "Unused recovery codes: 10" in page
    assert not any(code in page for code in codes)  # shown once only
    assert len(events(app, tenant_row(app, "acme"), "auth.2fa_enabled")) == 1


# =========================================================================== sign-in


def test_sign_in_asks_for_the_code_after_the_password(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    secret, _codes = enable(client, clock)

    browser = app.test_client()
    first = browser.post(
        "/login?next=/t/acme/contacts",
        data={"csrf_token": csrf(browser), "email": BOSS, "password": PASSWORD},
    )
    assert first.status_code == 302 and first.headers["Location"] == "/login/two-factor"
    page = browser.get("/login/two-factor")
    assert page.status_code == 200 and 'name="code"' in page.text

    wrong = second_step(browser, "123456")
    assert wrong.status_code == 400
    assert WRONG_CODE in field_error(wrong.text, "code")
    assert len(events(app, tenant_row(app, "acme"), "auth.2fa_failed")) == 1

    done = second_step(browser, two_factor.code_for(secret, step(clock, 1)))
    assert done.status_code == 302 and done.headers["Location"] == "/t/acme/contacts"
    assert browser.get("/t/acme/").status_code == 200
    logins = events(app, tenant_row(app, "acme"), "auth.login")
    assert logins[-1].details == {"second_factor": "totp"}


def test_wrong_password_never_reaches_the_second_step(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    enable(client, clock)
    browser = app.test_client()
    answer = login(browser, BOSS, "not-the-password-1")
    assert answer.status_code == 200
    assert browser.get("/login/two-factor").headers["Location"] == "/login"


def test_half_signed_in_grants_nothing(
    app: Any, client: Any, acme: Any, clock: dict[str, float], factory: Any
) -> None:
    login(client, BOSS)
    enable(client, clock)
    from crm_platform.provider.staff import grant_staff

    with app.app_context():
        grant_staff(find_user(BOSS), "admin", actor="tests")
        db.session.commit()

    browser = app.test_client()
    assert login(browser, BOSS).headers["Location"] == "/login/two-factor"
    with browser.session_transaction() as sess:
        assert "_user_id" not in sess and "crm_auth_at" not in sess
    for url in ("/t/acme/", "/t/acme/settings/api-keys", "/profile/security", "/workspaces"):
        answer = browser.get(url)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), url
    assert browser.get("/provider/").status_code == 404
    assert browser.get("/reauth").status_code == 302
    # The second step is still waiting.
    assert browser.get("/login/two-factor").status_code == 200


def test_second_step_cannot_be_reached_without_the_password(
    app: Any, client: Any, acme: Any
) -> None:
    answer = client.get("/login/two-factor")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    posted = client.post("/login/two-factor", data={"csrf_token": csrf(client), "code": "123456"})
    assert posted.status_code == 302 and posted.headers["Location"] == "/login"
    assert client.get("/t/acme/").status_code == 302


def test_second_step_expires(app: Any, client: Any, acme: Any, clock: dict[str, float]) -> None:
    login(client, BOSS)
    secret, _codes = enable(client, clock)
    browser = app.test_client()
    login(browser, BOSS)
    with browser.session_transaction() as sess:
        sess["crm_2fa_pending"] = {**sess["crm_2fa_pending"], "at": 1}
    code = two_factor.code_for(secret, step(clock, 1))
    answer = browser.post("/login/two-factor", data={"csrf_token": csrf(browser), "code": code})
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert browser.get("/t/acme/").status_code == 302


def test_a_used_code_cannot_be_replayed(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    secret, _codes = enable(client, clock)  # used the code of step 0
    # The enrolment code itself cannot sign in.
    browser = app.test_client()
    login(browser, BOSS)
    assert second_step(browser, two_factor.code_for(secret, step(clock))).status_code == 400

    code = two_factor.code_for(secret, step(clock, 1))
    assert second_step(browser, code).status_code == 302
    thief = app.test_client()
    login(thief, BOSS)
    assert second_step(thief, code).status_code == 400  # same code, same window: refused
    clock["t"] += 30
    # An older code stays refused once a newer one was used.
    assert second_step(thief, two_factor.code_for(secret, step(clock, -2))).status_code == 400
    assert second_step(thief, two_factor.code_for(secret, step(clock, 1))).status_code == 302


def test_codes_outside_one_step_of_drift_are_refused(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    secret, _codes = enable(client, clock)
    clock["t"] += 300
    browser = app.test_client()
    login(browser, BOSS)
    assert second_step(browser, two_factor.code_for(secret, step(clock, 2))).status_code == 400
    assert second_step(browser, two_factor.code_for(secret, step(clock, -2))).status_code == 400
    assert second_step(browser, two_factor.code_for(secret, step(clock, -1))).status_code == 302


def test_a_recovery_code_works_once(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    _secret, codes = enable(client, clock)
    browser = app.test_client()
    login(browser, BOSS)
    done = second_step(browser, codes[3].upper().replace("-", " "))  # typed loosely
    assert done.status_code == 302
    landing = browser.get(done.headers["Location"], follow_redirects=True)
    assert "You used a recovery code; 9 are left." in landing.text
    assert browser.get("/t/acme/").status_code == 200
    logins = events(app, tenant_row(app, "acme"), "auth.login")
    assert logins[-1].details == {"second_factor": "recovery"}

    again = app.test_client()
    login(again, BOSS)
    assert second_step(again, codes[3]).status_code == 400
    assert second_step(again, codes[4]).status_code == 302
    assert "Unused recovery codes: 8" in again.get("/profile/security").text


def test_recovery_codes_can_be_renewed(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    _secret, old = enable(client, clock)
    page = post_form(client, "/profile/two-factor/recovery-codes", page="/profile/security")
    assert page.status_code == 200
    new = re.findall(r"<li><code>([^<]+)</code></li>", page.text)
    assert len(new) == 10 and not set(new) & set(old)
    browser = app.test_client()
    login(browser, BOSS)
    assert second_step(browser, old[0]).status_code == 400
    assert second_step(browser, new[0]).status_code == 302


class TestSecondStepRateLimit:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "RATELIMIT_2FA": "3 per minute"}

    def test_fourth_attempt_is_limited_even_with_the_right_code(
        self, app: Any, client: Any, acme: Any, clock: dict[str, float]
    ) -> None:
        login(client, BOSS)
        secret, _codes = enable(client, clock)
        browser = app.test_client()
        login(browser, BOSS)
        for _ in range(3):
            assert second_step(browser, "000000").status_code == 400
        limited = second_step(browser, two_factor.code_for(secret, step(clock, 1)))
        assert limited.status_code == 429
        assert browser.get("/t/acme/").status_code == 302
        # A new password step from another address does not reset the count for this user.
        other = app.test_client()
        login(other, BOSS)
        answer = other.post(
            "/login/two-factor",
            data={"csrf_token": csrf(other), "code": "000000"},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
        assert answer.status_code == 429


# =========================================================================== turning it off


def test_turning_off_needs_password_and_code(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    secret, _codes = enable(client, clock)
    url = "/profile/two-factor/disable"
    page = "/profile/security"
    code = two_factor.code_for(secret, step(clock, 1))
    bad_password = post_form(
        client, url, {"disable-password": "wrong-password-1", "disable-code": code}, page=page
    )
    assert bad_password.status_code == 400
    assert field_error(bad_password.text, "disable-password") == "Wrong password."
    bad_code = post_form(
        client, url, {"disable-password": PASSWORD, "disable-code": "000000"}, page=page
    )
    assert bad_code.status_code == 400 and WRONG_CODE in field_error(bad_code.text, "disable-code")
    assert two_factor_row(app, BOSS).enabled

    done = post_form(
        client,
        url,
        {"disable-password": PASSWORD, "disable-code": two_factor.code_for(secret, step(clock, 1))},
        page=page,
    )
    assert done.status_code == 303
    assert two_factor_row(app, BOSS) is None
    with app.app_context():
        assert db.session.scalars(select(RecoveryCode)).all() == []
    assert login(app.test_client(), BOSS).headers["Location"] == "/"
    assert len(events(app, tenant_row(app, "acme"), "auth.2fa_disabled")) == 1


def test_password_reset_link_does_not_skip_the_second_factor(
    app: Any, client: Any, acme: Any, clock: dict[str, float]
) -> None:
    login(client, BOSS)
    enable(client, clock)
    browser = app.test_client()
    post_form(browser, "/password/forgot", {"email": BOSS})
    link = last_mail(app, BOSS).link
    done = post_form(
        browser, link, {"password": "a-brand-new-secret", "confirm": "a-brand-new-secret"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert browser.get("/t/acme/").status_code == 302
    assert login(browser, BOSS, "a-brand-new-secret").headers["Location"] == "/login/two-factor"


# =========================================================================== staff, workspace


def _grant(app: Any, email: str, role: str = "admin") -> None:
    from crm_platform.provider.staff import grant_staff

    with app.app_context():
        grant_staff(find_user(email), role, actor="tests")
        db.session.commit()


def test_provider_staff_sign_in_with_two_factor(
    app: Any, client: Any, factory: Any, clock: dict[str, float]
) -> None:
    factory.user("ops@provider.example", "Ops")
    _grant(app, "ops@provider.example")
    login(client, "ops@provider.example")
    secret, _codes = enable(client, clock)
    console = app.test_client()
    assert login(console, "ops@provider.example").headers["Location"] == "/login/two-factor"
    assert console.get("/provider/").status_code == 404  # not staff until the second step
    assert second_step(console, two_factor.code_for(secret, step(clock, 1))).status_code == 302
    assert console.get("/provider/").status_code == 200


class TestStaffRequirement:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "STAFF_REQUIRE_2FA": True}

    def test_staff_without_two_factor_are_sent_to_enrolment(
        self, app: Any, client: Any, factory: Any, acme: Any, clock: dict[str, float]
    ) -> None:
        factory.user("ops@provider.example", "Ops")
        _grant(app, "ops@provider.example")
        login(client, "ops@provider.example")
        answer = client.get("/provider/")
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/profile/two-factor?required=staff"
        assert "Platform staff must use two-factor" in client.get(answer.headers["Location"]).text
        # Staff actions are refused too, before they run.
        tenant_id = acme.id
        post = post_form(
            client,
            f"/provider/tenants/{tenant_id}/suspend",
            {"status-reason": "x"},
            page="/profile/security",
        )
        assert post.status_code == 302
        with app.app_context():
            assert db.session.get(Tenant, tenant_id).status == "active"
        enable(client, clock)
        assert client.get("/provider/").status_code == 200
        # Tenant members who are not staff are not concerned.
        member = app.test_client()
        login(member, BOSS)
        assert member.get("/t/acme/").status_code == 200


def test_workspace_can_require_two_factor_for_every_member(
    app: Any, client: Any, acme: Any, factory: Any, clock: dict[str, float]
) -> None:
    factory.member(acme, "rep@acme.example", "member")
    login(client, BOSS)
    # The owner cannot require it before turning it on for themselves.
    refused = post_form(
        client,
        "/t/acme/settings",
        {
            "name": "Acme",
            "industry": "generic",
            "locale": "en",
            "timezone": "UTC",
            "require_2fa": "y",
        },
    )
    assert refused.status_code == 400
    enable(client, clock)
    saved = post_form(
        client,
        "/t/acme/settings",
        {
            "name": "Acme",
            "industry": "generic",
            "locale": "en",
            "timezone": "UTC",
            "require_2fa": "y",
        },
    )
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Tenant, acme.id).settings.get("require_2fa") is True
    assert client.get("/t/acme/").status_code == 200

    rep = app.test_client()
    assert login(rep, "rep@acme.example").status_code == 302
    answer = rep.get("/t/acme/contacts")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/profile/two-factor?required=workspace"
    assert (
        "requires two-factor sign-in for every member" in rep.get(answer.headers["Location"]).text
    )
    assert rep.get("/workspaces").status_code == 200  # pages outside the workspace still open
    clock["t"] += 60
    enable(rep, clock)
    assert rep.get("/t/acme/contacts").status_code == 200
