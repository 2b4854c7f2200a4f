"""portal: leads handed to partners, commission rates, channel announcements

Revision ID: portal_0003
Revises: portal_0002
Create Date: 2026-11-23 21:40:00

``portal_lead_handoffs`` (tenant-scoped, row-level security): Sales leads a channel manager
hands to a partner organisation with an acceptance deadline; ``portal_partners.commission_rate``
(a per-organisation override of the tier's default rate); ``portal_announcements`` (channel
announcements, optionally for one tier).
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import same_tenant_fk, secure_tenant_table, tenant_id_fk

revision = "portal_0003"
down_revision = "portal_0002"
branch_labels = None
depends_on = None

TABLES = ("portal_lead_handoffs", "portal_announcements")


def upgrade():
    op.create_table(
        "portal_lead_handoffs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_by_id", sa.Uuid(), nullable=True),
        sa.Column("responded_by_id", sa.Uuid(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_lead_handoffs"),
        same_tenant_fk("portal_lead_handoffs", "partner_id", "portal_partners"),
        same_tenant_fk("portal_lead_handoffs", "responded_by_id", "portal_users"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_lead_handoffs")),
    )
    op.create_index(
        "ix_portal_lead_handoffs_tenant_partner",
        "portal_lead_handoffs",
        ["tenant_id", "partner_id"],
    )
    op.create_index(
        "ix_portal_lead_handoffs_tenant_lead", "portal_lead_handoffs", ["tenant_id", "lead_id"]
    )
    op.create_table(
        "portal_announcements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_announcements"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_announcements")),
    )
    op.create_index(
        "ix_portal_announcements_tenant_created",
        "portal_announcements",
        ["tenant_id", "created_at"],
    )
    for table in TABLES:
        secure_tenant_table(table)
    with op.batch_alter_table("portal_partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commission_rate", sa.Numeric(5, 2), nullable=True))


def downgrade():
    with op.batch_alter_table("portal_partners", schema=None) as batch_op:
        batch_op.drop_column("commission_rate")
    op.drop_index("ix_portal_announcements_tenant_created", table_name="portal_announcements")
    op.drop_table("portal_announcements")
    op.drop_index("ix_portal_lead_handoffs_tenant_lead", table_name="portal_lead_handoffs")
    op.drop_index("ix_portal_lead_handoffs_tenant_partner", table_name="portal_lead_handoffs")
    op.drop_table("portal_lead_handoffs")
