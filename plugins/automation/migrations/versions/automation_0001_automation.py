"""automation: workflow rules, their runs, e-mail templates, approval policies and requests

Revision ID: automation_0001
Revises:
Create Date: 2026-11-23 23:30:00

The automation module's own branch. Every table is a tenant table with row-level security.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "automation_0001"
down_revision = None
branch_labels = ("automation",)
depends_on = "0001_core"

TABLES = (
    "automation_approval_policies",
    "automation_email_templates",
    "automation_rules",
    "automation_approval_requests",
    "automation_runs",
)


def upgrade():
    op.create_table(
        "automation_approval_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("threshold_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("approver_role", sa.String(length=20), nullable=True),
        sa.Column("approver_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_approval_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_automation_approval_policies")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_automation_approval_policies_tenant_id_name")
        ),
    )
    op.create_table(
        "automation_email_templates",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_email_templates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_automation_email_templates")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_automation_email_templates_tenant_id_name")
        ),
    )
    op.create_table(
        "automation_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("trigger_type", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=True),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=10), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_automation_rules")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_automation_rules_tenant_id_name")),
    )
    op.create_index(
        "ix_automation_rules_tenant_event",
        "automation_rules",
        ["tenant_id", "active", "event"],
        unique=False,
    )
    op.create_table(
        "automation_approval_requests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("facts_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "policy_id"],
            ["automation_approval_policies.tenant_id", "automation_approval_policies.id"],
            name=op.f(
                "fk_automation_approval_requests_tenant_id_policy_id_automation_approval_policies"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_approval_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_automation_approval_requests")),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "record_id",
            "action",
            "facts_key",
            name=op.f("uq_automation_approval_requests_tenant_id_kind_record_id_action_facts_key"),
        ),
    )
    op.create_index(
        "ix_automation_approval_requests_tenant_status",
        "automation_approval_requests",
        ["tenant_id", "status"],
        unique=False,
    )
    op.create_table(
        "automation_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "rule_id"],
            ["automation_rules.tenant_id", "automation_rules.id"],
            name=op.f("fk_automation_runs_tenant_id_rule_id_automation_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint(
            "tenant_id", "rule_id", "key", name=op.f("uq_automation_runs_tenant_id_rule_id_key")
        ),
    )
    op.create_index(
        "ix_automation_runs_tenant_rule_started",
        "automation_runs",
        ["tenant_id", "rule_id", "started_at"],
        unique=False,
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
