"""The schema follows the isolation rules, and the migrations match the models.

* Every tenant table: ``tenant_id`` leads its primary key, unique constraints and foreign keys
  to other tenant tables; on PostgreSQL it has RLS enabled, forced, with a policy.
* ``alembic check``: no drift between the models and the migrated database.
* Upgrade from empty to head, down to base and up again, on the database under test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import DB_KIND, OWNER_ROLE, PG_ADMIN, pg_url
from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    create_engine,
    inspect,
    text,
)

from crm_platform import create_app
from crm_platform.extensions import db
from crm_platform.schema_rules import model_problems, rls_problems
from crm_platform.tenancy import tenant_tables


def test_tenant_tables_are_known(app: Any) -> None:
    names = {t.name for t in tenant_tables()}
    assert {"accounts", "contacts", "memberships", "invitations", "audit_events"} <= names


def test_every_tenant_key_leads_with_tenant_id(app: Any) -> None:
    assert model_problems(db.metadata, tenant_tables()) == []


def test_rule_checker_catches_bad_tables() -> None:
    """The checker itself must fail on each kind of mistake (or the test above proves nothing)."""
    md = MetaData()
    Table("tenants", md, Column("id", Uuid, primary_key=True))
    good = Table(
        "good",
        md,
        Column("tenant_id", Uuid, primary_key=True),
        Column("id", Uuid, primary_key=True),
    )
    bad_pk = Table("bad_pk", md, Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid))
    bad_unique = Table(
        "bad_unique",
        md,
        Column("tenant_id", Uuid, primary_key=True),
        Column("id", Uuid, primary_key=True),
        Column("code", String(10)),
        UniqueConstraint("code"),
    )
    bad_fk = Table(
        "bad_fk",
        md,
        Column("tenant_id", Uuid, primary_key=True),
        Column("id", Uuid, primary_key=True),
        Column("good_id", Uuid),
        ForeignKeyConstraint(["good_id"], ["good.id"]),
    )
    Table("stray", md, Column("id", Uuid, primary_key=True), Column("tenant_id", Uuid))
    problems = model_problems(md, [good, bad_pk, bad_unique, bad_fk])
    assert any(p.startswith("bad_pk: primary key") for p in problems)
    assert any(p.startswith("bad_unique: unique constraint") for p in problems)
    assert any(p.startswith("bad_fk: foreign key to good") for p in problems)
    assert any(p.startswith("stray: has tenant_id") for p in problems)
    assert not any(p.startswith("good") for p in problems)


@pytest.mark.postgres
def test_every_tenant_table_has_forced_rls(app: Any) -> None:
    with app.app_context(), db.engine.connect() as conn:
        assert rls_problems(conn, tenant_tables()) == []


@pytest.mark.postgres
def test_rls_checker_catches_a_table_without_rls(app: Any) -> None:
    with app.app_context():
        engine = create_engine(app.config["MIGRATION_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                conn.execute(text("create table plugin_things (tenant_id uuid, id uuid)"))
                problems = rls_problems(conn, tenant_tables())
                conn.rollback()
        finally:
            engine.dispose()
    assert "plugin_things: row-level security is not enabled" in problems
    assert "plugin_things: has no row-level security policy" in problems


def test_check_tenancy_command(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["db", "check-tenancy"])
    assert result.exit_code == 0, result.output
    assert "tenant tables follow the isolation rules" in result.output


def test_models_and_migrations_do_not_drift(app: Any) -> None:
    with app.app_context():
        engine = create_engine(app.config["MIGRATION_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, db.metadata)
        finally:
            engine.dispose()
    assert diff == []


@pytest.fixture
def empty_database(tmp_path: Any) -> Iterator[dict[str, str]]:
    """A fresh, empty database of the kind under test (not the shared migrated one)."""
    if DB_KIND == "sqlite":
        url = f"sqlite:///{tmp_path / 'updown.sqlite3'}"
        yield {"DATABASE_URL": url, "MIGRATION_DATABASE_URL": url, "PROVIDER_DATABASE_URL": url}
        return
    name = f"crm_updown_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}'))
    url = pg_url(OWNER_ROLE, name)
    try:
        yield {"DATABASE_URL": url, "MIGRATION_DATABASE_URL": url, "PROVIDER_DATABASE_URL": url}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database: dict[str, str], app_config: dict) -> None:
    from flask_migrate import downgrade, upgrade

    config = {**app_config, **empty_database}
    config.pop("PG_DATABASE", None)
    url = empty_database["MIGRATION_DATABASE_URL"]
    application = create_app(config)
    with application.app_context():
        upgrade(revision="heads")
        expected = {t.name for t in db.metadata.sorted_tables}
        assert _tables(url) == expected
        downgrade(revision="base")
        assert _tables(url) == set()
        upgrade(revision="heads")
        assert _tables(url) == expected
        db.engine.dispose()
