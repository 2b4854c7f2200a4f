"""Outgoing mail: every message is kept in the outbox; SMTP delivers it when configured.

With no ``MAIL_SERVER`` the outbox is the destination (the embedded default), and the UI
shows it. With SMTP configured, a job delivers each message after the transaction that
created it commits, retrying with backoff.
"""

from __future__ import annotations

import smtplib
import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import DateTime, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Base, db
from .ids import uuid7
from .jobs import job
from .tenancy import utcnow


class OutboxMessage(Base):
    """A message the platform sent or will send (platform table: no tenant data inside)."""

    __tablename__ = "mail_outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="outbox")  # outbox|queued|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def send_mail(to: str, subject: str, body: str) -> OutboxMessage:
    """Queue a plain-text message to ``to``; it is delivered after the transaction commits."""
    smtp = bool(current_app.config.get("MAIL_SERVER"))
    message = OutboxMessage(
        to=to, subject=subject, body=body, status="queued" if smtp else "outbox"
    )
    db.session.add(message)
    db.session.flush()
    if smtp:
        deliver_mail.enqueue_after_commit(message.id)  # type: ignore[attr-defined]
    return message


@job(retries=5)
def deliver_mail(message_id: uuid.UUID) -> None:
    """Deliver one outbox message over SMTP (idempotent: a sent message is not resent)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status == "sent":
        return
    cfg = current_app.config
    email = EmailMessage()
    email["From"] = cfg["MAIL_FROM"]
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=str(message.id))
    email.set_content(message.body)
    message.attempts += 1
    try:
        with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30) as smtp:
            if cfg.get("MAIL_USE_TLS"):
                smtp.starttls()
            if cfg.get("MAIL_USERNAME"):
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.status, message.error = "failed", str(exc)[:2000]
        db.session.commit()
        raise
    message.status, message.sent_at, message.error = "sent", utcnow(), None
    db.session.commit()
