"""Portal users are their own principal: invitation, sign-in and out, wrong passwords,
disabled users, self sign-up, password reset, the portal's own cookie and CSRF, rate limits
and audit rows; the portal session opens nothing of the staff side and the staff session
nothing of the portal."""

from __future__ import annotations

import re
from typing import Any

from conftest import csrf_token_from, in_tenant
from helpers_web import events, last_mail, mails, signed_in_the_past, tamper, token_of
from sqlalchemy import select

from plugins.portal.models import PortalUser

from .helpers import (
    PORTAL_PASSWORD,
    accept,
    invite,
    owner_client,
    portal_client,
    post,
    shows_sign_in,
    sign_in,
)


def _user(app: Any, tenant: Any, email: str) -> PortalUser:
    with in_tenant(app, tenant) as session:
        row = session.scalars(select(PortalUser).where(PortalUser.email == email)).one()
        session.expunge(row)
        return row


def _cookie(client: Any, path: str = "/t/shop/portal") -> Any:
    return client.get_cookie("crm_portal", path=path)


def test_invite_accept_sign_in_and_panel(app: Any, shop: Any, alice: Any) -> None:
    staff = owner_client(app, shop)
    page = staff.get(f"/t/shop/contacts/{alice.contact_id}").text
    assert "Invite to portal" in page
    link = invite(app, alice)
    assert link.startswith("/t/shop/portal/invite/")
    mail = last_mail(app, alice.email)
    assert "invites you to its customer portal" in mail.body
    assert _user(app, shop, alice.email).status == "invited"

    client = app.test_client()
    form = client.get(link)
    assert form.status_code == 200 and "alice@alpha.example" in form.text
    weak = post(client, link, {"password": "short", "confirm": "short"})
    assert weak.status_code == 400 and "at least" in weak.text
    differ = post(client, link, {"password": PORTAL_PASSWORD, "confirm": PORTAL_PASSWORD + "x"})
    assert differ.status_code == 400 and "differ" in differ.text
    done = post(client, link, {"password": PORTAL_PASSWORD, "confirm": PORTAL_PASSWORD})
    assert done.status_code == 303 and done.location.endswith("/t/shop/portal/")
    home = client.get("/t/shop/portal/")
    assert home.status_code == 200 and "Welcome, Alice" in home.text
    assert _user(app, shop, alice.email).status == "active"

    again = app.test_client().get(link)  # single use
    assert again.status_code == 400 and "already used" in again.text
    panel = staff.get(f"/t/shop/contacts/{alice.contact_id}").text
    assert re.search(r'id="portal-status">active<', panel)
    assert "Invite to portal" not in panel
    assert [e.action for e in events(app, shop, "portal.invite_completed")]


def test_tampered_expired_and_replaced_invitations(
    app: Any, shop: Any, alice: Any, monkeypatch: Any
) -> None:
    link = invite(app, alice)
    token = token_of(link)
    bad = app.test_client().get(link.replace(token, tamper(token)))
    assert bad.status_code == 400 and "not valid" in bad.text
    with signed_in_the_past(monkeypatch, 8 * 86400):
        old = invite(app, alice)
    expired = app.test_client().get(old)
    assert expired.status_code == 400 and "expired" in expired.text
    newer = invite(app, alice)
    assert app.test_client().get(link).status_code == 400  # replaced by the newer one
    accept(app, newer)
    # another workspace's portal does not take the token
    assert app.test_client().get(newer.replace("/t/shop/", "/t/rival/")).status_code == 404


