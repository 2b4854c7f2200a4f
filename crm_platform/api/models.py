"""API keys: per tenant, shown once, stored as a SHA-256 hash, revocable.

A key reads ``crm_<prefix>_<tenant id hex>_<secret>``. The tenant part lets a request find
its tenant (a platform table) before any tenant data is read, so the key row itself is read
inside the tenant's context, under row-level security like every tenant table. ``prefix``
identifies the key to people (shown in the list); only the hash of the whole key is stored,
and it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base, db
from ..identity import User
from ..tenancy import TenantScoped, utcnow
from ..tenant_cache import watch

SCOPES = ("read", "read_write")
SCOPE_LABELS = {"read": _l("Read"), "read_write": _l("Read and write")}
KEY_PREFIX = "crm"
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN_RE = re.compile(r"^crm_([a-z0-9]{8})_([0-9a-f]{32})_([A-Za-z0-9_-]{40,64})$")


class ApiKey(TenantScoped, Base):
    """A tenant's API key; acts with the role and visibility of the member who created it."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "prefix"),)

    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(20), default="read")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    created_by: Mapped[User | None] = relationship(User, lazy="joined")

    @property
    def display_prefix(self) -> str:
        """What people see of the key: ``crm_<prefix>…``."""
        return f"{KEY_PREFIX}_{self.prefix}…"

    @property
    def can_write(self) -> bool:
        """True for a read-and-write key."""
        return self.scope == "read_write"

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


watch(ApiKey, ignore={"last_used_at"})


def hash_token(token: str) -> str:
    """The stored form of a key: hex SHA-256 (keys carry 256 bits of randomness)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ParsedToken:
    """The parts of a presented key."""

    prefix: str
    tenant_id: uuid.UUID


def parse_token(token: str) -> ParsedToken | None:
    """The prefix and tenant of a well-formed key, else ``None``."""
    match = _TOKEN_RE.match(token or "")
    if match is None:
        return None
    return ParsedToken(match.group(1), uuid.UUID(hex=match.group(2)))


def issue_key(tenant: Any, name: str, scope: str, created_by: Any) -> tuple[ApiKey, str]:
    """A new key of the tenant in context, and its full text (shown once). Caller commits."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    taken = set(db.session.scalars(select(ApiKey.prefix)))
    prefix = ""
    while not prefix or prefix in taken:
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    token = f"{KEY_PREFIX}_{prefix}_{tenant.id.hex}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=hash_token(token),
        scope=scope,
        created_by_id=getattr(created_by, "id", None),
    )
    db.session.add(key)
    db.session.flush()
    return key, token


def find_key(token: str, parsed: ParsedToken) -> ApiKey | None:
    """The live key of the tenant in context that ``token`` is, else ``None``."""
    key = db.session.execute(
        select(ApiKey).where(ApiKey.prefix == parsed.prefix)
    ).scalar_one_or_none()
    if key is None or not hmac.compare_digest(key.secret_hash, hash_token(token)):
        return None
    return key if key.revoked_at is None else None
