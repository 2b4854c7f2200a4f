"""erp: connections, mapping overrides, cursors, sync ledger, runs, dead letters, the file
connector's inbox, invoices

Revision ID: erp_0001
Revises:
Create Date: 2026-11-23 20:10:00

The ERP module's own branch (``erp``). Every table is a tenant table: ``(tenant_id, id)``
keys, composite foreign keys, row-level security on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "erp_0001"
down_revision = None
branch_labels = ("erp",)
depends_on = "0001_core"

TABLES = (
    "erp_connections",
    "erp_cursors",
    "erp_dead_letters",
    "erp_inbox",
    "erp_invoices",
    "erp_ledger",
    "erp_mappings",
    "erp_runs",
)


def upgrade():
    op.create_table(
        "erp_connections",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("connector_key", sa.String(length=60), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_check_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_connections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_connections")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_erp_connections_tenant_id_name")),
    )
    op.create_table(
        "erp_cursors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.String(length=60), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_cursors_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_cursors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_cursors")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "object_key",
            name=op.f("uq_erp_cursors_tenant_id_connection_id_object_key"),
        ),
    )
    op.create_table(
        "erp_dead_letters",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("object_key", sa.String(length=60), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_dead_letters_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_dead_letters_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_dead_letters")),
    )
    op.create_index(
        "ix_erp_dead_letters_tenant_status",
        "erp_dead_letters",
        ["tenant_id", "status", "created_at"],
        unique=False,
    )
    op.create_table(
        "erp_inbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.String(length=60), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_inbox_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_inbox_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_inbox")),
    )
    op.create_index(
        "ix_erp_inbox_tenant_connection",
        "erp_inbox",
        ["tenant_id", "connection_id", "object_key", "id"],
        unique=False,
    )
    op.create_table(
        "erp_invoices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("amount_due", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("invoiced_at", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_invoices_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_invoices_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_invoices")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "external_id",
            name=op.f("uq_erp_invoices_tenant_id_connection_id_external_id"),
        ),
    )
    op.create_index(
        "ix_erp_invoices_tenant_account", "erp_invoices", ["tenant_id", "account_id"], unique=False
    )
    op.create_table(
        "erp_ledger",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.String(length=60), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("crm_kind", sa.String(length=20), nullable=False),
        sa.Column("crm_id", sa.Uuid(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("external_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_upstream_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_ledger_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_ledger_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_ledger")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "object_key",
            "external_id",
            name=op.f("uq_erp_ledger_tenant_id_connection_id_object_key_external_id"),
        ),
    )
    op.create_index(
        "ix_erp_ledger_tenant_crm", "erp_ledger", ["tenant_id", "crm_kind", "crm_id"], unique=False
    )
    op.create_table(
        "erp_mappings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.String(length=60), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_mappings_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "object_key",
            name=op.f("uq_erp_mappings_tenant_id_connection_id_object_key"),
        ),
    )
    op.create_table(
        "erp_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("pushed", sa.Integer(), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["erp_connections.tenant_id", "erp_connections.id"],
            name=op.f("fk_erp_runs_tenant_id_connection_id_erp_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erp_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erp_runs")),
    )
    op.create_index(
        "ix_erp_runs_tenant_connection",
        "erp_runs",
        ["tenant_id", "connection_id", "created_at"],
        unique=False,
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
