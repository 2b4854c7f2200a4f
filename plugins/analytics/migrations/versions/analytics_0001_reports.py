"""analytics: saved reports, dashboards and their widgets, report runs, scheduled exports

Revision ID: analytics_0001
Revises:
Create Date: 2026-11-23 23:30:00

The first revision of the analytics module's own branch (``analytics``). Every table is
tenant-scoped: ``(tenant_id, id)`` keys, composite foreign keys, row-level security on
PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "analytics_0001"
down_revision = None
branch_labels = ("analytics",)
depends_on = "0003_customer_database"

TABLES = (
    "analytics_reports",
    "analytics_dashboards",
    "analytics_widgets",
    "analytics_runs",
    "analytics_files",
)


def upgrade():
    op.create_table(
        "analytics_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_analytics_runs_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_analytics_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_analytics_runs")),
    )
    op.create_index(
        "ix_analytics_runs_tenant_owner", "analytics_runs", ["tenant_id", "owner_id"], unique=False
    )
    op.create_table(
        "analytics_dashboards",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_analytics_dashboards_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["teams.tenant_id", "teams.id"],
            name=op.f("fk_analytics_dashboards_tenant_id_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_analytics_dashboards_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_analytics_dashboards")),
    )
    op.create_index(
        "ix_analytics_dashboards_tenant_owner",
        "analytics_dashboards",
        ["tenant_id", "owner_id"],
        unique=False,
    )
    op.create_table(
        "analytics_reports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("sharing", sa.String(length=12), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("schedule", sa.String(length=10), nullable=False),
        sa.Column("schedule_format", sa.String(length=4), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_analytics_reports_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["teams.tenant_id", "teams.id"],
            name=op.f("fk_analytics_reports_tenant_id_team_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_analytics_reports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_analytics_reports")),
    )
    op.create_index(
        "ix_analytics_reports_tenant_owner",
        "analytics_reports",
        ["tenant_id", "owner_id"],
        unique=False,
    )
    op.create_index(
        "ix_analytics_reports_tenant_schedule",
        "analytics_reports",
        ["tenant_id", "schedule"],
        unique=False,
    )
    op.create_table(
        "analytics_files",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("mimetype", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "report_id"],
            ["analytics_reports.tenant_id", "analytics_reports.id"],
            name=op.f("fk_analytics_files_tenant_id_report_id_analytics_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_analytics_files_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_analytics_files")),
    )
    op.create_index(
        "ix_analytics_files_tenant_report",
        "analytics_files",
        ["tenant_id", "report_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "analytics_widgets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dashboard_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("builtin", sa.String(length=60), nullable=True),
        sa.Column("module_widget", sa.String(length=200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("size", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "dashboard_id"],
            ["analytics_dashboards.tenant_id", "analytics_dashboards.id"],
            name=op.f("fk_analytics_widgets_tenant_id_dashboard_id_analytics_dashboards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "report_id"],
            ["analytics_reports.tenant_id", "analytics_reports.id"],
            name=op.f("fk_analytics_widgets_tenant_id_report_id_analytics_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_analytics_widgets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_analytics_widgets")),
    )
    op.create_index(
        "ix_analytics_widgets_tenant_dashboard",
        "analytics_widgets",
        ["tenant_id", "dashboard_id", "position"],
        unique=False,
    )

    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
