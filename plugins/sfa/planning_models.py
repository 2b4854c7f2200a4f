"""The tables of day planning and territories (migration ``sfa_0003_planning``).

* ``TeamParent``: the team hierarchy. The core's teams are flat; a row here says that a team
  sits under another one (a manager of the parent sees the sub-teams' pipeline).
* ``Territory`` with its ``TerritoryRule`` rows (the account's or lead's region or industry
  being one of the values; rules of one field are alternatives, two fields must both match)
  and its ``TerritoryMember`` rows (who works it).
* ``Reminder``: one row per reminder sent (an activity due soon, a key contact's birthday or
  anniversary), so that the scheduled job sends each one once.

The activities themselves are the core's (``crm_platform.sdk.Activity``), and birthdays are
the core's contact custom fields: nothing here repeats a core table.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow

#: What a territory rule looks at (the deal's account's column, or the lead's own).
TERRITORY_FIELDS = ("region", "industry")
#: What a reminder was about.
REMINDER_KINDS = ("activity", "birthday", "anniversary")


class TeamParent(TenantScoped, Base):
    """``team_id`` sits under ``parent_id`` (at most one parent per team, no cycles)."""

    __tablename__ = "sfa_team_parents"
    __table_args__ = (
        tenant_foreign_key("team_id", "teams", ondelete="CASCADE"),
        tenant_foreign_key("parent_id", "teams", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "team_id"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    parent_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class Territory(TenantScoped, Base):
    """A sales territory: the accounts and leads of some regions and/or industries."""

    __tablename__ = "sfa_territories"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TerritoryRule(TenantScoped, Base):
    """One value of a territory's condition: ``field`` (region or industry) equals ``value``
    (stored case-folded)."""

    __tablename__ = "sfa_territory_rules"
    __table_args__ = (
        tenant_foreign_key("territory_id", "sfa_territories", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "territory_id", "field", "value"),
        Index("ix_sfa_territory_rules_tenant_value", "tenant_id", "field", "value"),
    )

    territory_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    field: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(80))


class TerritoryMember(TenantScoped, Base):
    """A member who works a territory (sees its deals and leads under the territory rule)."""

    __tablename__ = "sfa_territory_members"
    __table_args__ = (
        tenant_foreign_key("territory_id", "sfa_territories", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "territory_id", "user_id"),
        Index("ix_sfa_territory_members_tenant_user", "tenant_id", "user_id"),
    )

    territory_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))


class Reminder(TenantScoped, Base):
    """A reminder that went out: ``kind`` of ``record_id`` for ``occasion`` (the due date of
    an activity, the date of a birthday or anniversary), to ``user_id``."""

    __tablename__ = "sfa_reminders"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "record_id", "occasion"),)

    kind: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    occasion: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- board indexes
# The board's cards of a stage come in close-date order, and its won and lost columns newest
# closed first: each column is then a walk of its first index entries instead of a sort of
# every deal of the stage (see bench/bench_sfa.py). The forecast's won-deals sums read only
# the covering index. Declared here, with the migration that adds them (sfa_0003_planning).
from .models import Deal  # noqa: E402

Index(
    "ix_sfa_deals_tenant_stage_close", Deal.tenant_id, Deal.stage_id, Deal.expected_close, Deal.id
)
Index("ix_sfa_deals_tenant_stage_closed_at", Deal.tenant_id, Deal.stage_id, Deal.closed_at)
Index(
    "ix_sfa_deals_tenant_won",
    Deal.tenant_id,
    Deal.status,
    Deal.closed_at,
    postgresql_include=["currency", "owner_id", "amount"],
)
