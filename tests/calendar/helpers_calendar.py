"""Helpers of the Calendar tests: a handle on the Radicale server spoken to with plain HTTP
(never through the module's own client), a tenant with the module on, activities made
through the core's service, and the settings page driven like a browser."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import requests
from sqlalchemy import select

from crm_platform.extensions import db
from crm_platform.identity import Tenant, User
from crm_platform.modules import enable_module
from crm_platform.provisioning import create_tenant, create_user, find_user
from crm_platform.sdk import Account, create_activity
from crm_platform.testing import PASSWORD, TenantInfo, in_tenant, login, post_with_csrf

DAV = "{DAV:}"


@dataclass(frozen=True)
class RadicaleServer:
    """A running Radicale: its base URL and users (name -> password)."""

    url: str
    users: dict[str, str]

    def session(self, user: str) -> requests.Session:
        """An HTTP session authenticated as ``user``."""
        session = requests.Session()
        session.auth = (user, self.users[user])
        return session

    def make_calendar(self, user: str, name: str) -> str:
        """Create a calendar collection of ``user`` holding events and to-dos; its URL."""
        session = self.session(user)
        session.request("PROPFIND", urljoin(self.url, f"{user}/"), headers={"Depth": "0"})
        url = urljoin(self.url, f"{user}/{name}/")
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
            f"<d:displayname>{name}</d:displayname>"
            '<c:supported-calendar-component-set><c:comp name="VEVENT"/><c:comp name="VTODO"/>'
            "</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>"
        )
        response = session.request("MKCALENDAR", url, data=body.encode())
        assert response.status_code == 201, response.text
        return url

    def objects(self, calendar_url: str, user: str = "alice") -> dict[str, str]:
        """Path -> ETag of every object in the calendar."""
        response = self.session(user).request(
            "PROPFIND",
            calendar_url,
            headers={"Depth": "1"},
            data=b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/>'
            b"</d:prop></d:propfind>",
        )
        assert response.status_code == 207, response.text
        base = urlparse(calendar_url).path
        out = {}
        for node in ET.fromstring(response.content).iter(f"{DAV}response"):
            path = unquote(node.findtext(f"{DAV}href") or "")
            if path.rstrip("/") != base.rstrip("/"):
                out[path] = node.findtext(f".//{DAV}getetag") or ""
        return out

    def get(self, path: str, user: str = "alice") -> tuple[str, str]:
        """(ETag, text) of one object."""
        response = self.session(user).get(urljoin(self.url, path))
        assert response.status_code == 200, response.status_code
        return response.headers["ETag"], response.text

    def put(self, path: str, text: str, user: str = "alice", etag: str | None = None) -> None:
        """Write one object as another calendar app would."""
        headers = {"Content-Type": "text/calendar"}
        if etag:
            headers["If-Match"] = etag
        response = self.session(user).put(
            urljoin(self.url, path), data=text.encode(), headers=headers
        )
        assert response.status_code in (201, 204), response.text

    def delete(self, path: str, user: str = "alice") -> None:
        """Delete one object as another calendar app would."""
        response = self.session(user).delete(urljoin(self.url, path))
        assert response.status_code in (200, 204), response.status_code


def calendar_tenant(app: Any, slug: str, owner_email: str) -> TenantInfo:
    """A tenant with its owner and the Calendar module switched on."""
    with app.app_context():
        owner = find_user(owner_email) or create_user(owner_email, f"Owner of {slug}", PASSWORD)
        tenant = create_tenant(slug.title(), slug, owner)
        db.session.commit()
        info = TenantInfo(tenant.id, tenant.slug, tenant.name, owner_email)
    with in_tenant(app, info) as session:
        enable_module(session.get(Tenant, info.id), "calendar")
        session.commit()
    return info


def signed_in_client(app: Any, email: str) -> Any:
    """A test client signed in as ``email``."""
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def user_id(app: Any, email: str) -> uuid.UUID:
    """The id of the user ``email``."""
    with app.app_context():
        return db.session.scalars(select(User.id).where(User.email == email)).one()


def activity(
    app: Any,
    tenant: TenantInfo,
    email: str,
    kind: str,
    subject: str,
    due: date | None,
    **extra: Any,
) -> uuid.UUID:
    """An activity of ``kind`` owned by ``email``, on a new account, made by the core service."""
    with in_tenant(app, tenant) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        account = Account(name=f"Account of {subject}")
        session.add(account)
        session.flush()
        data = {
            "kind": kind,
            "subject": subject,
            "due_date": due.isoformat() if due else "",
            "account_id": str(account.id),
            "owner_id": str(user.id),
            **extra,
        }
        row = create_activity(data, actor=user)
        session.commit()
        return row.id


def settings_url(tenant: TenantInfo) -> str:
    """The calendar settings page of ``tenant``."""
    return f"/t/{tenant.slug}/calendar/"


def connect(
    client: Any,
    tenant: TenantInfo,
    server: RadicaleServer,
    calendar_url: str,
    *,
    user: str = "alice",
    import_new: bool = False,
) -> uuid.UUID:
    """Connect through the settings page: check and save the account, choose the calendar.
    The connection's id."""
    page = settings_url(tenant)
    response = post_with_csrf(
        client,
        page,
        f"{page}connection",
        {"server_url": server.url, "username": user, "password": server.users[user]},
    )
    assert response.status_code == 302, response.text
    html = client.get(page).text
    marker = f"/t/{tenant.slug}/calendar/connections/"
    connection_id = html.split(marker, 1)[1].split("/", 1)[0]
    data = {"calendar_url": calendar_url, "enabled": "y", "interval_minutes": "15"}
    if import_new:
        data["import_new"] = "y"
    response = post_with_csrf(client, page, f"{marker}{connection_id}/calendar", data)
    assert response.status_code == 302, response.text
    return uuid.UUID(connection_id)


def sync_now(client: Any, tenant: TenantInfo, connection_id: uuid.UUID) -> Any:
    """Press "Sync now"."""
    page = settings_url(tenant)
    return post_with_csrf(
        client, page, f"/t/{tenant.slug}/calendar/connections/{connection_id}/sync"
    )
