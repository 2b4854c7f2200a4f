"""The settings page: reachable from the navigation, the password never shown back, a failed
check saves nothing, and nobody reaches another member's or workspace's connection."""

from __future__ import annotations

from typing import Any

from fixtures_calendar import *  # noqa: F403 - the module's fixtures (see its docstring)
from helpers_calendar import calendar_tenant, connect, settings_url, signed_in_client
from sqlalchemy import select

from crm_platform.testing import in_tenant, post_with_csrf, run_jobs
from plugins.calendar.models import Connection


def test_settings_page_from_the_navigation_and_the_password_is_never_shown(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    home = owner.get("/t/acme/")
    assert 'href="/t/acme/calendar/"' in home.text
    page = owner.get(settings_url(acme))
    assert page.status_code == 200 and "CalDAV" in page.text

    connection_id = connect(owner, acme, radicale, calendar_url)
    html = owner.get(settings_url(acme)).text
    assert radicale.users["alice"] not in html
    assert calendar_url in html  # the chosen calendar is offered in the list
    with in_tenant(app, acme) as session:
        conn = session.scalars(select(Connection)).one()
        assert conn.id == connection_id
        assert radicale.users["alice"] not in conn.secret
        assert conn.calendar_url == calendar_url

    # Saving again with an empty password keeps the stored one (and checks it again).
    response = post_with_csrf(
        owner,
        settings_url(acme),
        f"{settings_url(acme)}connection",
        {"server_url": radicale.url, "username": "alice", "password": ""},
    )
    assert response.status_code == 302
    run_jobs(app)
    post_with_csrf(owner, settings_url(acme), f"/t/acme/calendar/connections/{connection_id}/check")
    assert "The connection works." in owner.get(settings_url(acme)).text
    status = owner.get("/t/acme/calendar/status")
    assert (
        status.status_code == 200
        and "Synced" in status.text
        and 'hx-trigger="every 20s"' in status.text
    )


def test_a_failed_check_shows_the_error_and_saves_nothing(
    app: Any, acme: Any, owner: Any, radicale: Any
) -> None:
    page = settings_url(acme)
    response = post_with_csrf(
        owner,
        page,
        f"{page}connection",
        {"server_url": radicale.url, "username": "alice", "password": "nope"},
    )
    assert response.status_code == 422
    assert "refused the user name or password (401)" in response.text
    assert "nope" not in response.text
    response = post_with_csrf(
        owner,
        page,
        f"{page}connection",
        {"server_url": "ftp://x", "username": "a", "password": "b"},
    )
    assert response.status_code == 422 and "https://" in response.text
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Connection)).all() == []


def test_private_addresses_are_refused_outside_tests(
    app: Any, acme: Any, owner: Any, radicale: Any
) -> None:
    app.config["CALENDAR_ALLOW_PRIVATE_HOSTS"] = False
    page = settings_url(acme)
    response = post_with_csrf(
        owner,
        page,
        f"{page}connection",
        {"server_url": radicale.url, "username": "alice", "password": radicale.users["alice"]},
    )
    assert response.status_code == 422 and "private network" in response.text


def test_another_members_or_workspaces_connection_is_404(
    app: Any, acme: Any, owner: Any, factory: Any, radicale: Any, calendar_url: str
) -> None:
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    factory.member(acme, "rep@acme.example", "member")
    rep = signed_in_client(app, "rep@acme.example")
    calendar_tenant(app, "globex", "owner@globex.example")
    stranger = signed_in_client(app, "owner@globex.example")
    for action in ("check", "sync", "calendar", "delete"):
        url = f"/t/acme/calendar/connections/{connection_id}/{action}"
        assert post_with_csrf(rep, "/t/acme/calendar/", url).status_code == 404
        other = f"/t/globex/calendar/connections/{connection_id}/{action}"
        assert post_with_csrf(stranger, "/t/globex/calendar/", other).status_code == 404
        assert post_with_csrf(stranger, "/t/globex/calendar/", url).status_code == 404
    assert rep.get("/t/acme/calendar/").status_code == 200
    assert "alice" not in rep.get("/t/acme/calendar/").text
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Connection)).one().id == connection_id


def test_read_only_members_cannot_use_it(app: Any, acme: Any, factory: Any) -> None:
    factory.member(acme, "viewer@acme.example", "readonly")
    viewer = signed_in_client(app, "viewer@acme.example")
    assert viewer.get("/t/acme/calendar/").status_code in (403, 404)
    assert 'href="/t/acme/calendar/"' not in viewer.get("/t/acme/").text
