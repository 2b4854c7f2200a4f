"""customer database: owners, teams, tags, custom fields, activities, soft delete

Revision ID: 0003_customer_database
Revises: 0002_modules
Create Date: 2026-11-23 10:00:00

Accounts and contacts gain owner, team, classification, address, tags, custom values
(``custom`` JSON), a normalised ``name_key``, ``updated_at``, soft delete and merge columns,
with an index leading with ``tenant_id`` for every list and filter path. New tenant tables:
teams, team_members, custom_fields, record_tags, activities, saved_views,
duplicate_dismissals (all with row-level security).

Existing rows get ``updated_at = created_at`` and their ``name_key``; the backfill runs with
RLS not forced for a moment (the migration role owns the tables), or it would see no rows.
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

from crm_platform.migration_ops import secure_tenant_table, tenant_id_fk

revision = "0003_customer_database"
down_revision = "0002_modules"
branch_labels = None
depends_on = None

NEW_TABLES = (
    "teams",
    "team_members",
    "custom_fields",
    "record_tags",
    "activities",
    "saved_views",
    "duplicate_dismissals",
)
ACCOUNT_INDEXES = (
    "name_key", "owner_id", "team_id", "lifecycle_stage", "industry", "region", "email",
    "phone", "created_at", "updated_at", "deleted_at",
)
CONTACT_INDEXES = (
    "name_key", "owner_id", "team_id", "lifecycle_stage", "region", "phone", "created_at",
    "updated_at", "deleted_at",
)


def _key_columns():
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False), sa.Column("id", sa.Uuid(), nullable=False)]


def _create_tables():
    op.create_table(
        "teams",
        *_key_columns(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("teams"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_teams")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_teams_tenant_id_name")),
    )
    op.create_table(
        "team_members",
        *_key_columns(),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"],
            name=op.f("fk_team_members_tenant_id_team_id_teams"), ondelete="CASCADE",
        ),
        tenant_id_fk("team_members"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_team_members")),
        sa.UniqueConstraint(
            "tenant_id", "team_id", "user_id", name=op.f("uq_team_members_tenant_id_team_id_user_id")
        ),
    )
    op.create_index("ix_team_members_tenant_user", "team_members", ["tenant_id", "user_id"])
    op.create_table(
        "custom_fields",
        *_key_columns(),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("custom_fields"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_custom_fields")),
        sa.UniqueConstraint(
            "tenant_id", "entity", "key", name=op.f("uq_custom_fields_tenant_id_entity_key")
        ),
    )
    op.create_table(
        "record_tags",
        *_key_columns(),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        tenant_id_fk("record_tags"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_record_tags")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "tag", "record_id",
            name=op.f("uq_record_tags_tenant_id_kind_tag_record_id"),
        ),
    )
    op.create_index(
        "ix_record_tags_tenant_record", "record_tags", ["tenant_id", "kind", "record_id"]
    )
    op.create_table(
        "activities",
        *_key_columns(),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_activities_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_activities_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"], ["accounts.tenant_id", "accounts.id"],
            name=op.f("fk_activities_tenant_id_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_activities_tenant_id_contact_id_contacts"),
        ),
        tenant_id_fk("activities"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_activities")),
    )
    op.create_index(
        "ix_activities_tenant_account", "activities", ["tenant_id", "account_id", "created_at"]
    )
    op.create_index(
        "ix_activities_tenant_contact", "activities", ["tenant_id", "contact_id", "created_at"]
    )
    op.create_index(
        "ix_activities_tenant_owner_open",
        "activities",
        ["tenant_id", "owner_id", "done", "due_date"],
    )
    op.create_table(
        "saved_views",
        *_key_columns(),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        tenant_id_fk("saved_views"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_views_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "entity", "name",
            name=op.f("uq_saved_views_tenant_id_user_id_entity_name"),
        ),
    )
    op.create_table(
        "duplicate_dismissals",
        *_key_columns(),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("first_id", sa.Uuid(), nullable=False),
        sa.Column("second_id", sa.Uuid(), nullable=False),
        sa.Column("by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_duplicate_dismissals_by_id_users"),
            ondelete="SET NULL",
        ),
        tenant_id_fk("duplicate_dismissals"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_duplicate_dismissals")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "first_id", "second_id",
            name=op.f("uq_duplicate_dismissals_tenant_id_kind_first_id_second_id"),
        ),
    )


def _record_columns(batch_op):
    """Columns accounts and contacts both gain (``region`` exists on accounts already)."""
    batch_op.add_column(sa.Column("owner_id", sa.Uuid(), nullable=True))
    batch_op.add_column(sa.Column("team_id", sa.Uuid(), nullable=True))
    batch_op.add_column(sa.Column("address", sa.Text(), nullable=True))
    batch_op.add_column(sa.Column("source", sa.String(length=40), nullable=True))
    batch_op.add_column(
        sa.Column("tags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
    )
    batch_op.add_column(
        sa.Column("custom", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
    )
    batch_op.add_column(
        sa.Column("name_key", sa.String(length=200), server_default="", nullable=False)
    )
    batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    batch_op.add_column(sa.Column("merged_into_id", sa.Uuid(), nullable=True))


def _name_key(*parts):
    """``crm_platform.customers.name_key`` as of this revision."""
    joined = " ".join(p for p in parts if p)
    folded = unicodedata.normalize("NFKC", joined).casefold()
    return re.sub(r"[\W_]+", " ", folded).strip()[:200]


def _backfill(table, name_columns):
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    t = sa.table(
        table,
        sa.column("tenant_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("name_key", sa.String()),
        *(sa.column(c, sa.String()) for c in name_columns),
    )
    bind.execute(t.update().values(updated_at=t.c.created_at))
    rows = bind.execute(sa.select(t.c.tenant_id, t.c.id, *(t.c[c] for c in name_columns))).all()
    params = [{"b_t": r[0], "b_i": r[1], "b_k": _name_key(*r[2:])} for r in rows]
    if params:
        bind.execute(
            t.update()
            .where(t.c.tenant_id == sa.bindparam("b_t"), t.c.id == sa.bindparam("b_i"))
            .values(name_key=sa.bindparam("b_k")),
            params,
        )
    if postgres:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def upgrade():
    _create_tables()

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("size", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        _record_columns(batch_op)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("birthday", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("anniversary", sa.Date(), nullable=True))
        _record_columns(batch_op)

    _backfill("accounts", ["name"])
    _backfill("contacts", ["first_name", "last_name"])

    for table, indexes in (("accounts", ACCOUNT_INDEXES), ("contacts", CONTACT_INDEXES)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
            )
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_owner_id_users"), "users", ["owner_id"], ["id"],
                ondelete="SET NULL",
            )
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_tenant_id_team_id_teams"), "teams",
                ["tenant_id", "team_id"], ["tenant_id", "id"],
            )
            for column in indexes:
                batch_op.create_index(f"ix_{table}_tenant_{column}", ["tenant_id", column])
            if table == "contacts":
                batch_op.create_index(
                    "ix_contacts_tenant_last_name", ["tenant_id", "last_name", "first_name"]
                )

    for table in NEW_TABLES:
        secure_tenant_table(table)


def downgrade():
    for table, indexes, extra in (
        ("contacts", CONTACT_INDEXES, ("region", "notes", "birthday", "anniversary")),
        ("accounts", ACCOUNT_INDEXES, ("size", "email", "phone")),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_tenant_id_team_id_teams"), type_="foreignkey")
            batch_op.drop_constraint(op.f(f"fk_{table}_owner_id_users"), type_="foreignkey")
            for column in indexes:
                batch_op.drop_index(f"ix_{table}_tenant_{column}")
            if table == "contacts":
                batch_op.drop_index("ix_contacts_tenant_last_name")
            for column in (
                "merged_into_id", "deleted_at", "updated_at", "name_key", "custom", "tags",
                "source", "address", "team_id", "owner_id", *extra,
            ):
                batch_op.drop_column(column)

    op.drop_table("duplicate_dismissals")
    op.drop_table("saved_views")
    op.drop_index("ix_activities_tenant_owner_open", table_name="activities")
    op.drop_index("ix_activities_tenant_contact", table_name="activities")
    op.drop_index("ix_activities_tenant_account", table_name="activities")
    op.drop_table("activities")
    op.drop_index("ix_record_tags_tenant_record", table_name="record_tags")
    op.drop_table("record_tags")
    op.drop_table("custom_fields")
    op.drop_index("ix_team_members_tenant_user", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
