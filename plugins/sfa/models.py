"""The tables of the sales module, tenant-scoped like every tenant table.

* ``Pipeline`` and its ordered ``Stage`` rows (probability, rotting days, open/won/lost);
* ``Deal`` (an opportunity) in one stage of one pipeline, with ``version`` for optimistic
  concurrency (a stale write raises instead of overwriting), and ``DealStageChange``, the
  append-only history of its moves;
* ``Lead`` (a prospect not yet a customer) with its ``LeadActivity`` log, the tenant's
  ``ScoringRule`` and ``AssignmentRule`` rows;
* ``Quota``: a rep's target amount per quarter.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_platform.sdk import (
    Account,
    Base,
    Contact,
    TenantScoped,
    User,
    tenant_foreign_key,
    tenant_relationship,
    utcnow,
)

#: Where a stage leaves a deal: still open, won or lost.
OUTCOMES = ("open", "won", "lost")
#: A deal's forecast category (``omitted``: left out of the forecast).
FORECAST_CATEGORIES = ("commit", "best_case", "pipeline", "omitted")
#: A lead's life: worked until qualified (then converted) or unqualified.
LEAD_STATUSES = ("new", "working", "qualified", "unqualified", "converted")
#: Statuses of leads someone still has to work (the pool reclaims only these).
OPEN_LEAD_STATUSES = ("new", "working", "qualified")
AMOUNT = Numeric(14, 2)


def _user_fk() -> Any:
    return ForeignKey("users.id", ondelete="SET NULL")


class Pipeline(TenantScoped, Base):
    """A sales process: its stages in order. One pipeline of a tenant is the default."""

    __tablename__ = "sfa_pipelines"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Stage(TenantScoped, Base):
    """One step of a pipeline: its probability of winning and after how many days a deal
    sitting in it "rots" (needs attention)."""

    __tablename__ = "sfa_stages"
    __table_args__ = (
        tenant_foreign_key("pipeline_id", "sfa_pipelines", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "pipeline_id", "name"),
    )

    pipeline_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[int] = mapped_column(Integer, default=0)
    rotting_days: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(10), default="open")

    @property
    def is_won(self) -> bool:
        """Deals here are won."""
        return self.outcome == "won"

    @property
    def is_lost(self) -> bool:
        """Deals here are lost."""
        return self.outcome == "lost"

    @property
    def is_closed(self) -> bool:
        """Deals here are won or lost."""
        return self.outcome != "open"


class Deal(TenantScoped, Base):
    """An opportunity: an amount someone may buy, moving through a pipeline's stages."""

    __tablename__ = "sfa_deals"
    __table_args__ = (
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("contact_id", "contacts"),
        tenant_foreign_key("pipeline_id", "sfa_pipelines"),
        tenant_foreign_key("stage_id", "sfa_stages"),
        Index("ix_sfa_deals_tenant_board", "tenant_id", "pipeline_id", "status", "stage_id"),
        Index("ix_sfa_deals_tenant_owner", "tenant_id", "owner_id", "status"),
        Index("ix_sfa_deals_tenant_close", "tenant_id", "status", "expected_close"),
        Index("ix_sfa_deals_tenant_closed_at", "tenant_id", "status", "closed_at"),
        Index("ix_sfa_deals_tenant_account", "tenant_id", "account_id"),
        Index("ix_sfa_deals_tenant_contact", "tenant_id", "contact_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    stage_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3))
    expected_close: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    competitors: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    close_reason: Mapped[str | None] = mapped_column(Text)
    forecast_category: Mapped[str] = mapped_column(String(20), default="pipeline")
    status: Mapped[str] = mapped_column(String(10), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    account: Mapped[Account | None] = tenant_relationship("Deal.account_id", "Account")
    contact: Mapped[Contact | None] = tenant_relationship("Deal.contact_id", "Contact")
    pipeline: Mapped[Pipeline] = tenant_relationship("Deal.pipeline_id", "Pipeline")
    stage: Mapped[Stage] = tenant_relationship("Deal.stage_id", "Stage", lazy="joined")
    owner: Mapped[User | None] = relationship(User, foreign_keys=[owner_id], lazy="joined")


class DealStageChange(TenantScoped, Base):
    """One move of a deal from a stage to another (names kept: stages may be renamed)."""

    __tablename__ = "sfa_deal_stage_changes"
    __table_args__ = (
        tenant_foreign_key("deal_id", "sfa_deals", ondelete="CASCADE"),
        Index("ix_sfa_deal_stage_changes_tenant_deal", "tenant_id", "deal_id", "changed_at"),
    )

    deal_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    from_stage_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    to_stage_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    from_name: Mapped[str | None] = mapped_column(String(100))
    to_name: Mapped[str] = mapped_column(String(100))
    probability: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal("0"))
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    changed_by: Mapped[User | None] = relationship(User, lazy="joined")


class Lead(TenantScoped, Base):
    """Someone who may become a customer: captured, scored, assigned, worked, converted."""

    __tablename__ = "sfa_leads"
    __table_args__ = (
        tenant_foreign_key("converted_account_id", "accounts"),
        tenant_foreign_key("converted_contact_id", "contacts"),
        tenant_foreign_key("converted_deal_id", "sfa_deals"),
        Index("ix_sfa_leads_tenant_status", "tenant_id", "status", "owner_id"),
        Index("ix_sfa_leads_tenant_owner", "tenant_id", "owner_id", "worked_at"),
        Index("ix_sfa_leads_tenant_email", "tenant_id", "email"),
        Index("ix_sfa_leads_tenant_created", "tenant_id", "created_at"),
        Index("ix_sfa_leads_tenant_account", "tenant_id", "converted_account_id"),
        Index("ix_sfa_leads_tenant_contact", "tenant_id", "converted_contact_id"),
    )

    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="new")
    score: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    region: Mapped[str | None] = mapped_column(String(80))
    industry: Mapped[str | None] = mapped_column(String(80))
    notes: Mapped[str | None] = mapped_column(Text)
    captured_via: Mapped[str] = mapped_column(String(20), default="form")
    #: When someone last worked the lead (or it was assigned): the pool's clock.
    worked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reclaimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    converted_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    converted_contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    converted_deal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    owner: Mapped[User | None] = relationship(User, foreign_keys=[owner_id], lazy="joined")
    converted_account: Mapped[Account | None] = tenant_relationship(
        "Lead.converted_account_id", "Account"
    )
    converted_contact: Mapped[Contact | None] = tenant_relationship(
        "Lead.converted_contact_id", "Contact"
    )
    converted_deal: Mapped[Deal | None] = tenant_relationship("Lead.converted_deal_id", "Deal")


class LeadActivity(TenantScoped, Base):
    """A call, meeting, e-mail or note logged on a lead (moved to the contact on conversion)."""

    __tablename__ = "sfa_lead_activities"
    __table_args__ = (
        tenant_foreign_key("lead_id", "sfa_leads", ondelete="CASCADE"),
        Index("ix_sfa_lead_activities_tenant_lead", "tenant_id", "lead_id", "created_at"),
    )

    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    created_by: Mapped[User | None] = relationship(User, lazy="joined")


class ScoringRule(TenantScoped, Base):
    """Points a lead earns: for a field condition (``kind="field"``) or for each activity of
    a kind logged on it (``kind="activity"``). Points may be negative."""

    __tablename__ = "sfa_scoring_rules"

    kind: Mapped[str] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(40))
    operator: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(String(200))
    activity_kind: Mapped[str | None] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AssignmentRule(TenantScoped, Base):
    """Who gets a new lead: the first active rule (by position) whose condition matches
    assigns it round-robin among its members."""

    __tablename__ = "sfa_assignment_rules"

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    match_field: Mapped[str] = mapped_column(String(20), default="any")
    match_value: Mapped[str | None] = mapped_column(String(200))
    member_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Quota(TenantScoped, Base):
    """A rep's sales target for one quarter, in the module's currency."""

    __tablename__ = "sfa_quotas"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "year", "quarter"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    currency: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


from . import planning_models  # noqa: E402,F401  (territories, team hierarchy, reminders)

from . import quote_models  # noqa: E402,F401  # isort: skip  (products, price books, quotes)
