"""provider console: platform staff, plugin approvals, impersonations, staff actions

Revision ID: 0009_provider_console
Revises: 0007_merge
Create Date: 2026-11-23 12:00:00

Four platform tables (no tenant rows, so no row-level security): ``platform_staff`` (a
platform role, never a tenant role), ``plugin_approvals`` (modules the provider approved or
hid from tenants), ``impersonations`` (time-limited, audited staff sessions in one tenant) and
``staff_actions`` (append-only: the app and provider roles may only read and insert).
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import grant_platform_table

revision = "0009_provider_console"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "platform_staff",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_platform_staff_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_platform_staff")),
    )
    op.create_table(
        "plugin_approvals",
        sa.Column("module_key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["users.id"], name=op.f("fk_plugin_approvals_changed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("module_key", name=op.f("pk_plugin_approvals")),
    )
    op.create_table(
        "impersonations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("staff_user_id", sa.Uuid(), nullable=False),
        sa.Column("staff_email", sa.String(length=254), nullable=False),
        sa.Column("target_tenant_id", sa.Uuid(), nullable=False),
        sa.Column("member_user_id", sa.Uuid(), nullable=True),
        sa.Column("member_email", sa.String(length=254), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_user_id"], ["users.id"],
            name=op.f("fk_impersonations_member_user_id_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["users.id"],
            name=op.f("fk_impersonations_staff_user_id_users"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_tenant_id"], ["tenants.id"],
            name=op.f("fk_impersonations_target_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impersonations")),
    )
    op.create_index(
        "ix_impersonations_tenant_started", "impersonations", ["target_tenant_id", "started_at"],
        unique=False,
    )
    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_user_id", sa.Uuid(), nullable=True),
        sa.Column("staff_email", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("target", sa.String(length=254), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["users.id"], name=op.f("fk_staff_actions_staff_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_tenant_id"], ["tenants.id"],
            name=op.f("fk_staff_actions_target_tenant_id_tenants"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_actions")),
    )
    op.create_index("ix_staff_actions_at", "staff_actions", ["at"], unique=False)

    for table in ("platform_staff", "plugin_approvals", "impersonations"):
        grant_platform_table(table)
    grant_platform_table("staff_actions", "SELECT, INSERT")


def downgrade():
    op.drop_index("ix_staff_actions_at", table_name="staff_actions")
    op.drop_table("staff_actions")
    op.drop_index("ix_impersonations_tenant_started", table_name="impersonations")
    op.drop_table("impersonations")
    op.drop_table("plugin_approvals")
    op.drop_table("platform_staff")
