"""The automation module's tables: rules, their runs, e-mail templates, approval policies
and approval requests. Every table is a tenant table (``TenantScoped``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_platform.sdk import Base, TenantScoped, tenant_foreign_key, utcnow

#: Run states: ``running`` while the actions run, then ``ok``, ``failed`` or ``skipped``.
RUN_STATES = ("running", "ok", "failed", "skipped")


class Rule(TenantScoped, Base):
    """A workflow rule: a trigger, conditions on the record, and actions.

    ``trigger_type`` is ``event`` (``event`` names the domain event), ``date`` (a date field
    N days before/after, in ``trigger``) or ``schedule`` (daily/weekly at a time).
    """

    __tablename__ = "automation_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_automation_rules_tenant_event", "tenant_id", "active", "event"),
    )

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger_type: Mapped[str] = mapped_column(String(20), default="event")
    event: Mapped[str | None] = mapped_column(String(80))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(10))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RuleRun(TenantScoped, Base):
    """One run of a rule for one change (or one day of a time-based rule).

    ``key`` identifies the change (``event:<id>``, ``date:<record>:<day>``,
    ``schedule:<day>``); the unique ``(rule_id, key)`` makes a retried job skip a run that
    already happened, so a matching change runs the rule's actions exactly once.
    """

    __tablename__ = "automation_runs"
    __table_args__ = (
        tenant_foreign_key("rule_id", "automation_rules", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "rule_id", "key"),
        Index("ix_automation_runs_tenant_rule_started", "tenant_id", "rule_id", "started_at"),
    )

    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="running")
    error: Mapped[str | None] = mapped_column(Text)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailTemplate(TenantScoped, Base):
    """An e-mail the *send e-mail* action renders with the record's fields."""

    __tablename__ = "automation_email_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApprovalPolicy(TenantScoped, Base):
    """*A quote with a line discount above N % needs approval by a role or a member.*"""

    __tablename__ = "automation_approval_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default="quote")
    action: Mapped[str] = mapped_column(String(20), default="send")
    threshold_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    approver_role: Mapped[str | None] = mapped_column(String(20))
    approver_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApprovalRequest(TenantScoped, Base):
    """A held step waiting for (or given) an approver's decision.

    One request per record, step and set of facts (``facts_key``): sending the same quote
    again finds the same request; changing its discount asks again.
    """

    __tablename__ = "automation_approval_requests"
    __table_args__ = (
        tenant_foreign_key("policy_id", "automation_approval_policies", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "kind", "record_id", "action", "facts_key"),
        Index("ix_automation_approval_requests_tenant_status", "tenant_id", "status"),
    )

    policy_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    facts_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
