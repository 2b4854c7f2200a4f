"""Helpers of the ERP tests: tenants with the module on, connections, drops and runs made
through the module's own services."""

from __future__ import annotations

import json
import uuid
from typing import Any

from conftest import in_tenant, login
from sqlalchemy import func, select

from crm_platform.identity import Tenant
from crm_platform.modules import enable_module
from crm_platform.provisioning import create_tenant, create_user, find_user
from crm_platform.testing import PASSWORD, TenantInfo
from plugins.erp import file_connector
from plugins.erp.connector import ConnectorError
from plugins.erp.engine import execute_run, start_run
from plugins.erp.models import Connection, SyncRun


def erp_tenant(
    app: Any, slug: str, owner_email: str, *, modules: tuple[str, ...] = ("sfa", "erp")
) -> TenantInfo:
    """A tenant with its owner and ``modules`` switched on."""
    from crm_platform.extensions import db

    with app.app_context():
        owner = find_user(owner_email) or create_user(owner_email, f"Owner of {slug}", PASSWORD)
        tenant = create_tenant(slug.title(), slug, owner)
        db.session.commit()
        info = TenantInfo(tenant.id, tenant.slug, tenant.name, owner_email)
    for key in modules:
        with in_tenant(app, info) as session:
            enable_module(session.get(Tenant, info.id), key)
            session.commit()
    return info


def signed_in(app: Any, email: str) -> Any:
    """A test client signed in as ``email``."""
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def connection(
    app: Any, tenant: Any, key: str = "file", name: str = "Books", **settings: str
) -> str:
    """A connection made directly (the id)."""
    with in_tenant(app, tenant) as session:
        row = Connection(name=name, connector_key=key, settings=settings, interval_minutes=0)
        session.add(row)
        session.commit()
        return str(row.id)


def drop(app: Any, tenant: Any, connection_id: str, records: list[dict[str, Any]]) -> int:
    """Put records into a file connection's inbox as a JSON drop would."""
    checked = file_connector.read_json(json.dumps({"records": records}).encode())
    assert not checked.errors, checked.errors
    with in_tenant(app, tenant) as session:
        count = file_connector.store(uuid.UUID(connection_id), checked, "test")
        session.commit()
        return count


def sync(app: Any, tenant: Any, connection_id: str, *, page_size: int = 500) -> dict[str, Any]:
    """Run a sync in-process; its counts and status."""
    with in_tenant(app, tenant) as session:
        row = session.get(Connection, (tenant.id, uuid.UUID(connection_id)))
        run = start_run(row, "manual")
        session.commit()
        run_id = run.id
    with in_tenant(app, tenant) as session:
        run = session.get(SyncRun, (tenant.id, run_id))
        try:
            execute_run(run, page_size=page_size)
        except ConnectorError as exc:  # the run records the failure
            session.rollback()
            run = session.get(SyncRun, (tenant.id, run_id))
            return counts(run) | {"raised": type(exc).__name__}
        return counts(run)


def counts(run: SyncRun) -> dict[str, Any]:
    """The numbers and status of a run."""
    return {
        "status": run.status,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "deleted": run.deleted,
        "failed": run.failed,
        "message": run.message,
        "log": list(run.log or []),
    }


def count(session: Any, model: Any, *where: Any) -> int:
    """Rows of ``model`` (in the tenant in context)."""
    return session.scalar(select(func.count()).select_from(model).where(*where))


def party(ext: str, name: str, **data: Any) -> dict[str, Any]:
    """A party record of a drop."""
    updated = data.pop("updated_at", None)
    item = {"object": "party", "external_id": ext, "data": {"name": name, **data}}
    if updated:
        item["updated_at"] = updated
    return item


def sale(
    ext: str, party_ext: str, *, status: str = "pending", total: str = "100.00", **data: Any
) -> dict[str, Any]:
    """A sale record of a drop (one line)."""
    lines = [{"product": None, "name": "Widget", "quantity": "1", "unit_price": total}]
    return {
        "object": "sale",
        "external_id": ext,
        "data": {
            "number": f"SO-{ext}",
            "party": party_ext,
            "status": status,
            "currency": "USD",
            "lines": lines,
            **data,
        },
    }
