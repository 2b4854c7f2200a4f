"""The suppression list: addresses no send may reach (every topic, or one), and how they get
there: unsubscribing, preferences, hard bounces, complaints, or by hand.

Every send honours it twice: recipients are checked when a campaign's list is made
(set-based) and again right before each message goes out. Unsubscribing emits
``contact.unsubscribed`` (once per address and scope) and stops the contact's sequences.
Bounces come from SMTP answers at send time (5xx: hard) or later as delivery status
notifications (RFC 3464), which :func:`process_bounce_report` reads.
"""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select, update

from crm_platform.sdk import (
    ValidationFailed,
    clean_email,
    db,
    emit_event,
    module_settings,
    parse_uuid,
    require_tenant,
    utcnow,
)

from .models import Message, Suppression

REASONS = ("unsubscribed", "bounced", "complained", "manual")
REASON_LABELS = {
    "unsubscribed": _l("unsubscribed"),
    "bounced": _l("bounced"),
    "complained": _l("complained"),
    "manual": _l("added by hand"),
}
DEFAULT_TOPICS = {
    "newsletter": _l("Newsletter"),
    "promotions": _l("Offers and promotions"),
    "events": _l("Events and webinars"),
}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def topics() -> dict[str, str]:
    """The tenant's subscription topics (key → label): module settings or the defaults."""
    stored = module_settings("marketing").get("topics")
    if isinstance(stored, dict) and stored:
        return {k: str(v) for k, v in stored.items() if _KEY.match(k)}
    return {k: str(v) for k, v in DEFAULT_TOPICS.items()}


def normalise(address: Any) -> str:
    """A lowercased, validated address; raises ``ValidationFailed`` (field ``email``)."""
    try:
        cleaned = clean_email(address)
    except ValueError as exc:
        raise ValidationFailed({"email": str(exc)}) from exc
    if not cleaned:
        raise ValidationFailed({"email": _("Enter an e-mail address.")})
    return cleaned


def suppressed_clause(email_column: Any, topic: str | None) -> Any:
    """SQL: the address in ``email_column`` is suppressed for every topic or for ``topic``."""
    scopes = ["all"] if topic is None else ["all", topic]
    return exists(
        select(Suppression.id).where(
            Suppression.tenant_id == require_tenant().id,
            Suppression.email == func.lower(email_column),
            Suppression.scope.in_(scopes),
        )
    )


def suppressed_among(addresses: Iterable[str], topic: str | None) -> set[str]:
    """Which of ``addresses`` (lowercase) are suppressed for ``topic`` (one query)."""
    wanted = {a.lower() for a in addresses if a}
    if not wanted:
        return set()
    scopes = ["all"] if topic is None else ["all", topic]
    stmt = select(Suppression.email).where(
        Suppression.email.in_(wanted), Suppression.scope.in_(scopes)
    )
    return set(db.session.scalars(stmt))


def is_suppressed(address: str, topic: str | None = None) -> bool:
    """True when no send about ``topic`` may reach ``address``."""
    return bool(suppressed_among([address], topic))


def suppress(
    address: Any,
    *,
    scope: str = "all",
    reason: str = "manual",
    contact_id: Any = None,
    message_id: Any = None,
    note: str | None = None,
) -> tuple[Suppression, bool]:
    """Put an address on the list (idempotent); returns the entry and whether it is new."""
    cleaned = normalise(address)
    if scope != "all" and scope not in topics():
        raise ValidationFailed({"scope": _("Choose every topic or one of the topics.")})
    if reason not in REASONS:
        raise ValidationFailed({"reason": _("Choose one of the listed options.")})
    found = db.session.scalars(
        select(Suppression).where(Suppression.email == cleaned, Suppression.scope == scope)
    ).first()
    if found is not None:
        return found, False
    entry = Suppression(
        email=cleaned,
        scope=scope,
        reason=reason,
        contact_id=parse_uuid(str(contact_id)) if contact_id else None,
        source_message_id=parse_uuid(str(message_id)) if message_id else None,
        note=(note or "").strip()[:2000] or None,
    )
    db.session.add(entry)
    db.session.flush()
    return entry, True


