"""sfa: pipelines, stages, deals and their stage history, leads and their activities,
scoring and assignment rules, quotas

Revision ID: sfa_0001
Revises:
Create Date: 2026-11-23 12:00:00

The first revision of the Sales module's own branch (``sfa``). Every table is tenant-scoped:
``(tenant_id, id)`` keys, composite foreign keys, row-level security on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "sfa_0001"
down_revision = None
branch_labels = ("sfa",)
depends_on = "0003_customer_database"

TABLES = (
    "sfa_pipelines",
    "sfa_stages",
    "sfa_deals",
    "sfa_deal_stage_changes",
    "sfa_leads",
    "sfa_lead_activities",
    "sfa_scoring_rules",
    "sfa_assignment_rules",
    "sfa_quotas",
)


def upgrade():
    op.create_table(
        "sfa_assignment_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("match_field", sa.String(length=20), nullable=False),
        sa.Column("match_value", sa.String(length=200), nullable=True),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_assignment_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_assignment_rules")),
    )
    op.create_table(
        "sfa_pipelines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_pipelines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_pipelines")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sfa_pipelines_tenant_id_name")),
    )
    op.create_table(
        "sfa_quotas",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_quotas_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sfa_quotas_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_quotas")),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "year",
            "quarter",
            name=op.f("uq_sfa_quotas_tenant_id_user_id_year_quarter"),
        ),
    )
    op.create_table(
        "sfa_scoring_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        sa.Column("operator", sa.String(length=20), nullable=True),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.Column("activity_kind", sa.String(length=20), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_scoring_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_scoring_rules")),
    )
    op.create_table(
        "sfa_stages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("rotting_days", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["sfa_pipelines.tenant_id", "sfa_pipelines.id"],
            name=op.f("fk_sfa_stages_tenant_id_pipeline_id_sfa_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_stages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_stages")),
        sa.UniqueConstraint(
            "tenant_id",
            "pipeline_id",
            "name",
            name=op.f("uq_sfa_stages_tenant_id_pipeline_id_name"),
        ),
    )
    op.create_table(
        "sfa_deals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("competitors", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("forecast_category", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_sfa_deals_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_sfa_deals_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_sfa_deals_tenant_id_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_sfa_deals_tenant_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["sfa_pipelines.tenant_id", "sfa_pipelines.id"],
            name=op.f("fk_sfa_deals_tenant_id_pipeline_id_sfa_pipelines"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "stage_id"],
            ["sfa_stages.tenant_id", "sfa_stages.id"],
            name=op.f("fk_sfa_deals_tenant_id_stage_id_sfa_stages"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_deals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_deals")),
    )
    op.create_index(
        "ix_sfa_deals_tenant_account", "sfa_deals", ["tenant_id", "account_id"], unique=False
    )
    op.create_index(
        "ix_sfa_deals_tenant_board",
        "sfa_deals",
        ["tenant_id", "pipeline_id", "status", "stage_id"],
        unique=False,
    )
    op.create_index(
        "ix_sfa_deals_tenant_close",
        "sfa_deals",
        ["tenant_id", "status", "expected_close"],
        unique=False,
    )
    op.create_index(
        "ix_sfa_deals_tenant_closed_at",
        "sfa_deals",
        ["tenant_id", "status", "closed_at"],
        unique=False,
    )
    op.create_index(
        "ix_sfa_deals_tenant_contact", "sfa_deals", ["tenant_id", "contact_id"], unique=False
    )
    op.create_index(
        "ix_sfa_deals_tenant_owner", "sfa_deals", ["tenant_id", "owner_id", "status"], unique=False
    )
    op.create_table(
        "sfa_deal_stage_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage_id", sa.Uuid(), nullable=True),
        sa.Column("to_stage_id", sa.Uuid(), nullable=False),
        sa.Column("from_name", sa.String(length=100), nullable=True),
        sa.Column("to_name", sa.String(length=100), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["users.id"],
            name=op.f("fk_sfa_deal_stage_changes_changed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "deal_id"],
            ["sfa_deals.tenant_id", "sfa_deals.id"],
            name=op.f("fk_sfa_deal_stage_changes_tenant_id_deal_id_sfa_deals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_deal_stage_changes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_deal_stage_changes")),
    )
    op.create_index(
        "ix_sfa_deal_stage_changes_tenant_deal",
        "sfa_deal_stage_changes",
        ["tenant_id", "deal_id", "changed_at"],
        unique=False,
    )
    op.create_table(
        "sfa_leads",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("industry", sa.String(length=80), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("captured_via", sa.String(length=20), nullable=False),
        sa.Column("worked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reclaimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_by_id", sa.Uuid(), nullable=True),
        sa.Column("converted_account_id", sa.Uuid(), nullable=True),
        sa.Column("converted_contact_id", sa.Uuid(), nullable=True),
        sa.Column("converted_deal_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["converted_by_id"],
            ["users.id"],
            name=op.f("fk_sfa_leads_converted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_sfa_leads_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "converted_account_id"],
            ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_sfa_leads_tenant_id_converted_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "converted_contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_sfa_leads_tenant_id_converted_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "converted_deal_id"],
            ["sfa_deals.tenant_id", "sfa_deals.id"],
            name=op.f("fk_sfa_leads_tenant_id_converted_deal_id_sfa_deals"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_leads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_leads")),
    )
    op.create_index(
        "ix_sfa_leads_tenant_account",
        "sfa_leads",
        ["tenant_id", "converted_account_id"],
        unique=False,
    )
    op.create_index(
        "ix_sfa_leads_tenant_contact",
        "sfa_leads",
        ["tenant_id", "converted_contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_sfa_leads_tenant_created", "sfa_leads", ["tenant_id", "created_at"], unique=False
    )
    op.create_index("ix_sfa_leads_tenant_email", "sfa_leads", ["tenant_id", "email"], unique=False)
    op.create_index(
        "ix_sfa_leads_tenant_owner",
        "sfa_leads",
        ["tenant_id", "owner_id", "worked_at"],
        unique=False,
    )
    op.create_index(
        "ix_sfa_leads_tenant_status", "sfa_leads", ["tenant_id", "status", "owner_id"], unique=False
    )
    op.create_table(
        "sfa_lead_activities",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_sfa_lead_activities_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["sfa_leads.tenant_id", "sfa_leads.id"],
            name=op.f("fk_sfa_lead_activities_tenant_id_lead_id_sfa_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sfa_lead_activities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_lead_activities")),
    )
    op.create_index(
        "ix_sfa_lead_activities_tenant_lead",
        "sfa_lead_activities",
        ["tenant_id", "lead_id", "created_at"],
        unique=False,
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    op.drop_index("ix_sfa_lead_activities_tenant_lead", table_name="sfa_lead_activities")
    op.drop_table("sfa_lead_activities")
    op.drop_index("ix_sfa_leads_tenant_status", table_name="sfa_leads")
    op.drop_index("ix_sfa_leads_tenant_owner", table_name="sfa_leads")
    op.drop_index("ix_sfa_leads_tenant_email", table_name="sfa_leads")
    op.drop_index("ix_sfa_leads_tenant_created", table_name="sfa_leads")
    op.drop_index("ix_sfa_leads_tenant_contact", table_name="sfa_leads")
    op.drop_index("ix_sfa_leads_tenant_account", table_name="sfa_leads")
    op.drop_table("sfa_leads")
    op.drop_index("ix_sfa_deal_stage_changes_tenant_deal", table_name="sfa_deal_stage_changes")
    op.drop_table("sfa_deal_stage_changes")
    op.drop_index("ix_sfa_deals_tenant_owner", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_contact", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_closed_at", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_close", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_board", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_account", table_name="sfa_deals")
    op.drop_table("sfa_deals")
    op.drop_table("sfa_stages")
    op.drop_table("sfa_scoring_rules")
    op.drop_table("sfa_quotas")
    op.drop_table("sfa_pipelines")
    op.drop_table("sfa_assignment_rules")
