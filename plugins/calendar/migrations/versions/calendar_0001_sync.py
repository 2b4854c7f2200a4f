"""calendar: CalDAV connections, per-object sync state, calendar details of activities,
feed tokens

Revision ID: calendar_0001
Revises:
Create Date: 2026-11-23 20:30:00

The first revision of the Calendar module's own branch (``calendar``). Every table is
tenant-scoped: ``(tenant_id, id)`` keys, composite foreign keys, row-level security on
PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table, tenant_id_fk

revision = "calendar_0001"
down_revision = None
branch_labels = ("calendar",)
depends_on = "0003_customer_database"

TABLES = (
    "calendar_connections",
    "calendar_feeds",
    "calendar_sync_items",
    "calendar_event_details",
)


def upgrade():
    op.create_table(
        "calendar_connections",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("server_url", sa.String(length=500), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("calendars", sa.JSON(), nullable=False),
        sa.Column("calendar_url", sa.String(length=1000), nullable=True),
        sa.Column("calendar_name", sa.String(length=200), nullable=True),
        sa.Column("import_new", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("ctag", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("calendar_connections"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_connections_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_connections")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_calendar_connections_tenant_id_user_id")
        ),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("calendar_feeds"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_feeds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f("uq_calendar_feeds_tenant_id_token_hash")
        ),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_calendar_feeds_tenant_id_user_id")
        ),
    )
    op.create_table(
        "calendar_sync_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=True),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("href", sa.String(length=1000), nullable=False),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("crm_hash", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "connection_id"],
            ["calendar_connections.tenant_id", "calendar_connections.id"],
            name=op.f("fk_calendar_sync_items_tenant_id_connection_id_calendar_connections"),
            ondelete="CASCADE",
        ),
        tenant_id_fk("calendar_sync_items"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_sync_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "href",
            name=op.f("uq_calendar_sync_items_tenant_id_connection_id_href"),
        ),
    )
    op.create_index(
        "ix_calendar_sync_items_activity",
        "calendar_sync_items",
        ["tenant_id", "activity_id"],
        unique=False,
    )
    op.create_table(
        "calendar_event_details",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "activity_id"],
            ["activities.tenant_id", "activities.id"],
            name=op.f("fk_calendar_event_details_tenant_id_activity_id_activities"),
            ondelete="CASCADE",
        ),
        tenant_id_fk("calendar_event_details"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_event_details")),
        sa.UniqueConstraint(
            "tenant_id",
            "activity_id",
            name=op.f("uq_calendar_event_details_tenant_id_activity_id"),
        ),
    )
    for table in TABLES:
        secure_tenant_table(table)


def downgrade():
    op.drop_table("calendar_event_details")
    op.drop_index("ix_calendar_sync_items_activity", table_name="calendar_sync_items")
    op.drop_table("calendar_sync_items")
    op.drop_table("calendar_feeds")
    op.drop_table("calendar_connections")