def unsubscribe(
    address: str,
    *,
    contact_id: Any = None,
    message_id: Any = None,
    scope: str = "all",
    reason: str = "unsubscribed",
) -> bool:
    """Unsubscribe an address (from everything or one topic). Emits ``contact.unsubscribed``
    and stops the contact's sequences when the address was not already unsubscribed."""
    entry, new = suppress(
        address, scope=scope, reason=reason, contact_id=contact_id, message_id=message_id
    )
    if message_id is not None:
        db.session.execute(
            update(Message)
            .where(Message.id == parse_uuid(str(message_id)), Message.unsubscribed_at.is_(None))
            .values(unsubscribed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if not new:
        return False
    if scope == "all" and contact_id is not None:
        from .sequences import stop_enrollments

        stop_enrollments([contact_id], "unsubscribed")
    emit_event(
        "contact.unsubscribed",
        record_id=entry.contact_id,
        data={
            "email": entry.email,
            "scope": scope,
            "reason": reason,
            "message_id": str(message_id) if message_id else None,
        },
    )
    return True


def resubscribe(address: str, scope: str) -> None:
    """Take an address off the list for ``scope`` (the contact opted in again)."""
    cleaned = normalise(address)
    for entry in db.session.scalars(
        select(Suppression).where(Suppression.email == cleaned, Suppression.scope == scope)
    ):
        db.session.delete(entry)
    db.session.flush()


def scopes_of(address: str) -> set[str]:
    """The scopes an address is suppressed for."""
    stmt = select(Suppression.scope).where(Suppression.email == address.lower())
    return set(db.session.scalars(stmt))


# --------------------------------------------------------------------------- bounces


def record_bounce(
    message_id: Any, address: str | None, contact_id: Any, *, hard: bool, detail: str = ""
) -> None:
    """A message bounced (``message_id`` is our row's id, or ``None`` when unknown): mark
    it; a hard bounce also suppresses the address for every topic."""
    if message_id is not None:
        values: dict[str, Any] = {"bounced_at": utcnow(), "error": detail[:2000] or None}
        if hard:
            values["status"] = "bounced"
        db.session.execute(
            update(Message)
            .where(Message.id == message_id, Message.bounced_at.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if hard and address:
        suppress(
            address,
            reason="bounced",
            contact_id=contact_id,
            message_id=message_id,
            note=detail[:500] or None,
        )


@dataclass(frozen=True)
class BounceNotice:
    """One failed recipient of a delivery status notification."""

    recipient: str | None
    status: str
    hard: bool
    original_message_id: str | None
    diagnostic: str


def parse_dsn(raw: bytes | str) -> list[BounceNotice]:
    """The failed recipients of a delivery status notification (``multipart/report``)."""
    data = raw.encode() if isinstance(raw, str) else raw
    report = email.message_from_bytes(data, policy=email.policy.default)
    original = None
    notices: list[BounceNotice] = []
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype in ("text/rfc822-headers", "message/rfc822"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                original = payload[0].get("Message-ID") or original
            else:
                text = part.get_payload(decode=True) or b""
                headers = email.message_from_bytes(text, policy=email.policy.default)
                original = headers.get("Message-ID") or original
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload():
            action = (block.get("Action") or "").strip().lower()
            if action not in ("failed", "delayed"):
                continue
            status = (block.get("Status") or "").strip()
            recipient = block.get("Final-Recipient") or block.get("Original-Recipient") or ""
            address = recipient.split(";", 1)[-1].strip() or None
            notices.append(
                BounceNotice(
                    recipient=address.lower() if address else None,
                    status=status,
                    hard=action == "failed" and status.startswith("5"),
                    original_message_id=str(original).strip() if original else None,
                    diagnostic=(block.get("Diagnostic-Code") or "").strip(),
                )
            )
    return notices


def message_by_header(message_id: str | None) -> Message | None:
    """The message sent with this ``Message-ID`` header, if it is one of ours."""
    if not message_id:
        return None
    return db.session.scalars(select(Message).where(Message.message_id == message_id)).first()


def message_of_verp(address: str | None) -> Message | None:
    """The message a VERP bounce address ``bounce+<message id>@...`` names."""
    match = re.match(r"^[^+@]+\+([0-9a-f]{32})@", address or "")
    if not match:
        return None
    stmt = select(Message).where(Message.id == uuid.UUID(match.group(1)))
    return db.session.scalars(stmt).first()


def process_bounce_report(raw: bytes | str, *, envelope_to: str | None = None) -> int:
    """Record every failed recipient of a DSN; returns how many were recorded."""
    notices = parse_dsn(raw)
    if not notices:
        raise ValidationFailed({"raw": _("This is not a delivery status notification.")})
    done = 0
    for notice in notices:
        message = message_by_header(notice.original_message_id) or message_of_verp(envelope_to)
        if message is None and notice.recipient is None:
            continue
        if message is not None and notice.recipient and message.email != notice.recipient:
            message = None
        record_bounce(
            message.id if message else None,
            notice.recipient or (message.email if message else None),
            message.contact_id if message else None,
            hard=notice.hard,
            detail=f"{notice.status} {notice.diagnostic}".strip(),
        )
        done += 1
    return done
