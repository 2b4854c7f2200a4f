"""Backups: what docs/operations.md prescribes (``pg_dump`` as a role that bypasses row-level
security, ``pg_restore`` into a fresh database) is run here and the restore is checked: every
table has the same rows, the policies came along, and the app serves the restored data with
tenant isolation still enforced."""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

import pytest
from conftest import in_tenant, login
from sqlalchemy import create_engine, select, text

from crm_platform import create_app
from crm_platform.customers import Account
from crm_platform.records.service import create_record
from crm_platform.testing import APP_ROLE, OWNER_ROLE, PG_ADMIN, PG_HOST, PG_PORT, pg_url

pytestmark = pytest.mark.postgres


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).all()
        counts = {t: conn.scalar(text(f'SELECT count(*) FROM "{t}"')) for t in tables}
        counts["<policies>"] = conn.scalar(text("SELECT count(*) FROM pg_policies"))
        counts["<forced rls>"] = conn.scalar(
            text("SELECT count(*) FROM pg_class WHERE relforcerowsecurity")
        )
    engine.dispose()
    return counts


def test_pg_dump_and_restore_into_a_fresh_database(
    app: Any, app_config: dict[str, Any], factory: Any
) -> None:
    alpha, beta = factory.tenant("alpha"), factory.tenant("beta")
    for tenant, name in ((alpha, "Alpha Customer"), (beta, "Beta Customer")):
        with in_tenant(app, tenant) as session:
            create_record("account", {"name": name})
            session.commit()
    source = app_config["PG_DATABASE"]
    copy = f"crm_restore_{uuid.uuid4().hex[:10]}"
    dump = subprocess.run(
        ["pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", "-Fc", source],
        check=True,
        capture_output=True,
    ).stdout
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{copy}" OWNER {OWNER_ROLE}'))
        subprocess.run(
            ["pg_restore", "-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", "-d", copy],
            input=dump,
            check=True,
            capture_output=True,
        )
        admin_url = PG_ADMIN.rsplit("/", 1)[0]
        before, after = _counts(f"{admin_url}/{source}"), _counts(f"{admin_url}/{copy}")
        assert after == before
        assert before["accounts"] == 2 and before["<policies>"] > 50

        restored = create_app(
            {
                **app_config,
                "DATABASE_URL": pg_url(APP_ROLE, copy),
                "MIGRATION_DATABASE_URL": pg_url(OWNER_ROLE, copy),
                "PG_DATABASE": copy,
            }
        )
        with in_tenant(restored, alpha) as session:  # RLS still keeps beta's rows away
            assert list(session.scalars(select(Account.name))) == ["Alpha Customer"]
        client = restored.test_client()
        assert login(client, alpha.owner_email).status_code in (302, 303)
        page = client.get(f"/t/{alpha.slug}/accounts")
        assert "Alpha Customer" in page.text and "Beta Customer" not in page.text
        with restored.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()
