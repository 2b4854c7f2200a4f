"""Teams: named groups of members, used for record visibility ("my team's records")."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Base, db
from ..identity import User
from ..tenancy import TenantScoped, tenant_foreign_key, tenant_relationship, utcnow


class Team(TenantScoped, Base):
    """A team of a tenant (sales East, key accounts ...)."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TeamMember(TenantScoped, Base):
    """A user's place in a team."""

    __tablename__ = "team_members"
    __table_args__ = (
        tenant_foreign_key("team_id", "teams", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "team_id", "user_id"),
        Index("ix_team_members_tenant_user", "tenant_id", "user_id"),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))

    team: Mapped[Team] = tenant_relationship("TeamMember.team_id", "Team")
    user: Mapped[User] = relationship(User, lazy="joined")


def all_teams() -> list[Team]:
    """Every team of the tenant, by name."""
    return list(db.session.scalars(select(Team).order_by(Team.name)))
