"""Members, roles, invitations and workspace settings of one tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import PASSWORD, in_tenant, login
from helpers_web import (
    csrf,
    events,
    field_error,
    flashes,
    hrefs,
    last_mail,
    mails,
    membership_id,
    post_form,
    roles,
    tenant_row,
    token_of,
    user_exists,
)
from sqlalchemy import select

from crm_platform.identity import Invitation
from crm_platform.tenancy import utcnow

OWNER = "owner@acme.example"
ADMIN = "admin@acme.example"
MEMBER = "member@acme.example"
READONLY = "readonly@acme.example"
NEWBIE = "newbie@elsewhere.example"


@pytest.fixture
def acme(factory: Any) -> Any:
    tenant = factory.tenant("acme", owner_email=OWNER, name="Acme Works")
    factory.member(tenant, ADMIN, "admin")
    factory.member(tenant, MEMBER, "member")
    factory.member(tenant, READONLY, "readonly")
    return tenant


@pytest.fixture
def bravo(factory: Any) -> Any:
    tenant = factory.tenant("bravo", owner_email="owner@bravo.example", name="Bravo Hidden")
    factory.member(tenant, "member@bravo.example", "member")
    return tenant


def signed_in(app: Any, email: str) -> Any:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def invite(client: Any, email: str, role: str = "member", slug: str = "acme") -> Any:
    return post_form(
        client,
        f"/t/{slug}/members/invite",
        {"email": email, "role": role},
        page=f"/t/{slug}/members",
    )


def change_role(client: Any, member_id: str, role: str, slug: str = "acme") -> Any:
    return post_form(
        client, f"/t/{slug}/members/{member_id}/role", {"role": role}, page=f"/t/{slug}/"
    )


def remove(client: Any, member_id: str, slug: str = "acme") -> Any:
    return post_form(client, f"/t/{slug}/members/{member_id}/remove", page=f"/t/{slug}/")


def invitation_link(app: Any, email: str) -> str:
    link = last_mail(app, email).link
    assert link.startswith("/t/")
    return link


def invitations(app: Any, tenant: Any) -> list[tuple[str, str, str]]:
    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(Invitation).order_by(Invitation.created_at))
        return [(i.email, i.role, i.status) for i in rows]


# =========================================================================== permissions


def test_readonly_is_refused_management_pages(app: Any, acme: Any) -> None:
    client = signed_in(app, READONLY)
    assert client.get("/t/acme/").status_code == 200
    assert client.get("/t/acme/accounts").status_code == 200
    for path in ("/t/acme/settings", "/t/acme/audit", "/t/acme/members"):
        assert client.get(path).status_code == 403, path
    token = csrf(client, "/t/acme/")
    assert (
        client.post("/t/acme/members/invite", data={"csrf_token": token, "email": NEWBIE})
    ).status_code == 403
    settings = client.post(
        "/t/acme/settings",
        data={
            "csrf_token": token,
            "name": "Hijacked",
            "industry": "generic",
            "locale": "en",
            "timezone": "UTC",
        },
    )
    assert settings.status_code == 403
    assert tenant_row(app, "acme").name == "Acme Works"
    assert mails(app, NEWBIE) == []


def test_member_reads_members_but_cannot_manage(app: Any, acme: Any) -> None:
    client = signed_in(app, MEMBER)
    page = client.get("/t/acme/members")
    assert page.status_code == 200
    for email in (OWNER, ADMIN, MEMBER, READONLY):
        assert email in page.text
    assert "Invite someone" not in page.text
    assert "/members/invite" not in page.text and "/role" not in page.text
    assert "/remove" not in page.text
    # Nav shows Members, not Settings or Audit log.
    assert 'href="/t/acme/members"' in page.text
    assert 'href="/t/acme/settings"' not in page.text
    assert 'href="/t/acme/audit"' not in page.text

    assert invite(client, NEWBIE).status_code == 403
    readonly_id = membership_id(app, acme, READONLY)
    assert change_role(client, readonly_id, "admin").status_code == 403
    assert remove(client, readonly_id).status_code == 403
    assert client.get("/t/acme/settings").status_code == 403
    assert client.get("/t/acme/audit").status_code == 403
    assert roles(app, acme)[READONLY] == "readonly"
    assert mails(app, NEWBIE) == []


def test_manager_cannot_manage_members(app: Any, acme: Any, factory: Any) -> None:
    factory.member(acme, "manager@acme.example", "manager")
    client = signed_in(app, "manager@acme.example")
    assert client.get("/t/acme/members").status_code == 200
    assert invite(client, NEWBIE).status_code == 403
    assert client.get("/t/acme/settings").status_code == 403


# =========================================================================== invitations


def test_admin_invites_and_new_user_accepts(app: Any, acme: Any) -> None:
    admin = signed_in(app, ADMIN)
    page = admin.get("/t/acme/members")
    assert "Invite someone" in page.text
    sent = invite(admin, NEWBIE, "manager")
    assert sent.status_code == 302 and sent.headers["Location"] == "/t/acme/members"
    assert f"Invitation sent to {NEWBIE}." in admin.get("/t/acme/members").text
    assert invitations(app, acme) == [(NEWBIE, "manager", "pending")]
    invited = events(app, acme, "member.invited")
    assert len(invited) == 1
    assert invited[0].target == NEWBIE and invited[0].details == {"role": "manager"}
    assert invited[0].actor_label == ADMIN

    mail = last_mail(app, NEWBIE)
    assert "Acme Works" in mail.subject
    link = mail.link
    assert link.startswith("/t/acme/invitations/")

    guest = app.test_client()
    form = guest.get(link)
    assert form.status_code == 200
    assert "Join Acme Works" in form.text and 'name="password"' in form.text

    weak = post_form(guest, link, {"name": "Newbie", "password": "short"})
    assert weak.status_code == 200 and "at least 10" in (field_error(weak.text, "password") or "")
    assert not user_exists(app, NEWBIE)

    joined = post_form(guest, link, {"name": "Nina Newbie", "password": PASSWORD})
    assert joined.status_code == 302 and joined.headers["Location"] == "/t/acme/"
    home = guest.get("/t/acme/")
    assert home.status_code == 200 and "Welcome to Acme Works." in home.text

    assert roles(app, acme)[NEWBIE] == "manager"
    assert invitations(app, acme) == [(NEWBIE, "manager", "accepted")]
    joined_events = events(app, acme, "member.joined")
    assert len(joined_events) == 1
    assert joined_events[0].target == NEWBIE
    assert joined_events[0].actor_label == NEWBIE
    assert joined_events[0].details == {"role": "manager"}
    # The password chosen on the invitation page works.
    assert login(app.test_client(), NEWBIE).status_code == 302


def test_invitation_link_works_once(app: Any, acme: Any) -> None:
    invite(signed_in(app, ADMIN), NEWBIE)
    link = invitation_link(app, NEWBIE)
    guest = app.test_client()
    assert post_form(guest, link, {"name": "Nina", "password": PASSWORD}).status_code == 302

    again = app.test_client()
    page = again.get(link)
    assert page.status_code == 400 and "already used" in page.text
    second = post_form(again, link, {"name": "Mallory", "password": PASSWORD}, page="/login")
    assert second.status_code == 400
    assert len(events(app, acme, "member.joined")) == 1


def test_revoked_invitation_is_refused(app: Any, acme: Any) -> None:
    admin = signed_in(app, ADMIN)
    invite(admin, NEWBIE)
    link = invitation_link(app, NEWBIE)
    with in_tenant(app, acme) as session:
        invitation_id = str(session.scalar(select(Invitation.id)))
    page = admin.get("/t/acme/members")
    assert f"/t/acme/invitations/{invitation_id}/revoke" in page.text

    revoked = post_form(admin, f"/t/acme/invitations/{invitation_id}/revoke", page="/t/acme/")
    assert revoked.status_code == 303
    assert invitations(app, acme) == [(NEWBIE, "member", "revoked")]
    assert [e.target for e in events(app, acme, "invitation.revoked")] == [NEWBIE]

    guest = app.test_client()
    page = guest.get(link)
    assert page.status_code == 400 and "revoked" in page.text
    posted = post_form(guest, link, {"name": "N", "password": PASSWORD}, page="/login")
    assert posted.status_code == 400
    assert NEWBIE not in roles(app, acme)
    assert not user_exists(app, NEWBIE)


def test_expired_invitation_is_refused(app: Any, acme: Any) -> None:
    invite(signed_in(app, ADMIN), NEWBIE)
    link = invitation_link(app, NEWBIE)
    with in_tenant(app, acme) as session:
        invitation = session.scalar(select(Invitation))
        invitation.expires_at = utcnow() - timedelta(minutes=1)
        session.commit()
    guest = app.test_client()
    page = guest.get(link)
    assert page.status_code == 400 and "expired" in page.text
    posted = post_form(guest, link, {"name": "Nina", "password": PASSWORD}, page="/login")
    assert posted.status_code == 400
    assert NEWBIE not in roles(app, acme) and not user_exists(app, NEWBIE)
    # An expired invitation no longer blocks a new one.
    assert invite(signed_in(app, ADMIN), NEWBIE).status_code == 302


def test_invitation_token_of_another_tenant_is_404(app: Any, acme: Any, bravo: Any) -> None:
    invite(signed_in(app, ADMIN), NEWBIE)
    token = token_of(invitation_link(app, NEWBIE))
    guest = app.test_client()
    assert guest.get(f"/t/bravo/invitations/{token}").status_code == 404
    posted = post_form(
        guest, f"/t/bravo/invitations/{token}", {"name": "N", "password": PASSWORD}, page="/login"
    )
    assert posted.status_code == 404
    assert NEWBIE not in roles(app, bravo) and NEWBIE not in roles(app, acme)
    assert guest.get(f"/t/nosuch/invitations/{token}").status_code == 404
    # The right tenant still accepts it.
    assert guest.get(f"/t/acme/invitations/{token}").status_code == 200


def test_invitation_bad_token_is_400(app: Any, acme: Any) -> None:
    guest = app.test_client()
    page = guest.get("/t/acme/invitations/not-a-token")
    assert page.status_code == 400 and "not valid" in page.text


def test_existing_user_must_sign_in_to_accept(app: Any, acme: Any, bravo: Any) -> None:
    existing = "member@bravo.example"
    invite(signed_in(app, ADMIN), existing, "admin")
    link = invitation_link(app, existing)

    guest = app.test_client()
    page = guest.get(link)
    assert page.status_code == 200
    assert "You already have an account. Sign in to accept." in page.text
    assert 'name="password"' not in page.text
    # Posting without being signed in does nothing.
    assert post_form(guest, link, page="/login").status_code == 200
    assert existing not in roles(app, acme)

    sign_in_href = next(h for h in hrefs(page.text) if h.startswith("/login?"))
    assert parse_qs(urlsplit(sign_in_href).query)["next"] == [link]
    signed = guest.post(
        sign_in_href,
        data={"csrf_token": csrf(guest), "email": existing, "password": PASSWORD},
    )
    assert signed.status_code == 302 and signed.headers["Location"] == link

    confirm = guest.get(link)
    assert confirm.status_code == 200 and "Accept and join" in confirm.text
    assert 'name="password"' not in confirm.text
    accepted = post_form(guest, link)
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/t/acme/"
    assert guest.get("/t/acme/").status_code == 200
    assert roles(app, acme)[existing] == "admin"
    assert roles(app, bravo)[existing] == "member"  # the other workspace is untouched
    assert [e.actor_label for e in events(app, acme, "member.joined")] == [existing]


def test_invitation_opened_by_another_signed_in_user(app: Any, acme: Any, bravo: Any) -> None:
    existing = "member@bravo.example"
    invite(signed_in(app, ADMIN), existing)
    link = invitation_link(app, existing)
    intruder = signed_in(app, "owner@bravo.example")
    page = intruder.get(link)
    assert page.status_code == 200
    assert "You are signed in as owner@bravo.example" in page.text
    assert post_form(intruder, link).status_code == 200
    assert "owner@bravo.example" not in roles(app, acme)
    assert existing not in roles(app, acme)
    assert invitations(app, acme) == [(existing, "member", "pending")]


def test_duplicate_pending_invitation_is_a_field_error(app: Any, acme: Any) -> None:
    admin = signed_in(app, ADMIN)
    assert invite(admin, NEWBIE).status_code == 302
    again = invite(admin, NEWBIE.upper(), "admin")
    assert again.status_code == 400
    assert "pending invitation" in (field_error(again.text, "email") or "")
    assert invitations(app, acme) == [(NEWBIE, "member", "pending")]
    assert len(mails(app, NEWBIE)) == 1


def test_inviting_an_existing_member_is_refused(app: Any, acme: Any) -> None:
    admin = signed_in(app, ADMIN)
    page = invite(admin, MEMBER, "admin")
    assert page.status_code == 400
    assert "already a member" in (field_error(page.text, "email") or "")
    assert invitations(app, acme) == [] and mails(app, MEMBER) == []
    assert roles(app, acme)[MEMBER] == "member"


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("not-an-address", "member", "email"), ("", "member", "email"), (NEWBIE, "god", "role")],
)
def test_invite_bad_input(app: Any, acme: Any, email: str, role: str, field: str) -> None:
    page = invite(signed_in(app, ADMIN), email, role)
    assert page.status_code == 400
    assert field_error(page.text, field)
    assert invitations(app, acme) == [] and mails(app) == []


# =========================================================================== roles


def test_admin_cannot_grant_or_touch_owner(app: Any, acme: Any) -> None:
    admin = signed_in(app, ADMIN)
    member_id = membership_id(app, acme, MEMBER)
    owner_id = membership_id(app, acme, OWNER)

    response = change_role(admin, member_id, "owner")
    assert response.status_code == 303
    assert "Only an owner can grant or take away the owner role." in flashes(
        admin.get("/t/acme/members").text
    )
    change_role(admin, owner_id, "member")
    remove(admin, owner_id)
    assert roles(app, acme)[MEMBER] == "member"
    assert roles(app, acme)[OWNER] == "owner"

    owner_invite = invite(admin, NEWBIE, "owner")
    assert owner_invite.status_code == 400
    assert "owner" in (field_error(owner_invite.text, "role") or "")
    assert events(app, acme, "member.role_changed") == []
    assert events(app, acme, "member.removed") == []


def test_owner_can_grant_owner(app: Any, acme: Any) -> None:
    owner = signed_in(app, OWNER)
    assert change_role(owner, membership_id(app, acme, ADMIN), "owner").status_code == 303
    assert roles(app, acme)[ADMIN] == "owner"
    # With two owners, the first may step down.
    assert change_role(owner, membership_id(app, acme, OWNER), "admin").status_code == 303
    assert roles(app, acme)[OWNER] == "admin"


def test_last_owner_cannot_be_demoted_or_removed(app: Any, acme: Any) -> None:
    owner = signed_in(app, OWNER)
    owner_id = membership_id(app, acme, OWNER)
    change_role(owner, owner_id, "admin")
    assert "A workspace needs at least one owner." in flashes(owner.get("/t/acme/members").text)
    remove(owner, owner_id)
    assert "A workspace needs at least one owner." in flashes(owner.get("/t/acme/members").text)
    assert roles(app, acme)[OWNER] == "owner"
    assert owner.get("/t/acme/settings").status_code == 200


def test_role_change_and_removal_are_audited(app: Any, acme: Any) -> None:
    owner = signed_in(app, OWNER)
    victim = signed_in(app, MEMBER)
    member_id = membership_id(app, acme, MEMBER)

    assert change_role(owner, member_id, "readonly").status_code == 303
    assert roles(app, acme)[MEMBER] == "readonly"
    assert f"{MEMBER} is now readonly." in owner.get("/t/acme/members").text
    changed = events(app, acme, "member.role_changed")
    assert len(changed) == 1
    assert changed[0].target == MEMBER and changed[0].actor_label == OWNER
    assert changed[0].details == {"from": "member", "to": "readonly"}
    assert victim.get("/t/acme/members").status_code == 403  # the new role applies at once

    change_role(owner, member_id, "readonly")  # no change, no event
    assert len(events(app, acme, "member.role_changed")) == 1

    assert remove(owner, member_id).status_code == 303
    assert MEMBER not in roles(app, acme)
    removed = events(app, acme, "member.removed")
    assert len(removed) == 1
    assert removed[0].target == MEMBER and removed[0].details == {"role": "readonly"}
    assert victim.get("/t/acme/").status_code == 404  # no longer a member
    assert user_exists(app, MEMBER)  # the account itself stays


def test_change_role_rejects_unknown_role(app: Any, acme: Any) -> None:
    owner = signed_in(app, OWNER)
    change_role(owner, membership_id(app, acme, MEMBER), "superuser")
    assert "Choose a valid role." in flashes(owner.get("/t/acme/members").text)
    assert roles(app, acme)[MEMBER] == "member"


def test_role_and_remove_need_csrf(app: Any, acme: Any) -> None:
    owner = signed_in(app, OWNER)
    member_id = membership_id(app, acme, MEMBER)
    assert owner.post(f"/t/acme/members/{member_id}/role", data={"role": "admin"}).status_code == (
        400
    )
    assert owner.post(f"/t/acme/members/{member_id}/remove").status_code == 400
    assert roles(app, acme)[MEMBER] == "member"


def test_cross_tenant_member_ids_are_404(app: Any, acme: Any, bravo: Any) -> None:
    admin = signed_in(app, ADMIN)
    b_member = membership_id(app, bravo, "member@bravo.example")
    b_owner = membership_id(app, bravo, "owner@bravo.example")
    with in_tenant(app, bravo) as session:
        session.add(
            Invitation(email="x@bravo.example", role="member", expires_at=utcnow() + timedelta(1))
        )
        session.commit()
        b_invitation = str(session.scalar(select(Invitation.id)))
    before = roles(app, bravo)

    assert change_role(admin, b_member, "readonly").status_code == 404
    assert change_role(admin, b_owner, "member").status_code == 404
    assert remove(admin, b_member).status_code == 404
    revoke = post_form(admin, f"/t/acme/invitations/{b_invitation}/revoke", page="/t/acme/")
    assert revoke.status_code == 404
    for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert change_role(admin, bad, "readonly").status_code == 404
        assert remove(admin, bad).status_code == 404

    assert roles(app, bravo) == before
    assert invitations(app, bravo) == [("x@bravo.example", "member", "pending")]
    assert events(app, bravo, "member.role_changed") == []
    assert events(app, bravo, "member.removed") == []
    # And through bravo's own URLs, acme's admin is not a member at all.
    assert change_role(admin, b_member, "readonly", slug="bravo").status_code == 404


# =========================================================================== settings


def _settings(client: Any, **changes: str) -> Any:
    data = {"name": "Acme Works", "industry": "generic", "locale": "en", "timezone": "UTC"}
    return post_form(client, "/t/acme/settings", {**data, **changes})


def test_settings_change_is_saved_and_audited(app: Any, acme: Any) -> None:
    admin = signed_in(app, ADMIN)
    page = admin.get("/t/acme/settings")
    assert page.status_code == 200 and 'value="Acme Works"' in page.text

    saved = _settings(admin, name="Acme Global", timezone="Asia/Shanghai")
    assert saved.status_code == 302 and saved.headers["Location"] == "/t/acme/settings"
    assert "Settings saved." in admin.get("/t/acme/settings").text
    tenant = tenant_row(app, "acme")
    assert (tenant.name, tenant.timezone) == ("Acme Global", "Asia/Shanghai")

    changed = events(app, acme, "settings.changed")
    assert len(changed) == 1
    assert changed[0].actor_label == ADMIN
    assert changed[0].details == {
        "name": {"from": "Acme Works", "to": "Acme Global"},
        "timezone": {"from": "UTC", "to": "Asia/Shanghai"},
    }
    # Saving the same values again records nothing.
    _settings(admin, name="Acme Global", timezone="Asia/Shanghai")
    assert len(events(app, acme, "settings.changed")) == 1


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus_Mons", "Asia", "Etc", "../../etc/passwd", "/etc/passwd", "zone.tab"]
)
def test_settings_bad_timezone(app: Any, acme: Any, timezone: str) -> None:
    owner = signed_in(app, OWNER)
    page = _settings(owner, name="Renamed", timezone=timezone)
    assert page.status_code == 400
    assert "Unknown time zone" in (field_error(page.text, "timezone") or "")
    tenant = tenant_row(app, "acme")
    assert (tenant.name, tenant.timezone) == ("Acme Works", "UTC")
    assert events(app, acme, "settings.changed") == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"name": ""}, "name"), ({"industry": "mining"}, "industry"), ({"locale": "xx"}, "locale")],
)
def test_settings_bad_fields(app: Any, acme: Any, changes: dict[str, str], field: str) -> None:
    page = _settings(signed_in(app, OWNER), **changes)
    assert page.status_code == 400
    assert field_error(page.text, field)
    assert events(app, acme, "settings.changed") == []
