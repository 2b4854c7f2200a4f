"""The shared customer record: accounts (companies) and contacts (people).

Every module hangs its data off these; they are core so that all modules share one
customer record and timeline. What hangs off them in the core (teams, custom fields, tags,
activities, saved views) lives in :mod:`crm_platform.records`; the services that validate
and write records are in :mod:`crm_platform.records.service`.

Records are soft-deleted (``deleted_at``) and restored from the trash; a record merged into
another keeps ``merged_into_id`` pointing at the survivor. ``name_key`` (a normalised name,
for search and duplicate detection) is derived on every flush.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text, Uuid, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .extensions import Base
from .identity import User
from .tenancy import TenantScoped, tenant_foreign_key, tenant_relationship, utcnow

if TYPE_CHECKING:
    from .records.teams import Team

LIFECYCLE_STAGES = ("prospect", "lead", "customer", "loyal", "churned")
#: Employee bands of an account.
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
#: Where a record came from.
SOURCES = ("website", "referral", "event", "partner", "campaign", "cold_call", "import", "other")

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def name_key(*parts: str | None) -> str:
    """A name normalised for search and duplicate detection (case, width, punctuation)."""
    joined = " ".join(p for p in parts if p)
    folded = unicodedata.normalize("NFKC", joined).casefold()
    return _NOT_WORD.sub(" ", folded).strip()[:200]


class _Record:
    """Columns every customer record has (owner, team, classification, custom values)."""

    region: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    notes: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    name_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


def _indexes(table: str, *columns: str) -> tuple[Index, ...]:
    """One index per list/filter path, each leading with ``tenant_id``."""
    return tuple(Index(f"ix_{table}_tenant_{c}", "tenant_id", c) for c in columns)


def _where_present(column: str) -> dict[str, Any]:
    """A partial index of the rows where ``column`` has a value (what equality filters read)."""
    clause = text(f"{column} IS NOT NULL")
    return {"postgresql_where": clause, "sqlite_where": clause}


class Account(_Record, TenantScoped, Base):
    """A company the tenant does business with."""

    __tablename__ = "accounts"
    __crm_kind__ = "account"
    __table_args__ = (
        Index("ix_accounts_tenant_name", "tenant_id", "name"),
        tenant_foreign_key("team_id", "teams"),
        *_indexes(
            "accounts",
            "name_key",
            "owner_id",
            "team_id",
            "lifecycle_stage",
            "industry",
            "region",
            "email",
            "phone",
            "created_at",
            "updated_at",
            "deleted_at",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(80))
    size: Mapped[str | None] = mapped_column(String(20))
    website: Mapped[str | None] = mapped_column(String(254))
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="prospect")
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )

    owner: Mapped[User | None] = relationship(User, lazy="joined")
    team: Mapped[Team | None] = tenant_relationship("Account.team_id", "Team", lazy="joined")

    @property
    def display_name(self) -> str:
        """The name shown for the record."""
        return self.name

    def compute_name_key(self) -> str:
        """``name_key`` of this account."""
        return name_key(self.name)


class Contact(_Record, TenantScoped, Base):
    """A person, usually working for an account."""

    __tablename__ = "contacts"
    __crm_kind__ = "contact"
    # Each index costs every imported row: see migration 0008_contact_perf for the choices.
    __table_args__ = (
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("team_id", "teams"),
        Index(
            "ix_contacts_tenant_email",
            "tenant_id",
            "email",
            postgresql_ops={"email": "varchar_pattern_ops"},
            **_where_present("email"),
        ),
        Index(
            "ix_contacts_tenant_account", "tenant_id", "account_id", **_where_present("account_id")
        ),
        Index("ix_contacts_tenant_last_name", "tenant_id", "last_name", "first_name", "id"),
        Index(
            "ix_contacts_tenant_name_key",
            "tenant_id",
            "name_key",
            postgresql_ops={"name_key": "varchar_pattern_ops"},
        ),
        Index("ix_contacts_tenant_owner_id", "tenant_id", "owner_id"),
        Index("ix_contacts_tenant_team_id", "tenant_id", "team_id", **_where_present("team_id")),
        Index("ix_contacts_tenant_region", "tenant_id", "region", **_where_present("region")),
        Index("ix_contacts_tenant_phone", "tenant_id", "phone", **_where_present("phone")),
        Index("ix_contacts_tenant_created_at", "tenant_id", "created_at", "id"),
        Index("ix_contacts_tenant_updated_at", "tenant_id", "updated_at", "id"),
        Index(
            "ix_contacts_tenant_deleted_at",
            "tenant_id",
            "deleted_at",
            **_where_present("deleted_at"),
        ),
    )

    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str | None] = mapped_column(String(120))
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="lead")
    birthday: Mapped[date | None] = mapped_column(Date)
    anniversary: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )

    account: Mapped[Account | None] = tenant_relationship("Contact.account_id", "Account")
    owner: Mapped[User | None] = relationship(User, lazy="joined")
    team: Mapped[Team | None] = tenant_relationship("Contact.team_id", "Team", lazy="joined")

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name or ''} {self.last_name or ''}".strip()

    @property
    def display_name(self) -> str:
        """The name shown for the record."""
        return self.full_name

    def compute_name_key(self) -> str:
        """``name_key`` of this contact."""
        return name_key(self.first_name, self.last_name)


RECORD_MODELS: dict[str, type[Account] | type[Contact]] = {"account": Account, "contact": Contact}


@event.listens_for(Session, "before_flush")
def _derive_name_keys(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in chain(session.new, session.dirty):
        if isinstance(obj, Account | Contact):
            key = obj.compute_name_key()
            if obj.name_key != key:
                obj.name_key = key


# The tables the record hangs off (teams, custom fields, tags, activities, saved views).
from . import records  # noqa: E402,F401
