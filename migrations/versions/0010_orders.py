"""orders: customer orders and their lines, a shared fact of the customer record

Revision ID: 0010_orders
Revises: 0007_merge
Create Date: 2026-11-23 14:00:00

Two new tenant tables (row-level security): ``orders`` (a contact's and/or an account's
order: number, date, status, currency, total, source and its reference there, unique per
tenant and source) and ``order_lines`` (product, SKU, quantity, unit price, discount, tax).
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import secure_tenant_table

revision = "0010_orders"
down_revision = "0007_merge"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=14, scale=2)


def upgrade():
    op.create_table(
        "orders",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_orders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"], ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_orders_tenant_id_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_orders_tenant_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_orders_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "tenant_id", "source", "external_ref",
            name=op.f("uq_orders_tenant_id_source_external_ref"),
        ),
    )
    op.create_index(
        "ix_orders_tenant_contact", "orders", ["tenant_id", "contact_id", "ordered_at"]
    )
    op.create_index(
        "ix_orders_tenant_account", "orders", ["tenant_id", "account_id", "ordered_at"]
    )
    op.create_index("ix_orders_tenant_ordered_at", "orders", ["tenant_id", "ordered_at"])
    op.create_index("ix_orders_tenant_number", "orders", ["tenant_id", "number"])
    secure_tenant_table("orders")

    op.create_table(
        "order_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=80), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("discount", MONEY, nullable=False),
        sa.Column("tax", MONEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"],
            name=op.f("fk_order_lines_tenant_id_order_id_orders"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_order_lines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_order_lines")),
    )
    op.create_index(
        "ix_order_lines_tenant_order", "order_lines", ["tenant_id", "order_id", "position"]
    )
    op.create_index("ix_order_lines_tenant_sku", "order_lines", ["tenant_id", "sku"])
    secure_tenant_table("order_lines")


def downgrade():
    op.drop_index("ix_order_lines_tenant_sku", table_name="order_lines")
    op.drop_index("ix_order_lines_tenant_order", table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index("ix_orders_tenant_number", table_name="orders")
    op.drop_index("ix_orders_tenant_ordered_at", table_name="orders")
    op.drop_index("ix_orders_tenant_account", table_name="orders")
    op.drop_index("ix_orders_tenant_contact", table_name="orders")
    op.drop_table("orders")
