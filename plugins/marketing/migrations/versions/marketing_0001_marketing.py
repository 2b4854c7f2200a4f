"""marketing: segments, customer scores, templates, campaigns, messages, suppressions,
sequences, enrollments, conversions

Revision ID: marketing_0001
Revises:
Create Date: 2026-11-23 15:00:00

The marketing module's own branch. Every table is a tenant table with row-level security.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import same_tenant_fk, secure_tenant_table, tenant_id_fk

revision = "marketing_0001"
down_revision = None
branch_labels = ("marketing",)
depends_on = ["0003_customer_database", "0010_orders"]

MONEY = sa.Numeric(precision=14, scale=2)
TABLES = (
    "marketing_segments",
    "marketing_segment_members",
    "marketing_customer_scores",
    "marketing_templates",
    "marketing_campaigns",
    "marketing_sequences",
    "marketing_sequence_steps",
    "marketing_enrollments",
    "marketing_messages",
    "marketing_clicks",
    "marketing_suppressions",
    "marketing_conversions",
)


def _key():
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def _pk(table):
    return sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}"))


def _unique(table, *columns):
    return sa.UniqueConstraint(
        "tenant_id", *columns, name=op.f(f"uq_{table}_tenant_id_{'_'.join(columns)}")
    )


def _times():
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade():
    t = "marketing_segments"
    op.create_table(
        t,
        *_key(),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("refresh_hours", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        *_times(),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "name"),
    )

    t = "marketing_segment_members"
    op.create_table(
        t,
        *_key(),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        same_tenant_fk(t, "segment_id", "marketing_segments", ondelete="CASCADE"),
        same_tenant_fk(t, "contact_id", "contacts", ondelete="CASCADE"),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "segment_id", "contact_id"),
    )
    op.create_index("ix_marketing_segment_members_tenant_contact", t, ["tenant_id", "contact_id"])

    t = "marketing_customer_scores"
    op.create_table(
        t,
        *_key(),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("first_order_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary", MONEY, nullable=False),
        sa.Column("average_order", MONEY, nullable=False),
        sa.Column("r_score", sa.Integer(), nullable=False),
        sa.Column("f_score", sa.Integer(), nullable=False),
        sa.Column("m_score", sa.Integer(), nullable=False),
        sa.Column("value_tier", sa.String(length=10), nullable=False),
        sa.Column("lifecycle", sa.String(length=10), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        same_tenant_fk(t, "contact_id", "contacts", ondelete="CASCADE"),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "contact_id"),
    )
    op.create_index("ix_marketing_customer_scores_tenant_lifecycle", t, ["tenant_id", "lifecycle"])
    op.create_index("ix_marketing_customer_scores_tenant_tier", t, ["tenant_id", "value_tier"])

    t = "marketing_templates"
    op.create_table(
        t,
        *_key(),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        *_times(),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "name"),
    )

    t = "marketing_campaigns"
    op.create_table(
        t,
        *_key(),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("subject_b", sa.String(length=300), nullable=True),
        sa.Column("ab_test_percent", sa.Integer(), nullable=False),
        sa.Column("ab_wait_hours", sa.Integer(), nullable=False),
        sa.Column("ab_winner", sa.String(length=1), nullable=True),
        sa.Column("ab_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("from_name", sa.String(length=120), nullable=True),
        sa.Column("reply_to", sa.String(length=254), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("conversion_days", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        *_times(),
        same_tenant_fk(t, "segment_id", "marketing_segments", ondelete="SET NULL"),
        tenant_id_fk(t),
        _pk(t),
    )
    op.create_index(
        "ix_marketing_campaigns_tenant_status", t, ["tenant_id", "status", "scheduled_at"]
    )

    t = "marketing_sequences"
    op.create_table(
        t,
        *_key(),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("from_name", sa.String(length=120), nullable=True),
        *_times(),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "name"),
    )

    t = "marketing_sequence_steps"
    op.create_table(
        t,
        *_key(),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("delay_hours", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        same_tenant_fk(t, "sequence_id", "marketing_sequences", ondelete="CASCADE"),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "sequence_id", "position"),
    )

    t = "marketing_enrollments"
    op.create_table(
        t,
        *_key(),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("stop_reason", sa.String(length=20), nullable=True),
        sa.Column("next_position", sa.Integer(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        same_tenant_fk(t, "sequence_id", "marketing_sequences", ondelete="CASCADE"),
        same_tenant_fk(t, "contact_id", "contacts", ondelete="CASCADE"),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "sequence_id", "contact_id"),
    )
    op.create_index(
        "ix_marketing_enrollments_tenant_due", t, ["tenant_id", "status", "next_run_at"]
    )
    op.create_index("ix_marketing_enrollments_tenant_contact", t, ["tenant_id", "contact_id"])

    t = "marketing_messages"
    op.create_table(
        t,
        *_key(),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("enrollment_id", sa.Uuid(), nullable=True),
        sa.Column("step_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("variant", sa.String(length=1), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("click_count", sa.Integer(), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        same_tenant_fk(t, "campaign_id", "marketing_campaigns", ondelete="CASCADE"),
        same_tenant_fk(t, "contact_id", "contacts", ondelete="CASCADE"),
        same_tenant_fk(t, "enrollment_id", "marketing_enrollments", ondelete="CASCADE"),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "message_id"),
        _unique(t, "campaign_id", "contact_id"),
        _unique(t, "enrollment_id", "step_id"),
    )
    op.create_index(
        "ix_marketing_messages_tenant_queue",
        t,
        ["tenant_id", "campaign_id", "status", "position"],
    )
    op.create_index(
        "ix_marketing_messages_tenant_contact", t, ["tenant_id", "contact_id", "created_at"]
    )

    t = "marketing_clicks"
    op.create_table(
        t,
        *_key(),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=False),
        same_tenant_fk(t, "message_id", "marketing_messages", ondelete="CASCADE"),
        tenant_id_fk(t),
        _pk(t),
    )
    op.create_index("ix_marketing_clicks_tenant_message", t, ["tenant_id", "message_id"])

    t = "marketing_suppressions"
    op.create_table(
        t,
        *_key(),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("source_message_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "email", "scope"),
    )
    op.create_index("ix_marketing_suppressions_tenant_created", t, ["tenant_id", "created_at"])

    t = "marketing_conversions"
    op.create_table(
        t,
        *_key(),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("value", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk(t),
        _pk(t),
        _unique(t, "kind", "record_id"),
    )
    op.create_index(
        "ix_marketing_conversions_tenant_contact", t, ["tenant_id", "contact_id", "occurred_at"]
    )
    op.create_index(
        "ix_marketing_conversions_tenant_account", t, ["tenant_id", "account_id", "occurred_at"]
    )

    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
