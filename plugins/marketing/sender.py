"""Sending marketing e-mail exactly once per recipient, through RQ workers, to SMTP.

Each recipient is a ``marketing_messages`` row. A sending *lane* (a job; a campaign runs
several at once) repeats: **claim** a chunk of rows with one ``UPDATE ... RETURNING`` that
moves them from ``pending`` to ``sending``, stamps the lane's token (``claimed_by``) and a lease,
and gives each its unique ``Message-ID`` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so lanes
never take the same rows), then commits; **send** each row over one SMTP connection;
**mark** it ``sent`` in its own commit the moment the server accepted it. So:

* a row is sent by at most one lane at a time, and a ``sent`` row is never sent again;
* a lane killed mid-send leaves its rows ``sending`` under its token: the job's retry (same
  arguments, same token) takes them back at once and skips the ``sent`` ones; a lane that is
  never retried loses its rows to another lane when the lease runs out;
* an SMTP server that goes away mid-send ends the lane with its unsent rows released back to
  ``pending`` and the job failed, so RQ retries it with backoff;
* the only message that can go out twice is one whose acceptance by the server was lost
  between the server's ``250`` and our commit (a kill in that instant); it is sent again with
  the *same* ``Message-ID``, which receivers use to drop duplicates.

Addresses are checked against the suppression list right before sending. Answers of 5xx to
a recipient are hard bounces (suppressed), 4xx are retried later. Sent e-mail is metered
(``record_usage("marketing_emails", n)``) in the same transaction that marks it, once.
With no SMTP server configured the messages go to the outbox (``send_mail``).
"""

from __future__ import annotations

import os
import smtplib
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import String, and_, cast, func, literal, or_, select, update

from crm_platform.sdk import Account, Contact, db, require_tenant, send_mail, set_progress, utcnow

from .marks import Marks
from .merge import Renderer, merge_values, text_version
from .models import Message
from .suppression import record_bounce, suppressed_among
from .tracking import preferences_url, track, unsubscribe_url
from .wire import address, message_bytes

TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError)


def setting(name: str, default: Any) -> Any:
    """A sending setting: app config ``MARKETING_<name>``, else env ``CRM_MARKETING_<name>``."""
    value = current_app.config.get(f"MARKETING_{name}")
    if value is None:
        value = os.environ.get(f"CRM_MARKETING_{name}")
    if value is None or value == "":
        return default
    return type(default)(value) if default is not None else value


@dataclass(frozen=True)
class Smtp:
    """Where mail goes: the app's ``MAIL_*`` settings."""

    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool


def smtp_config() -> Smtp | None:
    """The SMTP server, or ``None`` (mail then goes to the outbox)."""
    cfg = current_app.config
    if not cfg.get("MAIL_SERVER"):
        return None
    return Smtp(
        cfg["MAIL_SERVER"],
        int(cfg.get("MAIL_PORT") or 25),
        cfg.get("MAIL_USERNAME"),
        cfg.get("MAIL_PASSWORD"),
        bool(cfg.get("MAIL_USE_TLS")),
    )


def sender_address() -> tuple[str, str]:
    """The From name and address of marketing mail (``MARKETING_FROM`` or ``MAIL_FROM``)."""
    raw = setting("FROM", None) or current_app.config.get("MAIL_FROM") or "crm@crm.localhost"
    name, address = parseaddr(raw)
    return name, address or "crm@crm.localhost"


def message_domain() -> str:
    """The domain of our ``Message-ID`` headers."""
    return sender_address()[1].rpartition("@")[2] or "crm.localhost"


def message_id_of(row_id: uuid.UUID) -> str:
    """The ``Message-ID`` header of a message row (what the claim stores)."""
    return f"<{row_id.hex}@{message_domain()}>"


def _message_id_sql() -> Any:
    """The same, computed by the database for every claimed row."""
    hexed = func.replace(cast(Message.id, String), "-", "")
    return literal("<") + hexed + literal(f"@{message_domain()}>")


@dataclass
class Content:
    """How to render the messages of a lane: renderers by key, the From name, topic."""

    renderer_of: Callable[[Any], Renderer]
    from_name: Callable[[Any], str | None]
    reply_to: Callable[[Any], str | None]
    topic: Callable[[Any], str | None]
    extra: Callable[[Any], dict[str, Any]]


@dataclass
class Outcome:
    """What a lane did."""

    sent: int = 0
    bounced: int = 0
    deferred: int = 0
    suppressed: int = 0
    skipped: int = 0


class Built(NamedTuple):
    """A rendered message."""

    subject: str
    html: str
    text: str
    unsubscribe: str


class SendAborted(RuntimeError):
    """The SMTP server went away; the lane's unsent rows were released for a retry."""


