"""portal: portal users and the portal logo

Revision ID: portal_0001
Revises:
Create Date: 2026-11-23 21:00:00

The first revision of the Portal module's own branch (``portal``). Every table is
tenant-scoped: ``(tenant_id, id)`` keys, composite foreign keys, row-level security on
PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table, tenant_id_fk

revision = "portal_0001"
down_revision = None
branch_labels = ("portal",)
depends_on = "0003_customer_database"

TABLES = ("portal_users", "portal_logos")


def upgrade():
    op.create_table(
        "portal_users",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_users"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_portal_users_tenant_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_portal_users_tenant_id_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_users")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_portal_users_tenant_id_email")),
    )
    op.create_index("ix_portal_users_tenant_contact", "portal_users", ["tenant_id", "contact_id"])
    op.create_table(
        "portal_logos",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mimetype", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_logos"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_logos")),
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    op.drop_table("portal_logos")
    op.drop_index("ix_portal_users_tenant_contact", table_name="portal_users")
    op.drop_table("portal_users")
