"""Tables of the Calendar module: a member's CalDAV connection, the per-item sync state,
the calendar details of an activity (time of day, length, location) and feed tokens."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow

#: Status of a connection: never checked, checked (a calendar may be chosen), synced, failed.
STATUSES = ("new", "checked", "ok", "error")


class Connection(TenantScoped, Base):
    """One member's CalDAV account and the calendar their meetings and tasks go to.

    The password is stored encrypted (``secret``) and never sent back to a page.
    """

    __tablename__ = "calendar_connections"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    server_url: Mapped[str] = mapped_column(String(500))
    username: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(Text)
    calendars: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    calendar_url: Mapped[str | None] = mapped_column(String(1000))
    calendar_name: Mapped[str | None] = mapped_column(String(200))
    import_new: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    ctag: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="new")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @property
    def ready(self) -> bool:
        """A calendar is chosen and sync is on."""
        return bool(self.enabled and self.calendar_url)


class SyncItem(TenantScoped, Base):
    """What was last synced of one calendar object: its href and ETag on the server and the
    hash of the CRM side then. ``activity_id`` has no foreign key on purpose: the row must
    outlive a deleted activity so that the sync deletes it on the server too."""

    __tablename__ = "calendar_sync_items"
    __table_args__ = (
        tenant_foreign_key("connection_id", "calendar_connections", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "connection_id", "href"),
        Index("ix_calendar_sync_items_activity", "tenant_id", "activity_id"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    uid: Mapped[str] = mapped_column(String(255))
    href: Mapped[str] = mapped_column(String(1000))
    etag: Mapped[str | None] = mapped_column(String(255))
    crm_hash: Mapped[str | None] = mapped_column(String(64))
    #: synced, remote_deleted (removed on the server: not pushed again until changed in the
    #: CRM) or ignored (a server object that is not imported).
    state: Mapped[str] = mapped_column(String(20), default="synced")
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EventDetail(TenantScoped, Base):
    """Calendar details of an activity the core does not hold: the time of day (UTC) and
    length of a meeting and its location. Without a row a meeting is an all-day event."""

    __tablename__ = "calendar_event_details"
    __table_args__ = (
        tenant_foreign_key("activity_id", "activities", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "activity_id"),
    )

    activity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    start_time: Mapped[time | None] = mapped_column(Time)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(500))


class Feed(TenantScoped, Base):
    """A member's read-only iCalendar feed: only the SHA-256 of its secret token is kept."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        UniqueConstraint("tenant_id", "token_hash"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
