"""Helpers of the web tests: CSRF-aware posts, the mail outbox, audit rows, link tokens.

Everything returned here is a plain snapshot, safe to use outside an app context.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from conftest import csrf_token_from, in_tenant
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from crm_platform.audit import AuditEvent
from crm_platform.extensions import db
from crm_platform.identity import Membership, Tenant, User
from crm_platform.mail import OutboxMessage

LINK_RE = re.compile(r"http://localhost(\S+)")
HREF_RE = re.compile(r'href="([^"]+)"')


# --------------------------------------------------------------------------- forms


def csrf(client: Any, page: str = "/login") -> str:
    """A valid CSRF token of ``client``'s session (read from ``page``, a page with a form)."""
    return csrf_token_from(client.get(page).text)


def post_form(
    client: Any, url: str, data: dict[str, Any] | None = None, *, page: str | None = None
) -> Any:
    """POST ``data`` to ``url`` with a CSRF token, as a browser submitting the form would.

    The token is read from ``page`` (``url`` itself by default; use another page for
    POST-only URLs).
    """
    token = csrf(client, page or url)
    return client.post(url, data={"csrf_token": token, **(data or {})})


def field_error(page_html: str, field_id: str) -> str | None:
    """The error message shown under the form field ``field_id``, or ``None``."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">([^<]*)</p>', page_html)
    return html.unescape(match.group(1)) if match else None


def flashes(page_html: str, category: str = "error") -> list[str]:
    """Flash messages of ``category`` in a page."""
    pattern = rf'<div class="flash flash-{category}" role="status">([^<]*)</div>'
    return [html.unescape(m) for m in re.findall(pattern, page_html)]


def hrefs(page_html: str) -> list[str]:
    """Every link target in a page (HTML entities decoded)."""
    return [html.unescape(h) for h in HREF_RE.findall(page_html)]


def without_tokens(page_html: str) -> str:
    """A page with its per-session CSRF tokens blanked (to compare two responses)."""
    page_html = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', page_html)
    return re.sub(
        r'name="csrf_token"([^>]*)value="[^"]*"', r'name="csrf_token"\1value=""', page_html
    )


# --------------------------------------------------------------------------- mail


@dataclass(frozen=True)
class Mail:
    """One outbox message."""

    to: str
    subject: str
    body: str

    @property
    def links(self) -> list[str]:
        """Paths of the ``http://localhost...`` links in the body (minus a closing '.')."""
        return [link.rstrip(".,;)") for link in LINK_RE.findall(self.body)]

    @property
    def link(self) -> str:
        """The first link's path."""
        assert self.links, f"no link in mail {self.subject!r}"
        return self.links[0]


def mails(app: Any, to: str | None = None) -> list[Mail]:
    """Outbox messages, oldest first (only those to ``to`` when given)."""
    with app.app_context():
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        if to is not None:
            stmt = stmt.where(func.lower(OutboxMessage.to) == to.lower())
        return [Mail(m.to, m.subject, m.body) for m in db.session.scalars(stmt)]


def last_mail(app: Any, to: str) -> Mail:
    """The newest message to ``to``."""
    found = mails(app, to)
    assert found, f"no mail to {to}"
    return found[-1]


def token_of(path: str) -> str:
    """The token (last path segment) of a link path."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def tamper(token: str) -> str:
    """``token`` with one character of its signed payload changed (the signature stays)."""
    index = 2
    replacement = "B" if token[index] != "B" else "C"
    return token[:index] + replacement + token[index + 1 :]


@contextmanager
def signed_in_the_past(monkeypatch: Any, seconds: int) -> Iterator[None]:
    """Inside the block, signed links get a timestamp ``seconds`` in the past."""
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - seconds)
        yield


# --------------------------------------------------------------------------- database


@dataclass(frozen=True)
class TenantRow:
    """A tenant snapshot usable with ``in_tenant``."""

    id: uuid.UUID
    slug: str
    name: str
    status: str
    timezone: str
    industry: str
    locale: str


@dataclass(frozen=True)
class Event:
    """An audit event snapshot."""

    id: uuid.UUID
    action: str
    target: str | None
    actor_label: str | None
    actor_id: uuid.UUID | None
    details: dict[str, Any]


def tenant_row(app: Any, slug: str) -> TenantRow | None:
    """The tenant with ``slug`` (or ``None``)."""
    with app.app_context():
        t = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        if t is None:
            return None
        return TenantRow(t.id, t.slug, t.name, t.status, t.timezone, t.industry, t.locale)


def tenant_count(app: Any) -> int:
    """How many tenants exist."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Tenant))


def user_exists(app: Any, email: str) -> bool:
    """True when a user with ``email`` exists."""
    with app.app_context():
        stmt = select(User.id).where(func.lower(User.email) == email.lower())
        return db.session.scalar(stmt) is not None


def roles(app: Any, tenant: Any) -> dict[str, str]:
    """E-mail → role of every member of ``tenant``."""
    with in_tenant(app, tenant) as session:
        return {m.user.email: m.role for m in session.scalars(select(Membership)).unique()}


def membership_id(app: Any, tenant: Any, email: str) -> str:
    """The membership id (as a string) of ``email`` in ``tenant``."""
    with in_tenant(app, tenant) as session:
        for m in session.scalars(select(Membership)).unique():
            if m.user.email == email:
                return str(m.id)
    raise AssertionError(f"{email} is not a member of {tenant.slug}")


def events(app: Any, tenant: Any, action: str | None = None) -> list[Event]:
    """Audit events of ``tenant``, oldest first (only ``action`` when given)."""
    with in_tenant(app, tenant) as session:
        stmt = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action)
        return [
            Event(e.id, e.action, e.target, e.actor_label, e.actor_id, dict(e.details or {}))
            for e in session.scalars(stmt)
        ]
