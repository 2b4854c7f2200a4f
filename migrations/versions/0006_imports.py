"""spreadsheet imports: uploaded files, their column mapping and outcome

Revision ID: 0006_imports
Revises: 0003_customer_database
Create Date: 2026-12-01 12:00:00

One new tenant table (row-level security): ``import_jobs`` holds an uploaded CSV or XLSX file
(the bytes, until the import is done), its detected encoding and delimiter, headers, the
column mapping and dedupe rule, the status, the counts, and the rejected-rows report.
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import secure_tenant_table

revision = "0006_imports"
down_revision = "0003_customer_database"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_jobs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("delimiter", sa.String(length=1), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("dedupe", sa.String(length=10), nullable=False),
        sa.Column("locale", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rejections", sa.JSON(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_import_jobs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_import_jobs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        "ix_import_jobs_tenant_created", "import_jobs", ["tenant_id", "created_at"]
    )
    secure_tenant_table("import_jobs")


def downgrade():
    op.drop_index("ix_import_jobs_tenant_created", table_name="import_jobs")
    op.drop_table("import_jobs")
