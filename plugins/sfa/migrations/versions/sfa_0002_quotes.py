"""sfa: products, price books and their entries, quotes and quote lines, per-tenant counters

Revision ID: sfa_0002_quotes
Revises: sfa_0001
Create Date: 2026-11-23 17:00:00

Every table is tenant-scoped like the rest of the branch: ``(tenant_id, id)`` keys, composite
foreign keys, row-level security on PostgreSQL. Quote amounts are integer cents.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "sfa_0002_quotes"
down_revision = "sfa_0001"
branch_labels = None
depends_on = None

TABLES = (
    "sfa_sequences",
    "sfa_products",
    "sfa_price_books",
    "sfa_price_book_entries",
    "sfa_quotes",
    "sfa_quote_lines",
)


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def _link(table: str, column: str, target: str, ondelete: str | None = None):
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"fk_{table}_tenant_id_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade():
    op.create_table(
        "sfa_sequences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        _tenant("sfa_sequences"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_sequences")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sfa_sequences_tenant_id_name")),
    )
    op.create_table(
        "sfa_products",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("sfa_products"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_products")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_sfa_products_tenant_id_code")),
    )
    op.create_table(
        "sfa_price_books",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_group", sa.String(length=60), nullable=True),
        sa.Column("channel", sa.String(length=60), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _tenant("sfa_price_books"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_price_books")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_sfa_price_books_tenant_id_name")),
    )
    op.create_table(
        "sfa_price_book_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("price_book_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        _link("sfa_price_book_entries", "price_book_id", "sfa_price_books", "CASCADE"),
        _link("sfa_price_book_entries", "product_id", "sfa_products", "CASCADE"),
        _tenant("sfa_price_book_entries"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_price_book_entries")),
        sa.UniqueConstraint(
            "tenant_id",
            "price_book_id",
            "product_id",
            name=op.f("uq_sfa_price_book_entries_tenant_id_price_book_id_product_id"),
        ),
    )
    op.create_table(
        "sfa_quotes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_book_id", sa.Uuid(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("subtotal_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_sfa_quotes_created_by_id_users"),
            ondelete="SET NULL",
        ),
        _link("sfa_quotes", "deal_id", "sfa_deals", "CASCADE"),
        _link("sfa_quotes", "price_book_id", "sfa_price_books"),
        _tenant("sfa_quotes"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_quotes")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_sfa_quotes_tenant_id_number")),
    )
    op.create_index("ix_sfa_quotes_tenant_deal", "sfa_quotes", ["tenant_id", "deal_id"])
    op.create_table(
        "sfa_quote_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("quote_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("subtotal_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        _link("sfa_quote_lines", "quote_id", "sfa_quotes", "CASCADE"),
        _link("sfa_quote_lines", "product_id", "sfa_products"),
        _tenant("sfa_quote_lines"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_sfa_quote_lines")),
    )
    op.create_index(
        "ix_sfa_quote_lines_tenant_quote", "sfa_quote_lines", ["tenant_id", "quote_id", "position"]
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    op.drop_index("ix_sfa_quote_lines_tenant_quote", table_name="sfa_quote_lines")
    op.drop_table("sfa_quote_lines")
    op.drop_index("ix_sfa_quotes_tenant_deal", table_name="sfa_quotes")
    op.drop_table("sfa_quotes")
    op.drop_table("sfa_price_book_entries")
    op.drop_table("sfa_price_books")
    op.drop_table("sfa_products")
    op.drop_table("sfa_sequences")
