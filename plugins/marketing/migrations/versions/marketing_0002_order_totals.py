"""marketing: a covering index for the per-contact order aggregates of segments

Revision ID: marketing_0002
Revises: marketing_0001
Create Date: 2026-11-23 18:00:00

Segment rules on a contact's order count and total spent group the tenant's orders by
contact (``plugins/marketing/segment_fields.py:order_aggregates_condition``). This index on
the core ``orders`` table is tenant-leading and carries the status and total, so that pass
is an index-only scan in contact order (no heap visits). It lives in the marketing branch
because only marketing reads orders this way; it is dropped with the branch.
"""

from alembic import op

revision = "marketing_0002"
down_revision = "marketing_0001"
branch_labels = None
depends_on = None

NAME = "ix_marketing_orders_tenant_contact_totals"


def upgrade() -> None:
    op.create_index(
        NAME, "orders", ["tenant_id", "contact_id"], postgresql_include=["status", "total"]
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="orders")
