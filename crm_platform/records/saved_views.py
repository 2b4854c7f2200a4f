"""Saved views: a user's named filter and sort of a record list, private to that user."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Base, db
from ..tenancy import TenantScoped, utcnow

MAX_VIEWS = 50


class SavedView(TenantScoped, Base):
    """A named query string of the accounts or contacts list, for one user."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "entity", "name"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def views_of(user_id: uuid.UUID, entity: str) -> list[SavedView]:
    """The saved views of one user for ``entity``, by name."""
    stmt = select(SavedView).where(SavedView.user_id == user_id, SavedView.entity == entity)
    return list(db.session.scalars(stmt.order_by(SavedView.name)))
