"""service: tickets, SLA, calls, knowledge base, surveys

Revision ID: service_0001
Revises:
Create Date: 2026-11-23 12:00:00

"""

import sqlalchemy as sa
from alembic import op

from crm_platform.sdk import secure_tenant_table

revision = "service_0001"
down_revision = None
branch_labels = ("service",)
depends_on = "0003_customer_database"

#: Full-text search of articles (PostgreSQL): the same expression ``kb.document()`` queries.
FTS_INDEX = "ix_service_kb_articles_fts"
FTS_EXPRESSION = "to_tsvector('english'::regconfig, (((title)::text || ' '::text) || body))"


def upgrade():
    op.create_table(
        "service_agent_status",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_agent_status_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_agent_status_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_agent_status")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_service_agent_status_tenant_id_user_id")
        ),
    )
    op.create_table(
        "service_calendars",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_calendars_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_calendars")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_service_calendars_tenant_id_name")),
    )
    op.create_table(
        "service_canned_responses",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_canned_responses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_canned_responses")),
        sa.UniqueConstraint(
            "tenant_id", "title", name=op.f("uq_service_canned_responses_tenant_id_title")
        ),
    )
    op.create_table(
        "service_kb_categories",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_kb_categories_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_kb_categories")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_service_kb_categories_tenant_id_name")
        ),
    )
    op.create_table(
        "service_queues",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assignment", sa.String(length=20), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_assigned_id"],
            ["users.id"],
            name=op.f("fk_service_queues_last_assigned_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_queues_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_queues")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_service_queues_tenant_id_name")),
    )
    op.create_table(
        "service_sequences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_sequences_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_sequences")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_service_sequences_tenant_id_name")),
    )
    op.create_table(
        "service_call_scripts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["service_queues.tenant_id", "service_queues.id"],
            name=op.f("fk_service_call_scripts_tenant_id_queue_id_service_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_call_scripts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_call_scripts")),
        sa.UniqueConstraint(
            "tenant_id", "title", name=op.f("uq_service_call_scripts_tenant_id_title")
        ),
    )
    op.create_table(
        "service_escalation_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("priority", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["service_queues.tenant_id", "service_queues.id"],
            name=op.f("fk_service_escalation_rules_tenant_id_queue_id_service_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_escalation_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_escalation_rules_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_escalation_rules")),
    )
    op.create_table(
        "service_holidays",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("calendar_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "calendar_id"],
            ["service_calendars.tenant_id", "service_calendars.id"],
            name=op.f("fk_service_holidays_tenant_id_calendar_id_service_calendars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_holidays_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_holidays")),
        sa.UniqueConstraint(
            "tenant_id",
            "calendar_id",
            "day",
            name=op.f("uq_service_holidays_tenant_id_calendar_id_day"),
        ),
    )
    op.create_table(
        "service_kb_articles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_service_kb_articles_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["service_kb_categories.tenant_id", "service_kb_categories.id"],
            name=op.f("fk_service_kb_articles_tenant_id_category_id_service_kb_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_kb_articles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_service_kb_articles_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_kb_articles")),
    )
    op.create_index(
        "ix_service_kb_articles_tenant_status",
        "service_kb_articles",
        ["tenant_id", "status", "visibility"],
        unique=False,
    )
    op.create_table(
        "service_queue_members",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["service_queues.tenant_id", "service_queues.id"],
            name=op.f("fk_service_queue_members_tenant_id_queue_id_service_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_queue_members_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_queue_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_queue_members")),
        sa.UniqueConstraint(
            "tenant_id",
            "queue_id",
            "user_id",
            name=op.f("uq_service_queue_members_tenant_id_queue_id_user_id"),
        ),
    )
    op.create_table(
        "service_sla_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("match_tag", sa.String(length=60), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("calendar_id", sa.Uuid(), nullable=True),
        sa.Column("warn_percent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "calendar_id"],
            ["service_calendars.tenant_id", "service_calendars.id"],
            name=op.f("fk_service_sla_policies_tenant_id_calendar_id_service_calendars"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_sla_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_sla_policies")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_service_sla_policies_tenant_id_name")
        ),
    )
    op.create_table(
        "service_kb_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_service_kb_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "article_id"],
            ["service_kb_articles.tenant_id", "service_kb_articles.id"],
            name=op.f("fk_service_kb_versions_tenant_id_article_id_service_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_kb_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_kb_versions")),
        sa.UniqueConstraint(
            "tenant_id",
            "article_id",
            "version",
            name=op.f("uq_service_kb_versions_tenant_id_article_id_version"),
        ),
    )
    op.create_table(
        "service_sla_targets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "policy_id"],
            ["service_sla_policies.tenant_id", "service_sla_policies.id"],
            name=op.f("fk_service_sla_targets_tenant_id_policy_id_service_sla_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_sla_targets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_sla_targets")),
        sa.UniqueConstraint(
            "tenant_id",
            "policy_id",
            "priority",
            name=op.f("uq_service_sla_targets_tenant_id_policy_id_priority"),
        ),
    )
    op.create_table(
        "service_tickets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("requester_email", sa.String(length=254), nullable=True),
        sa.Column("requester_name", sa.String(length=200), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("order_ref", sa.String(length=80), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("sla_policy_id", sa.Uuid(), nullable=True),
        sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_paused_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sla_warned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("response_breached", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("resolution_breached", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_service_tickets_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_service_tickets_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_service_tickets_tenant_id_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_service_tickets_tenant_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "merged_into_id"],
            ["service_tickets.tenant_id", "service_tickets.id"],
            name=op.f("fk_service_tickets_tenant_id_merged_into_id_service_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["service_queues.tenant_id", "service_queues.id"],
            name=op.f("fk_service_tickets_tenant_id_queue_id_service_queues"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sla_policy_id"],
            ["service_sla_policies.tenant_id", "service_sla_policies.id"],
            name=op.f("fk_service_tickets_tenant_id_sla_policy_id_service_sla_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_tickets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_tickets")),
        sa.UniqueConstraint(
            "tenant_id", "number", name=op.f("uq_service_tickets_tenant_id_number")
        ),
    )
    op.create_index(
        "ix_service_tickets_tenant_account",
        "service_tickets",
        ["tenant_id", "account_id"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_assignee",
        "service_tickets",
        ["tenant_id", "assignee_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_contact",
        "service_tickets",
        ["tenant_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_created",
        "service_tickets",
        ["tenant_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_queue",
        "service_tickets",
        ["tenant_id", "queue_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_requester",
        "service_tickets",
        ["tenant_id", "requester_email"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_resolution_due",
        "service_tickets",
        ["tenant_id", "resolution_due_at"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_response_due",
        "service_tickets",
        ["tenant_id", "response_due_at"],
        unique=False,
    )
    op.create_index(
        "ix_service_tickets_tenant_status",
        "service_tickets",
        ["tenant_id", "status", "priority"],
        unique=False,
    )
    op.create_table(
        "service_calls",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("ticket_id", sa.Uuid(), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("callback_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_service_calls_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_service_calls_tenant_id_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_service_calls_tenant_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["service_queues.tenant_id", "service_queues.id"],
            name=op.f("fk_service_calls_tenant_id_queue_id_service_queues"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "ticket_id"],
            ["service_tickets.tenant_id", "service_tickets.id"],
            name=op.f("fk_service_calls_tenant_id_ticket_id_service_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_calls_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_calls")),
    )
    op.create_index(
        "ix_service_calls_tenant_account",
        "service_calls",
        ["tenant_id", "account_id"],
        unique=False,
    )
    op.create_index(
        "ix_service_calls_tenant_contact",
        "service_calls",
        ["tenant_id", "contact_id"],
        unique=False,
    )
    op.create_index(
        "ix_service_calls_tenant_number", "service_calls", ["tenant_id", "number"], unique=False
    )
    op.create_index(
        "ix_service_calls_tenant_started",
        "service_calls",
        ["tenant_id", "started_at"],
        unique=False,
    )
    op.create_index(
        "ix_service_calls_tenant_ticket", "service_calls", ["tenant_id", "ticket_id"], unique=False
    )
    op.create_table(
        "service_messages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("from_address", sa.String(length=254), nullable=True),
        sa.Column("from_name", sa.String(length=200), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("email_message_id", sa.String(length=300), nullable=True),
        sa.Column("auto_reply", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_service_messages_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "ticket_id"],
            ["service_tickets.tenant_id", "service_tickets.id"],
            name=op.f("fk_service_messages_tenant_id_ticket_id_service_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_messages")),
    )
    op.create_index(
        "ix_service_messages_tenant_sender",
        "service_messages",
        ["tenant_id", "from_address", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_service_messages_tenant_ticket",
        "service_messages",
        ["tenant_id", "ticket_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "service_surveys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_service_surveys_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "queue_id"],
            ["service_queues.tenant_id", "service_queues.id"],
            name=op.f("fk_service_surveys_tenant_id_queue_id_service_queues"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "ticket_id"],
            ["service_tickets.tenant_id", "service_tickets.id"],
            name=op.f("fk_service_surveys_tenant_id_ticket_id_service_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_surveys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_surveys")),
        sa.UniqueConstraint(
            "tenant_id", "ticket_id", name=op.f("uq_service_surveys_tenant_id_ticket_id")
        ),
    )
    op.create_index(
        "ix_service_surveys_tenant_answered",
        "service_surveys",
        ["tenant_id", "answered_at"],
        unique=False,
    )
    op.create_table(
        "service_attachments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "message_id"],
            ["service_messages.tenant_id", "service_messages.id"],
            name=op.f("fk_service_attachments_tenant_id_message_id_service_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "ticket_id"],
            ["service_tickets.tenant_id", "service_tickets.id"],
            name=op.f("fk_service_attachments_tenant_id_ticket_id_service_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_attachments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_attachments")),
    )
    op.create_index(
        "ix_service_attachments_tenant_ticket",
        "service_attachments",
        ["tenant_id", "ticket_id"],
        unique=False,
    )
    secure_tenant_table("service_agent_status")
    secure_tenant_table("service_calendars")
    secure_tenant_table("service_canned_responses")
    secure_tenant_table("service_kb_categories")
    secure_tenant_table("service_queues")
    secure_tenant_table("service_sequences")
    secure_tenant_table("service_call_scripts")
    secure_tenant_table("service_escalation_rules")
    secure_tenant_table("service_holidays")
    secure_tenant_table("service_kb_articles")
    secure_tenant_table("service_queue_members")
    secure_tenant_table("service_sla_policies")
    secure_tenant_table("service_kb_versions")
    secure_tenant_table("service_sla_targets")
    secure_tenant_table("service_tickets")
    secure_tenant_table("service_calls")
    secure_tenant_table("service_messages")
    secure_tenant_table("service_surveys")
    secure_tenant_table("service_attachments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {FTS_INDEX} ON service_kb_articles USING gin ({FTS_EXPRESSION})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {FTS_INDEX}")
    op.drop_index("ix_service_attachments_tenant_ticket", table_name="service_attachments")
    op.drop_table("service_attachments")
    op.drop_index("ix_service_surveys_tenant_answered", table_name="service_surveys")
    op.drop_table("service_surveys")
    op.drop_index("ix_service_messages_tenant_ticket", table_name="service_messages")
    op.drop_index("ix_service_messages_tenant_sender", table_name="service_messages")
    op.drop_table("service_messages")
    op.drop_index("ix_service_calls_tenant_ticket", table_name="service_calls")
    op.drop_index("ix_service_calls_tenant_started", table_name="service_calls")
    op.drop_index("ix_service_calls_tenant_number", table_name="service_calls")
    op.drop_index("ix_service_calls_tenant_contact", table_name="service_calls")
    op.drop_index("ix_service_calls_tenant_account", table_name="service_calls")
    op.drop_table("service_calls")
    op.drop_index("ix_service_tickets_tenant_status", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_response_due", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_resolution_due", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_requester", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_queue", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_created", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_contact", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_assignee", table_name="service_tickets")
    op.drop_index("ix_service_tickets_tenant_account", table_name="service_tickets")
    op.drop_table("service_tickets")
    op.drop_table("service_sla_targets")
    op.drop_table("service_kb_versions")
    op.drop_table("service_sla_policies")
    op.drop_table("service_queue_members")
    op.drop_index("ix_service_kb_articles_tenant_status", table_name="service_kb_articles")
    op.drop_table("service_kb_articles")
    op.drop_table("service_holidays")
    op.drop_table("service_escalation_rules")
    op.drop_table("service_call_scripts")
    op.drop_table("service_sequences")
    op.drop_table("service_queues")
    op.drop_table("service_kb_categories")
    op.drop_table("service_canned_responses")
    op.drop_table("service_calendars")
    op.drop_table("service_agent_status")
