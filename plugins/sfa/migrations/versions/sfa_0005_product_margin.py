"""sfa: margins: a product's unit cost and product line, the unit cost snapshot on quote lines

Revision ID: sfa_0005_product_margin
Revises: sfa_0004_perf
Create Date: 2026-11-24 00:10:00

``sfa_products.cost`` (optional, same currency as the product) and ``product_line`` (optional
short text, indexed with the tenant for grouping); ``sfa_quote_lines.unit_cost`` keeps the
product's cost when the line was priced, so the margins of past quotes do not move when a
cost changes. All three are nullable: existing rows simply have no cost.
"""

import sqlalchemy as sa
from alembic import op

revision = "sfa_0005_product_margin"
down_revision = "sfa_0004_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sfa_products") as batch:
        batch.add_column(sa.Column("cost", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("product_line", sa.String(length=60), nullable=True))
    op.create_index("ix_sfa_products_tenant_line", "sfa_products", ["tenant_id", "product_line"])
    with op.batch_alter_table("sfa_quote_lines") as batch:
        batch.add_column(sa.Column("unit_cost", sa.Numeric(14, 2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sfa_quote_lines") as batch:
        batch.drop_column("unit_cost")
    op.drop_index("ix_sfa_products_tenant_line", table_name="sfa_products")
    with op.batch_alter_table("sfa_products") as batch:
        batch.drop_column("product_line")
        batch.drop_column("cost")
