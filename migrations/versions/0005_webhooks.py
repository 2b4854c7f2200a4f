"""outbound webhooks: subscriptions, deliveries and delivery attempts

Revision ID: 0005_webhooks
Revises: 0003_customer_database
Create Date: 2026-12-01 10:00:00

New tenant tables (row-level security on all three): ``webhooks`` (a URL subscribed to
domain events, with its signing secret), ``webhook_deliveries`` (one event for one webhook:
the body sent, its status and latest attempt) and ``webhook_attempts`` (every POST).
Deleting a webhook deletes its deliveries and their attempts.
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import secure_tenant_table, tenant_id_fk

revision = "0005_webhooks"
down_revision = "0003_customer_database"
branch_labels = None
depends_on = None

TABLES = ("webhooks", "webhook_deliveries", "webhook_attempts")


def _key_columns():
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def _response_columns():
    return [
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("response_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
    ]


def upgrade():
    op.create_table(
        "webhooks",
        *_key_columns(),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True),
        tenant_id_fk("webhooks"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "webhook_deliveries",
        *_key_columns(),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        *_response_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "webhook_id"], ["webhooks.tenant_id", "webhooks.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        tenant_id_fk("webhook_deliveries"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_webhook", "webhook_deliveries",
        ["tenant_id", "webhook_id", "id"],
    )
    op.create_table(
        "webhook_attempts",
        *_key_columns(),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("replay", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        *_response_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_tenant_id_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        tenant_id_fk("webhook_attempts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(
        "ix_webhook_attempts_tenant_delivery", "webhook_attempts",
        ["tenant_id", "delivery_id", "number"],
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    op.drop_index("ix_webhook_attempts_tenant_delivery", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_tenant_webhook", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
