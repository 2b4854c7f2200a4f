"""two-factor sign-in: TOTP secrets (sealed) and hashed recovery codes

Revision ID: 0012_two_factor
Revises: 0011_merge
Create Date: 2026-11-23 23:30:00

Two platform tables (rows belong to users, not tenants: no row-level security):
``user_two_factor`` (the sealed TOTP secret, pending until confirmed, and the last used
time step) and ``user_recovery_codes`` (SHA-256 digests of single-use recovery codes).
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import grant_platform_table

revision = "0012_two_factor"
down_revision = "0011_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_two_factor",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_two_factor_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_two_factor")),
    )
    op.create_table(
        "user_recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_recovery_codes")),
    )
    op.create_index(
        "ix_user_recovery_codes_user_id", "user_recovery_codes", ["user_id"], unique=False
    )
    grant_platform_table("user_two_factor")
    grant_platform_table("user_recovery_codes")


def downgrade():
    op.drop_index("ix_user_recovery_codes_user_id", table_name="user_recovery_codes")
    op.drop_table("user_recovery_codes")
    op.drop_table("user_two_factor")
