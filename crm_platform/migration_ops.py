"""Helpers for Alembic migrations of tenant tables (core and plugins use the same ones).

``secure_tenant_table`` turns on row-level security (ENABLE + FORCE) with the tenant policy
and grants the app and provider roles access. ``grant_platform_table`` grants access to a
table without tenant rows. On SQLite both do nothing.

``tenant_id_fk`` and ``same_tenant_fk`` are the foreign keys of a tenant table for
``op.create_table``, named as the models' naming convention names them (so autogenerate and
``crm db check-tenancy`` see no difference)::

    op.create_table(
        "loyalty_cards",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        tenant_id_fk("loyalty_cards"),
        same_tenant_fk("loyalty_cards", "contact_id", "contacts", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_loyalty_cards")),
    )
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def tenant_id_fk(table: str) -> sa.ForeignKeyConstraint:
    """``table.tenant_id -> tenants.id``, ``ON DELETE CASCADE`` (deleting a tenant deletes its
    rows), named ``fk_<table>_tenant_id_tenants``."""
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def same_tenant_fk(
    table: str, column: str, target: str, *, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    """``(tenant_id, column) -> target(tenant_id, id)``: a row of ``table`` can point only at a
    row of the same tenant. Named ``fk_<table>_tenant_id_<column>_<target>``; ``ondelete``
    (e.g. ``"CASCADE"``) is left out unless given, like the models' ``tenant_foreign_key``."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"fk_{table}_tenant_id_{column}_{target}"),
        ondelete=ondelete,
    )


def _roles() -> tuple[str, str]:
    try:
        from flask import current_app

        cfg = current_app.config
        return cfg["DB_APP_ROLE"], cfg["DB_PROVIDER_ROLE"]
    except (RuntimeError, KeyError):
        return (
            os.environ.get("CRM_DB_APP_ROLE", "crm_app"),
            os.environ.get("CRM_DB_PROVIDER_ROLE", "crm_provider"),
        )


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _grant(table: str, privileges: str) -> None:
    for role in _roles():
        op.execute(
            f"""DO $$ BEGIN
              IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                EXECUTE 'GRANT {privileges} ON TABLE {table} TO {role}';
              END IF;
            END $$"""
        )


def grant_platform_table(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Grant the app and provider roles ``privileges`` on a platform (non-tenant) table."""
    if _is_postgres():
        op.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        _grant(table, privileges)


def secure_tenant_table(table: str, *, append_only: bool = False) -> None:
    """Row-level security on a tenant table: ENABLE, FORCE, tenant policy and grants.

    ``append_only`` grants SELECT and INSERT only (e.g. the audit log).
    """
    if not _is_postgres():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )
    _grant(table, "SELECT, INSERT" if append_only else "SELECT, INSERT, UPDATE, DELETE")


def add_select_policy(table: str, name: str, predicate: str) -> None:
    """An extra read-only RLS policy on ``table`` (e.g. a user's own memberships)."""
    if _is_postgres():
        op.execute(f"CREATE POLICY {name} ON {table} FOR SELECT USING ({predicate})")
