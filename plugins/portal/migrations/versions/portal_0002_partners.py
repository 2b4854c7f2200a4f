"""portal: partner organisations, deal registrations, partner portal users

Revision ID: portal_0002
Revises: portal_0001
Create Date: 2026-11-23 21:20:00

The partner (channel) portal: ``portal_partners`` and ``portal_registrations`` (tenant-scoped,
row-level security) and ``portal_users.partner_id``.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import same_tenant_fk, secure_tenant_table, tenant_id_fk

revision = "portal_0002"
down_revision = "portal_0001"
branch_labels = None
depends_on = None

TABLES = ("portal_partners", "portal_registrations")


def upgrade():
    op.create_table(
        "portal_partners",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_partners"),
        same_tenant_fk("portal_partners", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_partners")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_portal_partners_tenant_id_name")),
    )
    op.create_table(
        "portal_registrations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("portal_user_id", sa.Uuid(), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("company_key", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("conflicts", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_registrations"),
        same_tenant_fk("portal_registrations", "partner_id", "portal_partners"),
        same_tenant_fk("portal_registrations", "portal_user_id", "portal_users"),
        same_tenant_fk("portal_registrations", "account_id", "accounts"),
        same_tenant_fk("portal_registrations", "contact_id", "contacts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_registrations")),
    )
    op.create_index(
        "ix_portal_registrations_tenant_partner",
        "portal_registrations",
        ["tenant_id", "partner_id"],
    )
    op.create_index(
        "ix_portal_registrations_tenant_company",
        "portal_registrations",
        ["tenant_id", "company_key"],
    )
    for table in TABLES:
        secure_tenant_table(table)
    with op.batch_alter_table("portal_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("partner_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_portal_users_tenant_id_partner_id_portal_partners"),
            "portal_partners",
            ["tenant_id", "partner_id"],
            ["tenant_id", "id"],
        )


def downgrade():
    with op.batch_alter_table("portal_users", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_portal_users_tenant_id_partner_id_portal_partners"), type_="foreignkey"
        )
        batch_op.drop_column("partner_id")
    op.drop_index("ix_portal_registrations_tenant_company", table_name="portal_registrations")
    op.drop_index("ix_portal_registrations_tenant_partner", table_name="portal_registrations")
    op.drop_table("portal_registrations")
    op.drop_table("portal_partners")
