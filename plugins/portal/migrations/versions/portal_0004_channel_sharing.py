"""portal: shared deals, B2B order requests, the channel activity feed, partner price books

Revision ID: portal_0004
Revises: portal_0003
Create Date: 2026-11-23 23:30:00

``portal_deal_shares`` (Sales deals shared with a partner organisation),
``portal_order_requests`` (the partner configurator's orders and the quotes they became),
``portal_channel_events`` (the channel activity feed), all tenant-scoped with row-level
security; ``portal_partners.price_book_id`` (the Sales price book a partner orders from).
"""

import uuid

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import same_tenant_fk, secure_tenant_table, tenant_id_fk

revision = "portal_0004"
down_revision = "portal_0003"
branch_labels = None
depends_on = None

TABLES = ("portal_deal_shares", "portal_order_requests", "portal_channel_events")


def upgrade():
    op.create_table(
        "portal_deal_shares",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("shared_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_deal_shares"),
        same_tenant_fk("portal_deal_shares", "partner_id", "portal_partners"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_deal_shares")),
        sa.UniqueConstraint(
            "tenant_id",
            "deal_id",
            "partner_id",
            name=op.f("uq_portal_deal_shares_tenant_id_deal_id_partner_id"),
        ),
    )
    op.create_index(
        "ix_portal_deal_shares_tenant_partner", "portal_deal_shares", ["tenant_id", "partner_id"]
    )
    op.create_table(
        "portal_order_requests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("portal_user_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("lines", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("quote_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_order_requests"),
        same_tenant_fk("portal_order_requests", "partner_id", "portal_partners"),
        same_tenant_fk("portal_order_requests", "portal_user_id", "portal_users"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_order_requests")),
    )
    op.create_index(
        "ix_portal_order_requests_tenant_partner",
        "portal_order_requests",
        ["tenant_id", "partner_id"],
    )
    op.create_table(
        "portal_channel_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref_id", sa.Uuid(), nullable=True),
        sa.Column("data", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("portal_channel_events"),
        same_tenant_fk("portal_channel_events", "partner_id", "portal_partners"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_portal_channel_events")),
    )
    op.create_index(
        "ix_portal_channel_events_tenant_partner",
        "portal_channel_events",
        ["tenant_id", "partner_id", "created_at"],
    )
    op.create_index(
        "ix_portal_channel_events_tenant_created",
        "portal_channel_events",
        ["tenant_id", "created_at"],
    )
    for table in TABLES:
        secure_tenant_table(table)
    with op.batch_alter_table("portal_partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_book_id", sa.Uuid(), nullable=True))
    _share_registered_deals()


def _share_registered_deals():
    """The deals of approved (or won) registrations so far are shared with their partner."""
    conn = op.get_bind()
    registrations = sa.table(
        "portal_registrations",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("partner_id", sa.Uuid()),
        sa.column("deal_id", sa.Uuid()),
        sa.column("status", sa.String()),
        sa.column("decided_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    shares = sa.table(
        "portal_deal_shares",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column("deal_id", sa.Uuid()),
        sa.column("partner_id", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = conn.execute(
        sa.select(registrations).where(
            registrations.c.deal_id.is_not(None),
            registrations.c.status.in_(("approved", "won")),
        )
    ).all()
    seen = set()
    for row in rows:
        key = (row.tenant_id, row.deal_id, row.partner_id)
        if key in seen:
            continue
        seen.add(key)
        conn.execute(
            shares.insert().values(
                tenant_id=row.tenant_id,
                id=uuid.uuid4(),
                deal_id=row.deal_id,
                partner_id=row.partner_id,
                created_at=row.decided_at or row.created_at,
            )
        )


def downgrade():
    with op.batch_alter_table("portal_partners", schema=None) as batch_op:
        batch_op.drop_column("price_book_id")
    op.drop_index("ix_portal_channel_events_tenant_created", table_name="portal_channel_events")
    op.drop_index("ix_portal_channel_events_tenant_partner", table_name="portal_channel_events")
    op.drop_table("portal_channel_events")
    op.drop_index("ix_portal_order_requests_tenant_partner", table_name="portal_order_requests")
    op.drop_table("portal_order_requests")
    op.drop_index("ix_portal_deal_shares_tenant_partner", table_name="portal_deal_shares")
    op.drop_table("portal_deal_shares")
