"""Webhook subscriptions, their deliveries (one per event) and each delivery's attempts."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Base
from ..tenancy import TenantScoped, tenant_foreign_key, utcnow

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"

#: Labels of a delivery's status.
STATUS_LABELS = {
    PENDING: _l("pending"),
    SENDING: _l("sending"),
    DELIVERED: _l("delivered"),
    FAILED: _l("failed"),
}


def new_secret() -> str:
    """A fresh signing secret (``whsec_`` and 43 URL-safe characters)."""
    return "whsec_" + secrets.token_urlsafe(32)


class Webhook(TenantScoped, Base):
    """A URL subscribed to some of the tenant's domain events."""

    __tablename__ = "webhooks"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(100), default=new_secret)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def label(self) -> str:
        """The description, else the URL."""
        return self.description or self.url


class WebhookDelivery(TenantScoped, Base):
    """One event for one webhook: its body (fixed once), status and latest attempt.

    ``id`` is sent as the payload's ``id`` and in ``X-CRM-Delivery``: the same on every
    attempt, so receivers can use it as an idempotency key.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        tenant_foreign_key("webhook_id", "webhooks", ondelete="CASCADE"),
        Index("ix_webhook_deliveries_tenant_webhook", "tenant_id", "webhook_id", "id"),
    )

    webhook_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(Text)

    @property
    def status_label(self) -> Any:
        """The translated status."""
        return STATUS_LABELS.get(self.status, self.status)


class WebhookAttempt(TenantScoped, Base):
    """One POST of a delivery (retries and replays each add one)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        tenant_foreign_key("delivery_id", "webhook_deliveries", ondelete="CASCADE"),
        Index("ix_webhook_attempts_tenant_delivery", "tenant_id", "delivery_id", "number"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[int] = mapped_column(Integer)
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(Text)
