"""billing: plans, customers, subscriptions, seat ledger, invoices, usage, Stripe events

Revision ID: billing_0001
Revises:
Create Date: 2026-11-23 12:00:00

"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import grant_platform_table

revision = "billing_0001"
down_revision = None
branch_labels = ("billing",)
depends_on = "0007_merge"

APPEND_ONLY = "SELECT, INSERT"
NO_DELETE = "SELECT, INSERT, UPDATE"


def _at(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "billing_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price_per_seat_cents", sa.Integer(), nullable=False),
        sa.Column("included_modules", sa.JSON(), nullable=False),
        sa.Column("addon_modules", sa.JSON(), nullable=False),
        sa.Column("record_limits", sa.JSON(), nullable=False),
        sa.Column("api_rate_limit", sa.String(length=100), nullable=True),
        sa.Column("storage_mb", sa.Integer(), nullable=True),
        sa.Column("max_seats", sa.Integer(), nullable=True),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("usage_prices", sa.JSON(), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=100), nullable=True),
        sa.Column("stripe_addon_price_ids", sa.JSON(), nullable=False),
        sa.Column("stripe_usage_price_ids", sa.JSON(), nullable=False),
        _at("created_at", False),
        _at("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_plans")),
        sa.UniqueConstraint("key", name=op.f("uq_billing_plans_key")),
    )
    op.create_table(
        "billing_customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=100), nullable=True),
        _at("created_at", False),
        sa.ForeignKeyConstraint(
            ["id"], ["tenants.id"], name=op.f("fk_billing_customers_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_customers")),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_billing_customers_stripe_customer_id")
        ),
    )
    op.create_table(
        "billing_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("addons", sa.JSON(), nullable=False),
        _at("trial_ends_at"),
        _at("current_period_start"),
        _at("current_period_end"),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        _at("canceled_at"),
        sa.Column("stripe_subscription_id", sa.String(length=100), nullable=True),
        sa.Column("stripe_items", sa.JSON(), nullable=False),
        sa.Column("stripe_state_at", sa.Integer(), nullable=True),
        sa.Column("synced_through_id", sa.Uuid(), nullable=True),
        _at("created_at", False),
        _at("updated_at", False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customers.id"],
            name=op.f("fk_billing_subscriptions_customer_id_billing_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["billing_plans.id"],
            name=op.f("fk_billing_subscriptions_plan_id_billing_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_subscriptions")),
        sa.UniqueConstraint(
            "customer_id", "live", name=op.f("uq_billing_subscriptions_customer_id_live")
        ),
        sa.UniqueConstraint(
            "stripe_subscription_id",
            name=op.f("uq_billing_subscriptions_stripe_subscription_id"),
        ),
    )
    op.create_table(
        "billing_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        _at("at", False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("module", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing_subscriptions.id"],
            name=op.f("fk_billing_ledger_subscription_id_billing_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["billing_plans.id"], name=op.f("fk_billing_ledger_plan_id_billing_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_ledger")),
    )
    op.create_index(
        "ix_billing_ledger_subscription_id", "billing_ledger", ["subscription_id", "id"]
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        _at("period_start"),
        _at("period_end"),
        _at("issued_at", False),
        _at("due_at"),
        _at("paid_at"),
        sa.Column("stripe_invoice_id", sa.String(length=100), nullable=True),
        sa.Column("hosted_url", sa.String(length=500), nullable=True),
        sa.Column("stripe_state_at", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customers.id"],
            name=op.f("fk_billing_invoices_customer_id_billing_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["billing_subscriptions.id"],
            name=op.f("fk_billing_invoices_subscription_id_billing_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_invoices")),
        sa.UniqueConstraint(
            "stripe_invoice_id", name=op.f("uq_billing_invoices_stripe_invoice_id")
        ),
    )
    op.create_index(
        "ix_billing_invoices_customer_id", "billing_invoices", ["customer_id", "issued_at"]
    )
    op.create_table(
        "billing_usage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        _at("at", False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        _at("reported_at"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customers.id"],
            name=op.f("fk_billing_usage_customer_id_billing_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_usage")),
        sa.UniqueConstraint(
            "customer_id",
            "idempotency_key",
            name=op.f("uq_billing_usage_customer_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_billing_usage_customer_id", "billing_usage", ["customer_id", "metric", "at"]
    )
    op.create_table(
        "billing_stripe_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stripe_event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("api_version", sa.String(length=40), nullable=True),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("received_at", False),
        _at("handled_at"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["billing_customers.id"],
            name=op.f("fk_billing_stripe_events_customer_id_billing_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_stripe_events")),
        sa.UniqueConstraint(
            "stripe_event_id", name=op.f("uq_billing_stripe_events_stripe_event_id")
        ),
    )
    grant_platform_table("billing_plans")  # the provider edits plans
    for table in (
        "billing_customers",
        "billing_subscriptions",
        "billing_invoices",
        "billing_usage",
        "billing_stripe_events",
    ):
        grant_platform_table(table, NO_DELETE)  # never delete data because of billing
    grant_platform_table("billing_ledger", APPEND_ONLY)

    from billing.catalogue import seed_plans

    seed_plans(op.get_bind())


def downgrade():
    op.drop_table("billing_stripe_events")
    op.drop_index("ix_billing_usage_customer_id", table_name="billing_usage")
    op.drop_table("billing_usage")
    op.drop_index("ix_billing_invoices_customer_id", table_name="billing_invoices")
    op.drop_table("billing_invoices")
    op.drop_index("ix_billing_ledger_subscription_id", table_name="billing_ledger")
    op.drop_table("billing_ledger")
    op.drop_table("billing_subscriptions")
    op.drop_table("billing_customers")
    op.drop_table("billing_plans")
