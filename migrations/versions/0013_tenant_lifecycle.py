"""tenant lifecycle: deletion with a grace period, stored tenant exports

Revision ID: 0013_tenant_lifecycle
Revises: 0012_two_factor
Create Date: 2026-11-24 00:00:00

``tenants`` gains ``deletion_requested_at``, ``delete_after`` and ``deletion_requested_by``
(a tenant scheduled for deletion is locked until it is erased or the deletion is canceled).
Two platform tables hold exports made by the "Export data" job: ``tenant_exports`` (one row
per export: status, size, checksum, expiry) and ``tenant_export_chunks`` (the ZIP in chunks,
so a download streams and any web process can serve it). The provider role may DELETE from
``audit_events`` (append-only for the app): erasing a tenant removes its audit log too; the
app and provider roles may read ``alembic_version`` (archives carry the schema revisions).
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import _is_postgres, _roles, grant_platform_table

revision = "0013_tenant_lifecycle"
down_revision = "0012_two_factor"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deletion_requested_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("delete_after", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("deletion_requested_by", sa.String(length=254)))
    op.create_table(
        "tenant_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target_tenant_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_exports_target_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_exports")),
    )
    op.create_index(
        "ix_tenant_exports_tenant", "tenant_exports", ["target_tenant_id", "requested_at"]
    )
    op.create_table(
        "tenant_export_chunks",
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["tenant_exports.id"],
            name=op.f("fk_tenant_export_chunks_export_id_tenant_exports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("export_id", "seq", name=op.f("pk_tenant_export_chunks")),
    )
    grant_platform_table("tenant_exports")
    grant_platform_table("tenant_export_chunks")
    # archives record the schema revisions and imports compare them: the app reads them
    grant_platform_table("alembic_version", "SELECT")
    if _is_postgres():
        provider = _roles()[1]
        op.execute(
            f"""DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{provider}') THEN
                EXECUTE 'GRANT DELETE ON TABLE audit_events TO {provider}';
              END IF;
            END $$"""
        )


def downgrade():
    if _is_postgres():
        provider = _roles()[1]
        op.execute(
            f"""DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{provider}') THEN
                EXECUTE 'REVOKE DELETE ON TABLE audit_events FROM {provider}';
              END IF;
            END $$"""
        )
    op.drop_table("tenant_export_chunks")
    op.drop_index("ix_tenant_exports_tenant", table_name="tenant_exports")
    op.drop_table("tenant_exports")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("deletion_requested_by")
        batch_op.drop_column("delete_after")
        batch_op.drop_column("deletion_requested_at")
