"""hello: greetings table

Revision ID: hello_0001
Revises:
Create Date: 2026-11-23 09:00:00

"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "hello_0001"
down_revision = None
branch_labels = ("hello",)
depends_on = "0001_core"


def upgrade():
    op.create_table(
        "hello_greetings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_hello_greetings_tenant_id_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_hello_greetings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_hello_greetings")),
    )
    op.create_index(
        "ix_hello_greetings_tenant_contact", "hello_greetings", ["tenant_id", "contact_id"]
    )
    secure_tenant_table("hello_greetings")


def downgrade():
    op.drop_index("ix_hello_greetings_tenant_contact", table_name="hello_greetings")
    op.drop_table("hello_greetings")
