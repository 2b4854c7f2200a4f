"""sfa: day planning and territories: team hierarchy, territories with their rules and
members, reminders sent; indexes of the board's columns and the forecast's won sums

Revision ID: sfa_0003_planning
Revises: sfa_0002_quotes
Create Date: 2026-11-23 17:30:00

Tenant-scoped like the rest of the branch: ``(tenant_id, id)`` keys, composite foreign keys,
row-level security on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import same_tenant_fk, secure_tenant_table, tenant_id_fk

revision = "sfa_0003_planning"
down_revision = "sfa_0002_quotes"
branch_labels = None
depends_on = None

TABLES = (
    "sfa_team_parents",
    "sfa_territories",
    "sfa_territory_rules",
    "sfa_territory_members",
    "sfa_reminders",
)


def _tenant(table: str) -> list:
    """The tenant column, the id, the key and the tenant's foreign key of ``table``."""
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        tenant_id_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")),
    ]


def upgrade():
    op.create_table(
        "sfa_team_parents",
        *_tenant("sfa_team_parents"),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=False),
        same_tenant_fk("sfa_team_parents", "team_id", "teams", ondelete="CASCADE"),
        same_tenant_fk("sfa_team_parents", "parent_id", "teams", ondelete="CASCADE"),
        sa.UniqueConstraint(
            "tenant_id", "team_id", name=op.f("uq_sfa_team_parents_tenant_id_team_id")
        ),
    )
    op.create_table(
        "sfa_territories",
        *_tenant("sfa_territories"),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sfa_territories_tenant_id_name")),
    )
    op.create_table(
        "sfa_territory_rules",
        *_tenant("sfa_territory_rules"),
        sa.Column("territory_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=80), nullable=False),
        same_tenant_fk(
            "sfa_territory_rules", "territory_id", "sfa_territories", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "territory_id",
            "field",
            "value",
            name=op.f("uq_sfa_territory_rules_tenant_id_territory_id_field_value"),
        ),
    )
    op.create_index(
        "ix_sfa_territory_rules_tenant_value",
        "sfa_territory_rules",
        ["tenant_id", "field", "value"],
    )
    op.create_table(
        "sfa_territory_members",
        *_tenant("sfa_territory_members"),
        sa.Column("territory_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        same_tenant_fk(
            "sfa_territory_members", "territory_id", "sfa_territories", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sfa_territory_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "territory_id",
            "user_id",
            name=op.f("uq_sfa_territory_members_tenant_id_territory_id_user_id"),
        ),
    )
    op.create_index(
        "ix_sfa_territory_members_tenant_user",
        "sfa_territory_members",
        ["tenant_id", "user_id"],
    )
    op.create_table(
        "sfa_reminders",
        *_tenant("sfa_reminders"),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("occasion", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sfa_reminders_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "record_id",
            "occasion",
            name=op.f("uq_sfa_reminders_tenant_id_kind_record_id_occasion"),
        ),
    )
    for table in TABLES:
        secure_tenant_table(table)
    # the board's columns and the forecast's won sums at scale (bench/bench_sfa.py)
    op.create_index(
        "ix_sfa_deals_tenant_stage_close",
        "sfa_deals",
        ["tenant_id", "stage_id", "expected_close", "id"],
    )
    op.create_index(
        "ix_sfa_deals_tenant_stage_closed_at", "sfa_deals", ["tenant_id", "stage_id", "closed_at"]
    )
    op.create_index(
        "ix_sfa_deals_tenant_won",
        "sfa_deals",
        ["tenant_id", "status", "closed_at"],
        postgresql_include=["currency", "owner_id", "amount"],
    )


def downgrade():
    op.drop_index("ix_sfa_deals_tenant_won", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_stage_closed_at", table_name="sfa_deals")
    op.drop_index("ix_sfa_deals_tenant_stage_close", table_name="sfa_deals")
    op.drop_table("sfa_reminders")
    op.drop_index("ix_sfa_territory_members_tenant_user", table_name="sfa_territory_members")
    op.drop_table("sfa_territory_members")
    op.drop_index("ix_sfa_territory_rules_tenant_value", table_name="sfa_territory_rules")
    op.drop_table("sfa_territory_rules")
    op.drop_table("sfa_territories")
    op.drop_table("sfa_team_parents")