class Lane:
    """One sending lane over the rows ``scope`` selects (see the module docstring)."""

    def __init__(self, scope: Any, owner: str, content: Content, *, rate_per_minute: int = 0):
        self.scope = scope
        self.owner = owner[:64]
        self.content = content
        self.tenant_id = require_tenant().id
        self.chunk = setting("SEND_CHUNK", 100)
        self.lease = setting("SEND_LEASE", 300)
        self.max_attempts = setting("MAX_ATTEMPTS", 5)
        lanes = max(1, setting("SEND_LANES", 2))
        self.interval = 60.0 * lanes / rate_per_minute if rate_per_minute > 0 else 0.0
        self.smtp_settings = smtp_config()
        self.connection: smtplib.SMTP | None = None
        self.outcome = Outcome()
        self.from_name, self.from_address = sender_address()
        self.bounce_domain = setting("BOUNCE_DOMAIN", None)

    # ------------------------------------------------------------------ claiming

    def claim(self) -> list[uuid.UUID]:
        """Take the next chunk of rows (and this lane's own unfinished ones); commits."""
        now = utcnow()
        claimable = or_(
            and_(
                Message.status == "pending",
                or_(Message.lease_until.is_(None), Message.lease_until < now),
            ),
            and_(
                Message.status == "sending",
                or_(Message.claimed_by == self.owner, Message.lease_until < now),
            ),
        )
        chosen = (
            select(Message.id)
            .where(Message.tenant_id == self.tenant_id, self.scope, claimable)
            .order_by(Message.position, Message.id)
            .limit(self.chunk)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(Message)
            .where(Message.tenant_id == self.tenant_id, Message.id.in_(chosen))
            .values(
                status="sending",
                claimed_by=self.owner,
                lease_until=now + timedelta(seconds=self.lease),
                attempts=Message.attempts + 1,
                message_id=func.coalesce(Message.message_id, _message_id_sql()),
            )
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
        ids = list(db.session.scalars(stmt))
        self.touch(ids)
        db.session.commit()
        return ids

    def touch(self, ids: list[uuid.UUID]) -> None:
        """Hook for the caller to note progress (campaigns stamp ``progress_at``)."""

    def release(self) -> None:
        """Give this lane's unsent rows back (the SMTP server went away); commits."""
        db.session.rollback()
        db.session.execute(
            update(Message)
            .where(
                Message.tenant_id == self.tenant_id,
                Message.claimed_by == self.owner,
                Message.status == "sending",
            )
            .values(status="pending", claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    # ------------------------------------------------------------------ the loop

    def run(self, total: int | None = None) -> Outcome:
        """Claim and send until nothing is left to claim; returns what was done."""
        self.meter()
        self.marks = Marks(self.tenant_id, self.owner)
        done = 0
        try:
            while True:
                ids = self.claim()
                if not ids:
                    break
                self.send_chunk(ids)
                done += len(ids)
                self.meter()
                if total:
                    set_progress(min(done, total), total, "sending")
        except TRANSIENT as exc:
            self.release()
            raise SendAborted(f"SMTP server unavailable: {exc}") from exc
        finally:
            self.close()
            self.marks.close()
        return self.outcome

    def _rows(self, ids: list[uuid.UUID]) -> list[Any]:
        """The claimed rows with what their content needs, as plain rows (no ORM objects)."""
        stmt = (
            select(
                Message.id,
                Message.email,
                Message.variant,
                Message.message_id,
                Message.contact_id,
                Message.campaign_id,
                Message.enrollment_id,
                Message.step_id,
                Message.attempts,
                Message.status,
                Message.claimed_by,
                Contact.first_name,
                Contact.last_name,
                Contact.email.label("contact_email"),
                Contact.title,
                Contact.region,
                Contact.phone,
                Contact.custom,
                Contact.deleted_at,
                Account.name.label("account_name"),
                Account.industry,
                Account.region.label("account_region"),
                Account.website,
                Account.custom.label("account_custom"),
            )
            .join(
                Contact,
                and_(Contact.tenant_id == Message.tenant_id, Contact.id == Message.contact_id),
            )
            .outerjoin(
                Account,
                and_(Account.tenant_id == Contact.tenant_id, Account.id == Contact.account_id),
            )
            .where(Message.tenant_id == self.tenant_id, Message.id.in_(ids))
            .order_by(Message.position, Message.id)
        )
        return list(db.session.execute(stmt))

    def send_chunk(self, ids: list[uuid.UUID]) -> None:
        """Send every claimed row of a chunk (each marked in its own commit)."""
        rows = self._rows(ids)
        blocked: dict[str | None, set[str]] = {}
        for topic in {self.content.topic(r) for r in rows}:
            blocked[topic] = suppressed_among((r.email for r in rows), topic)
        for row in rows:
            if row.status != "sending" or row.claimed_by != self.owner:
                continue
            if row.deleted_at is not None or not row.email:
                self.finish(row, "skipped", "The contact is in the trash or has no e-mail.")
                self.outcome.skipped += 1
                continue
            if row.email in blocked[self.content.topic(row)]:
                self.finish(row, "suppressed", None)
                self.outcome.suppressed += 1
                continue
            started = time.monotonic()
            self.deliver(row)
            if self.interval:
                time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    # ------------------------------------------------------------------ one message

    def build(self, row: Any) -> Built:
        """Subject, HTML, text and unsubscribe link of a row."""
        contact = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "email": row.contact_email,
            "title": row.title,
            "region": row.region,
            "phone": row.phone,
            "custom": row.custom or {},
        }
        account = {
            "name": row.account_name,
            "industry": row.industry,
            "region": row.account_region,
            "website": row.website,
            "custom": row.account_custom or {},
        }
        unsubscribe = unsubscribe_url(row.email, row.contact_id, row.id)
        values = merge_values(
            contact,
            account,
            unsubscribe_url=unsubscribe,
            preferences_url=preferences_url(row.email, row.contact_id),
            today=utcnow().date().isoformat(),
            **self.content.extra(row),
        )
        renderer = self.content.renderer_of(row)
        subject = renderer.subject(row.variant or "a", values)
        body = renderer.html(values)
        return Built(subject, track(body, row.id), text_version(body), unsubscribe)

    def mime(self, row: Any, built: Built) -> bytes:
        """The message of a row as sent: its ``Message-ID``, one-click unsubscribe, a text
        and an HTML part."""
        headers = [
            ("From", address(self.content.from_name(row) or self.from_name, self.from_address)),
            ("To", row.email),
            ("Subject", built.subject),
            ("Message-ID", row.message_id or message_id_of(row.id)),
            ("List-Unsubscribe", f"<{built.unsubscribe}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
        reply_to = self.content.reply_to(row)
        if reply_to:
            headers.append(("Reply-To", reply_to))
        return message_bytes(headers, built.text, built.html, date=utcnow())

    def envelope_from(self, row: Any) -> str:
        """The envelope sender: a VERP address naming the message when a bounce domain is
        configured (``MARKETING_BOUNCE_DOMAIN``), else the From address."""
        if self.bounce_domain:
            return f"bounce+{row.id.hex}@{self.bounce_domain}"
        return self.from_address

    def deliver(self, row: Any) -> None:
        """Send one row and record the answer (raises on a lost connection)."""
        built = self.build(row)
        if self.smtp_settings is None:
            send_mail(row.email, built.subject, built.text)
            self.finish(row, "sent", None, with_session=True)
            self.outcome.sent += 1
            return
        raw = self.mime(row, built)
        try:
            self.smtp().sendmail(self.envelope_from(row), [row.email], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b""))
            self.refused(row, code, reply)
            return
        except smtplib.SMTPDataError as exc:
            self.refused(row, exc.smtp_code, exc.smtp_error)
            return
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise smtplib.SMTPServerDisconnected(str(exc)) from exc
        self.finish(row, "sent", None)
        self.outcome.sent += 1

    def refused(self, row: Any, code: int, reply: Any) -> None:
        """The server refused one recipient: 5xx bounces (suppressed), 4xx waits to retry."""
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        detail = f"{code} {text}"
        if code >= 500:
            record_bounce(row.id, row.email, row.contact_id, hard=True, detail=detail)
            self.finish(row, "bounced", detail, with_session=True)
            self.outcome.bounced += 1
            return
        if row.attempts >= self.max_attempts:
            self.finish(row, "failed", detail)
            return
        delay = timedelta(seconds=min(3600, 60 * 2 ** min(row.attempts, 6)))
        self._mark(
            row,
            status="pending",
            claimed_by=None,
            lease_until=utcnow() + delay,
            error=detail[:2000],
        )
        self.outcome.deferred += 1

    def finish(
        self, row: Any, status: str, error: str | None, *, with_session: bool = False
    ) -> None:
        """Record a row's final status in its own commit (``with_session``: together with
        what the session has written for it, e.g. the outbox message or the bounce)."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": status,
            "error": error[:2000] if error else None,
            "lease_until": None,
        }
        if status == "sent":
            values["sent_at"] = now
        if status == "bounced":
            values["bounced_at"] = now
        self._mark(row, with_session=with_session, **values)

    def _mark(self, row: Any, *, with_session: bool = False, **values: Any) -> None:
        self.marks.write(row.id, values, with_session=with_session)

    # ------------------------------------------------------------------ metering, SMTP

    def meter(self) -> int:
        """Meter the sent rows of this scope not metered yet, in one transaction."""
        from crm_platform.sdk import record_usage

        now = utcnow()
        result = db.session.execute(
            update(Message)
            .where(
                Message.tenant_id == self.tenant_id,
                self.scope,
                Message.status == "sent",
                Message.metered_at.is_(None),
            )
            .values(metered_at=now)
            .execution_options(synchronize_session=False)
        )
        count = result.rowcount or 0
        if count:
            record_usage("marketing_emails", count)
        db.session.commit()
        return count

    def smtp(self) -> smtplib.SMTP:
        """The lane's SMTP connection (opened on first use)."""
        if self.connection is None:
            cfg = self.smtp_settings
            assert cfg is not None
            connection = smtplib.SMTP(cfg.host, cfg.port, timeout=30)
            # Commands are small writes answered one by one: without NODELAY, Nagle's
            # algorithm and delayed ACKs stall each message by tens of milliseconds.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if cfg.use_tls:
                connection.starttls()
            if cfg.username:
                connection.login(cfg.username, cfg.password or "")
            self.connection = connection
        return self.connection

    def close(self) -> None:
        """Close the SMTP connection, if any."""
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None
