"""Read-only iCalendar feeds: a secret URL per member, shown once, regenerated or revoked
(the old URL answers 404), holding only that member's meetings and tasks of that workspace."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fixtures_calendar import *  # noqa: F403 - the module's fixtures (see its docstring)
from helpers_calendar import activity, calendar_tenant, settings_url, signed_in_client
from icalendar import Calendar

from crm_platform.identity import Tenant
from crm_platform.modules import disable_module
from crm_platform.testing import in_tenant, post_with_csrf

SOON = datetime.now(UTC).date() + timedelta(days=3)


def _make_feed(client: Any, tenant: Any) -> str:
    page = settings_url(tenant)
    response = post_with_csrf(client, page, f"{page}feed")
    assert response.status_code == 200
    match = re.search(r'id="feed-url"[^>]*value="([^"]+)"', response.text)
    assert match, response.text
    return match.group(1).replace("http://localhost", "")


def _summaries(text: str) -> dict[str, str]:
    cal = Calendar.from_ical(text)
    return {str(c.get("summary")): c.name for c in cal.walk() if c.name in ("VEVENT", "VTODO")}


def test_the_feed_holds_only_the_members_own_items_and_dies_when_revoked(
    app: Any, acme: Any, owner: Any, factory: Any
) -> None:
    factory.member(acme, "rep@acme.example", "member")
    other = calendar_tenant(app, "globex", "owner@globex.example")
    activity(app, acme, acme.owner_email, "meeting", "Owner's meeting", SOON)
    activity(app, acme, acme.owner_email, "task", "Owner's task", SOON)
    activity(app, acme, acme.owner_email, "note", "Owner's note", None)
    activity(app, acme, acme.owner_email, "meeting", "Long ago", SOON - timedelta(days=60))
    activity(app, acme, "rep@acme.example", "meeting", "Rep's meeting", SOON)
    activity(app, other, other.owner_email, "meeting", "Globex meeting", SOON)

    url = _make_feed(owner, acme)
    assert url.startswith("/t/acme/calendar/feed/") and url.endswith(".ics")
    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert _summaries(response.text) == {"Owner's meeting": "VEVENT", "Owner's task": "VTODO"}

    # Shown once: the settings page never shows the address again.
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in owner.get(settings_url(acme)).text
    # The same token under another workspace's address, or a wrong one: 404.
    assert anonymous.get(url.replace("/t/acme/", "/t/globex/")).status_code == 404
    assert anonymous.get("/t/acme/calendar/feed/not-a-token.ics").status_code == 404

    # Another member's feed holds only their own meeting.
    rep = signed_in_client(app, "rep@acme.example")
    rep_url = _make_feed(rep, acme)
    assert _summaries(anonymous.get(rep_url).text) == {"Rep's meeting": "VEVENT"}

    # A new address kills the old one; revoking kills the new one.
    new_url = _make_feed(owner, acme)
    assert new_url != url
    assert anonymous.get(url).status_code == 404
    assert anonymous.get(new_url).status_code == 200
    page = settings_url(acme)
    assert post_with_csrf(owner, page, f"{page}feed/revoke").status_code == 302
    assert anonymous.get(new_url).status_code == 404
    assert anonymous.get(rep_url).status_code == 200


def test_module_off_answers_404_for_pages_and_feeds(app: Any, acme: Any, owner: Any) -> None:
    url = _make_feed(owner, acme)
    with in_tenant(app, acme) as session:
        disable_module(session.get(Tenant, acme.id), "calendar")
        session.commit()
    assert owner.get(settings_url(acme)).status_code == 404
    assert app.test_client().get(url).status_code == 404
    assert owner.get("/t/acme/").status_code == 200
    assert "/t/acme/calendar/" not in owner.get("/t/acme/").text
