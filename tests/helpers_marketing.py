"""Helpers of the marketing tests: a real local SMTP server, contacts, orders, tokens."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller
from conftest import in_tenant

from crm_platform.identity import Tenant
from crm_platform.modules import enable_module
from crm_platform.records.service import create_record
from crm_platform.sdk import create_order, utcnow
from crm_platform.testing import free_port


def enable_marketing(app: Any, tenant: Any) -> None:
    """Switch the Marketing module on for ``tenant`` (its onboarding runs)."""
    with in_tenant(app, tenant) as session:
        enable_module(session.get(Tenant, tenant.id), "marketing")
        session.commit()


@dataclass
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> Any:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()


@dataclass
class SmtpSink:
    """A real SMTP server in a thread. ``refuse`` maps addresses to an RCPT answer;
    ``on_rcpt(address)`` is called before each recipient is accepted."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    on_rcpt: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:  # noqa: N802
        if self.on_rcpt is not None:
            self.on_rcpt(address)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if getattr(self, "controller", None) is not None:
            self.controller.stop()
            self.controller = None

    def per_recipient(self) -> Counter:
        with self.lock:
            return Counter(r for m in self.received for r in m.recipients)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if address in m.recipients]

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.received)} of {count} messages arrived")


def tagged(tag: str) -> dict[str, Any]:
    """A segment definition: contacts with ``tag``."""
    rule = {"field": "contact.tag", "op": "has", "value": tag}
    return {"match": "all", "groups": [{"match": "all", "rules": [rule]}]}


def add_contact(app: Any, tenant: Any, **values: Any) -> str:
    """A contact made through the records service; its id."""
    with in_tenant(app, tenant) as session:
        record = create_record("contact", values)
        session.commit()
        return str(record.id)


def add_account(app: Any, tenant: Any, **values: Any) -> str:
    """An account made through the records service; its id."""
    with in_tenant(app, tenant) as session:
        record = create_record("account", values)
        session.commit()
        return str(record.id)


def add_order(
    app: Any, tenant: Any, contact_id: str, total: str, days_ago: int = 0, **extra: Any
) -> str:
    """An order of a contact, ``days_ago`` days old; its id."""
    with in_tenant(app, tenant) as session:
        when = utcnow() - timedelta(days=days_ago)
        order = create_order(
            {"contact_id": contact_id, "total": total, "ordered_at": when, **extra}
        )
        session.commit()
        return str(order.id)


def links_in(html: str) -> list[str]:
    """Every ``href`` of an HTML body."""
    return re.findall(r'href="([^"]+)"', html)


def local(url: str) -> str:
    """An absolute link of the test app as a path the test client can open."""
    return url.replace("http://localhost", "")


def naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value
