"""Tenants, users, memberships and invitations: who may enter which workspace as what.

``tenants`` and ``users`` are platform tables (a user may belong to several tenants).
``memberships`` and ``invitations`` are tenant-owned and isolated like any other tenant data;
a user's own memberships across tenants are read only through :func:`memberships_of_user`.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_pgettext
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import Base, db
from .ids import uuid7
from .tenancy import OWN_MEMBERSHIPS, TenantScoped, utcnow
from .tenant_cache import watch

ROLES: tuple[str, ...] = ("owner", "admin", "manager", "member", "readonly")
ROLE_LABELS = {
    "owner": lazy_pgettext("role", "Owner"),
    "admin": lazy_pgettext("role", "Admin"),
    "manager": lazy_pgettext("role", "Manager"),
    "member": lazy_pgettext("role", "Member"),
    "readonly": lazy_pgettext("role", "Read-only"),
}

#: Permissions of each role. ``owner`` holds every permission, including ones plugins add.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset({"*"}),
    "admin": frozenset(
        {
            "records.read",
            "records.write",
            "records.delete",
            "members.read",
            "members.manage",
            "settings.manage",
            "audit.read",
        }
    ),
    "manager": frozenset({"records.read", "records.write", "records.delete", "members.read"}),
    "member": frozenset({"records.read", "records.write", "members.read"}),
    "readonly": frozenset({"records.read"}),
}

TENANT_STATUSES = ("active", "suspended")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset(
    {"admin", "api", "app", "auth", "login", "logout", "provider", "signup", "static", "www"}
)


def role_allows(role: str, permission: str) -> bool:
    """True when ``role`` grants ``permission`` (core roles plus modules' permissions)."""
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    if "*" in perms or permission in perms:
        return True
    from flask import current_app, has_app_context

    if not has_app_context():
        return False
    granted = current_app.extensions.get("crm_module_permissions", {})
    return role in granted.get(permission, ())


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a workspace, or ``None`` when its form is acceptable."""
    if not SLUG_RE.match(slug or ""):
        return _("Use 3-40 lowercase letters, digits or hyphens, not starting or ending with '-'.")
    if slug in RESERVED_SLUGS:
        return _("This address is reserved.")
    return None


class Tenant(Base):
    """A subscribing company: one workspace at ``/t/<slug>/``."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    industry: Mapped[str] = mapped_column(String(40), default="generic")
    locale: Mapped[str] = mapped_column(String(20), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Deletion with a grace period (``crm_platform.tenant_deletion``): set while scheduled.
    deletion_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delete_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deletion_requested_by: Mapped[str | None] = mapped_column(String(254))

    @property
    def is_active(self) -> bool:
        """False when the provider suspended this tenant or its deletion is scheduled."""
        return self.status == "active" and self.deletion_requested_at is None


watch(Tenant, tenant_of=lambda tenant: tenant.id)


class User(UserMixin, Base):
    """A person who signs in; may belong to several tenants through memberships."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Session identity: id and session version, so bumping the version signs out."""
        return f"{self.id}.{self.session_version}"


watch(User, tenant_of=lambda user: None, ignore={"last_login_at"})


class Membership(TenantScoped, Base):
    """A user's role in one tenant."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        Index("ix_memberships_user_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default="member")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")

    def can(self, permission: str) -> bool:
        """True when this membership's role grants ``permission``."""
        return role_allows(self.role, permission)


watch(Membership)


class Invitation(TenantScoped, Base):
    """An invitation to join a tenant, accepted once through a signed, expiring link."""

    __tablename__ = "invitations"

    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20), default="member")
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def status(self) -> str:
        """pending, accepted, revoked or expired."""
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        expires = self.expires_at
        if expires.tzinfo is None:  # SQLite returns naive datetimes
            expires = expires.replace(tzinfo=utcnow().tzinfo)
        return "expired" if expires <= utcnow() else "pending"


def memberships_of_user(user_id: uuid.UUID) -> list[tuple[Membership, Tenant]]:
    """Every membership of one user across tenants, with its tenant, ordered by tenant name.

    The only cross-tenant read of tenant data outside the provider scope: it is bounded by
    the user's own id here and, on PostgreSQL, by the ``memberships_self_read`` RLS policy on
    ``app.user_id`` (set from the signed-in user).
    """
    from .tenancy import _apply_rls_to_open_transaction, _user

    token = _user.set(user_id)
    try:
        _apply_rls_to_open_transaction()
        stmt = (
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Tenant.name)
            .execution_options(**{OWN_MEMBERSHIPS: user_id})
        )
        rows = db.session.execute(stmt).unique().all()
        return [(m, t) for m, t in rows]
    finally:
        _user.reset(token)
        _apply_rls_to_open_transaction()
