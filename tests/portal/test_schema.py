"""The portal's tables follow the isolation rules: keys and foreign keys lead with
``tenant_id``; on PostgreSQL row-level security is enabled, forced and has its policy; the
migration matches the models."""

from __future__ import annotations

from typing import Any

import pytest

from crm_platform.extensions import db
from crm_platform.schema_rules import model_problems, rls_problems
from crm_platform.tenancy import tenant_tables

PORTAL_TABLES = {"portal_users", "portal_logos"}


def _tables() -> list[Any]:
    tables = [t for t in tenant_tables() if t.name in PORTAL_TABLES]
    assert {t.name for t in tables} == PORTAL_TABLES
    return tables


def test_model_rules(app: Any) -> None:
    with app.app_context():
        problems = model_problems(db.metadata, tenant_tables())
        assert [p for p in problems if p.startswith("portal_")] == []
        _tables()


@pytest.mark.postgres
def test_row_level_security(app: Any) -> None:
    with app.app_context(), db.engine.connect() as conn:
        assert rls_problems(conn, _tables()) == []


def test_migration_matches_models(app: Any) -> None:
    """Columns created by the migration are the models' columns."""
    from sqlalchemy import inspect

    with app.app_context():
        found = inspect(db.engine)
        for table in _tables():
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
