"""The tables of the analytics module, tenant-scoped like every tenant table.

* ``SavedReport``: a report definition (JSON, see ``engine.Definition``) a member owns,
  private, shared with a team or with the whole workspace, optionally e-mailed on a schedule;
* ``Dashboard`` of a member or of a team, and its ordered ``DashboardWidget`` rows (a saved
  or built-in report's chart, or a module's dashboard widget);
* ``ReportRun``: a large report run as a job, its progress and result;
* ``ReportFile``: an export made by a scheduled e-mail, downloaded from the link it sends.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_platform.sdk import Base, TenantScoped, User, tenant_foreign_key, utcnow

#: Who sees a saved report besides its owner.
SHARING = ("private", "team", "workspace")
SCHEDULES = ("", "daily", "weekly", "monthly")
FORMATS = ("csv", "xlsx", "pdf")
RUN_STATUSES = ("queued", "running", "done", "failed")


def _user_fk(ondelete: str = "SET NULL") -> Any:
    return ForeignKey("users.id", ondelete=ondelete)


class SavedReport(TenantScoped, Base):
    """A report someone saved: its definition, who sees it, when it is e-mailed."""

    __tablename__ = "analytics_reports"
    __table_args__ = (
        tenant_foreign_key("team_id", "teams"),
        Index("ix_analytics_reports_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_analytics_reports_tenant_schedule", "tenant_id", "schedule"),
    )

    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    sharing: Mapped[str] = mapped_column(String(12), default="private")
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    schedule: Mapped[str] = mapped_column(String(10), default="")
    schedule_format: Mapped[str] = mapped_column(String(4), default="csv")
    recipients: Mapped[str | None] = mapped_column(Text)
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    owner: Mapped[User | None] = relationship(User, lazy="joined")


class Dashboard(TenantScoped, Base):
    """A member's own dashboard (``team_id`` empty) or a team's dashboard."""

    __tablename__ = "analytics_dashboards"
    __table_args__ = (
        tenant_foreign_key("team_id", "teams", ondelete="CASCADE"),
        Index("ix_analytics_dashboards_tenant_owner", "tenant_id", "owner_id"),
    )

    name: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk())
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DashboardWidget(TenantScoped, Base):
    """One widget of a dashboard: a report's chart (saved: ``report_id``; built-in:
    ``builtin``) or a module's dashboard widget (``module_widget``: its title)."""

    __tablename__ = "analytics_widgets"
    __table_args__ = (
        tenant_foreign_key("dashboard_id", "analytics_dashboards", ondelete="CASCADE"),
        tenant_foreign_key("report_id", "analytics_reports", ondelete="CASCADE"),
        Index("ix_analytics_widgets_tenant_dashboard", "tenant_id", "dashboard_id", "position"),
    )

    dashboard_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    report_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    builtin: Mapped[str | None] = mapped_column(String(60))
    module_widget: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[str] = mapped_column(String(10), default="half")


class ReportRun(TenantScoped, Base):
    """A large report run as a job: its definition, progress and result rows."""

    __tablename__ = "analytics_runs"
    __table_args__ = (Index("ix_analytics_runs_tenant_owner", "tenant_id", "owner_id"),)

    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, _user_fk("CASCADE"))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReportFile(TenantScoped, Base):
    """An export a scheduled report made, kept for the link its e-mail carries."""

    __tablename__ = "analytics_files"
    __table_args__ = (
        tenant_foreign_key("report_id", "analytics_reports", ondelete="CASCADE"),
        Index("ix_analytics_files_tenant_report", "tenant_id", "report_id", "created_at"),
    )

    report_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    filename: Mapped[str] = mapped_column(String(200))
    mimetype: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
