"""tenant module switches

Revision ID: 0002_modules
Revises: 0001_core
Create Date: 2026-11-23 08:40:00

"""
import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import secure_tenant_table

revision = "0002_modules"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tenant_modules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("module_key", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_modules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tenant_modules")),
        sa.UniqueConstraint(
            "tenant_id", "module_key", name=op.f("uq_tenant_modules_tenant_id_module_key")
        ),
    )
    secure_tenant_table("tenant_modules")


def downgrade():
    op.drop_table("tenant_modules")