def test_invitation_needs_an_address(app: Any, shop: Any) -> None:
    from crm_platform.records.service import create_record

    with in_tenant(app, shop) as session:
        contact = create_record("contact", {"first_name": "Nomail"})
        session.commit()
        cid = str(contact.id)
    staff = owner_client(app, shop)
    token = csrf_token_from(staff.get(f"/t/shop/contacts/{cid}").text)
    response = staff.post(f"/t/shop/portal-settings/invite/{cid}", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Add an e-mail address" in staff.get(response.location).text
    assert mails(app) == [] or all("invite" not in m.subject for m in mails(app))


def test_sign_in_wrong_password_sign_out(app: Any, shop: Any, alice: Any) -> None:
    accept(app, invite(app, alice))
    client = app.test_client()
    assert shows_sign_in(client.get("/t/shop/portal/"))
    wrong = sign_in(client, "shop", alice.email, "not-the-password")
    assert wrong.status_code == 401 and "Wrong e-mail address or password" in wrong.text
    unknown = sign_in(client, "shop", "nobody@nowhere.example")
    assert unknown.status_code == 401
    before = _cookie(client).value
    ok = sign_in(client, "shop", alice.email.upper())
    assert ok.status_code == 303
    after = _cookie(client)
    assert after.value != before  # rotated at sign-in
    assert after.http_only and after.path == "/t/shop/portal"
    assert client.get("/t/shop/portal/").status_code == 200
    assert _user(app, shop, alice.email).last_login_at is not None
    actions = [e.action for e in events(app, shop)]
    assert "portal.sign_in" in actions and "portal.sign_in_failed" in actions
    out = post(client, "/t/shop/portal/sign-out", page="/t/shop/portal/")
    assert out.status_code == 303
    assert shows_sign_in(client.get("/t/shop/portal/"))


def test_every_form_needs_the_portal_csrf_token(app: Any, shop: Any, alice: Any) -> None:
    client = portal_client(app, alice)
    assert client.post("/t/shop/portal/tickets/new", data={"subject": "x"}).status_code == 400
    other = app.test_client()  # a token of another session is refused too
    foreign = csrf_token_from(other.get("/t/shop/portal/sign-in").text)
    data = {"csrf_token": foreign, "subject": "x", "description": "y"}
    assert client.post("/t/shop/portal/tickets/new", data=data).status_code == 400
    signin = app.test_client().post(
        "/t/shop/portal/sign-in", data={"email": alice.email, "password": PORTAL_PASSWORD}
    )
    assert signin.status_code == 400


def test_disabled_user_is_signed_out_and_refused(app: Any, shop: Any, alice: Any) -> None:
    client = portal_client(app, alice)
    assert client.get("/t/shop/portal/").status_code == 200
    staff = owner_client(app, shop)
    user_id = _user(app, shop, alice.email).id
    token = csrf_token_from(staff.get("/t/shop/portal-settings/").text)
    url = f"/t/shop/portal-settings/users/{user_id}/disable"
    assert staff.post(url, data={"csrf_token": token}).status_code == 303
    assert shows_sign_in(client.get("/t/shop/portal/"))  # the session died
    assert sign_in(app.test_client(), "shop", alice.email).status_code == 401
    url = f"/t/shop/portal-settings/users/{user_id}/enable"
    assert staff.post(url, data={"csrf_token": token}).status_code == 303
    assert sign_in(app.test_client(), "shop", alice.email).status_code == 303


def test_sign_in_is_rate_limited(app: Any, shop: Any, alice: Any) -> None:
    accept(app, invite(app, alice))
    client = app.test_client()
    codes = [sign_in(client, "shop", alice.email, "wrong-password").status_code for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    assert sign_in(client, "shop", alice.email).status_code == 429  # even the right one, now


def test_portal_session_opens_nothing_of_the_staff_side(app: Any, shop: Any, alice: Any) -> None:
    client = portal_client(app, alice)
    value = _cookie(client).value
    # The browser does not even send it outside /t/shop/portal; sent by hand, it is ignored.
    intruder = app.test_client()
    headers = {"Cookie": f"crm_portal={value}"}
    for url in ("/t/shop/", f"/t/shop/contacts/{alice.contact_id}", "/t/shop/portal-settings/"):
        response = intruder.get(url, headers=headers)
        assert response.status_code == 302 and response.location.startswith("/login"), url
    api = intruder.get("/api/v1/contacts", headers={**headers, "Authorization": f"Bearer {value}"})
    assert api.status_code == 401
    assert client.get("/t/shop/").location.startswith("/login")


def test_staff_session_opens_nothing_of_the_portal(app: Any, shop: Any, alice: Any) -> None:
    accept(app, invite(app, alice))
    staff = owner_client(app, shop)
    assert shows_sign_in(staff.get("/t/shop/portal/"))
    assert shows_sign_in(staff.get("/t/shop/portal/tickets"))
    assert staff.get("/t/shop/portal/tickets/new").text.count("Welcome") == 0


def test_self_sign_up(app: Any, shop: Any, alice: Any) -> None:
    client = app.test_client()
    assert client.get("/t/shop/portal/sign-up").status_code == 404  # off by default
    staff = owner_client(app, shop)
    saved = post(staff, "/t/shop/portal-settings/", {"colour": "#112233", "allow_signup": "1"})
    assert saved.status_code == 303
    assert "First time here?" in client.get("/t/shop/portal/sign-in").text
    unknown = post(client, "/t/shop/portal/sign-up", {"email": "stranger@else.example"})
    assert unknown.status_code == 200 and "If we know this address" in unknown.text
    assert mails(app, "stranger@else.example") == []
    known = post(client, "/t/shop/portal/sign-up", {"email": "ALICE@alpha.example"})
    assert known.status_code == 200 and known.text.count("If we know this address") == 1
    link = last_mail(app, alice.email).link
    assert link.startswith("/t/shop/portal/confirm/")
    accept(app, link)
    assert _user(app, shop, alice.email).status == "active"


def test_password_reset(app: Any, shop: Any, alice: Any) -> None:
    old_session = portal_client(app, alice)
    client = app.test_client()
    sent = post(client, "/t/shop/portal/forgot", {"email": alice.email})
    assert sent.status_code == 200
    link = last_mail(app, alice.email).link
    assert link.startswith("/t/shop/portal/reset/")
    new_password = "another-Secret-77"
    accept(app, link, new_password)
    assert shows_sign_in(old_session.get("/t/shop/portal/"))  # other sessions end
    assert sign_in(app.test_client(), "shop", alice.email).status_code == 401
    assert sign_in(app.test_client(), "shop", alice.email, new_password).status_code == 303
    assert app.test_client().get(link).status_code == 400


def test_read_only_workspace_still_lets_customers_sign_in_and_read(
    app: Any, shop: Any, alice: Any
) -> None:
    from datetime import timedelta

    from billing.entitlements import live_subscription
    from crm_platform.extensions import db
    from crm_platform.tenancy import utcnow

    accept(app, invite(app, alice))
    with app.app_context():
        sub = live_subscription(shop.id)
        sub.trial_ends_at = utcnow() - timedelta(minutes=1)  # the trial ended: read-only
        db.session.commit()
    client = app.test_client()
    assert sign_in(client, "shop", alice.email).status_code == 303
    assert client.get("/t/shop/portal/orders").status_code == 200
    refused = post(client, "/t/shop/portal/tickets/new", {"subject": "x", "description": "y"})
    assert refused.status_code == 403
    out = post(client, "/t/shop/portal/sign-out", page="/t/shop/portal/")
    assert out.status_code == 303
