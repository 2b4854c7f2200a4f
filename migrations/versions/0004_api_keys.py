"""API keys of the public REST API

Revision ID: 0004_api_keys
Revises: 0003_customer_database
Create Date: 2026-11-30 10:00:00

One tenant table, ``api_keys`` (row-level security like every tenant table): a key's name,
the prefix people see, the SHA-256 hash of the whole key (never the key), its scope, who
created it (the member it acts as) and when it was created, last used and revoked.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import secure_tenant_table

revision = "0004_api_keys"
down_revision = "0003_customer_database"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("tenant_id", "prefix", name=op.f("uq_api_keys_tenant_id_prefix")),
    )
    secure_tenant_table("api_keys")


def downgrade():
    op.drop_table("api_keys")
