"""Helpers of the tenant export/import and deletion tests: a tenant with data in the core and
several plugins, a second migrated database, and a canonical snapshot of a tenant's rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import in_tenant
from helpers_records import add, add_field
from helpers_sfa import deal, enable, sales_tenant
from sqlalchemy import select

from crm_platform.extensions import db
from crm_platform.identity import User
from crm_platform.records.activity_service import create_activity
from crm_platform.tenancy import provider_scope
from crm_platform.tenant_archive import archive_tables, encode_value
from crm_platform.testing import migrated_database


def build_tenant(app: Any, factory: Any, slug: str = "source") -> Any:
    """A tenant with accounts, contacts (custom field, tags), activities, a deal with a quote,
    a service ticket and a marketing segment; a second member."""
    tenant = sales_tenant(app, slug, f"owner@{slug}.example")
    for key in ("service", "marketing"):
        enable(app, tenant, key)
    factory.member(tenant, f"rep@{slug}.example", "member")
    add_field(app, tenant, "contact", "tier", "text")
    globex = add(app, tenant, "account", name="Globex", website="globex.example")
    initech = add(app, tenant, "account", name="Initech")
    add(
        app,
        tenant,
        "contact",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@globex.example",
        account_id=globex,
        tags="vip, 重要",
        custom={"tier": "gold"},
    )
    add(app, tenant, "contact", first_name="Bob", email="bob@initech.example", account_id=initech)
    with in_tenant(app, tenant) as session:
        create_activity({"kind": "note", "subject": "Met at the fair", "account_id": globex})
        session.commit()
    deal_id = deal(app, tenant, name="Globex expansion", amount="1234.50", account_id=globex)
    with in_tenant(app, tenant) as session:
        from plugins.marketing.segments import create_segment
        from plugins.service import tickets
        from plugins.sfa.models import Deal
        from plugins.sfa.quotes import add_line, create_quote

        row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        quote = create_quote(row)
        add_line(quote, {"description": "Travel", "quantity": "2", "unit_price": "45.5"})
        tickets.create_ticket({"subject": "Printer is on fire"}, channel="agent")
        create_segment({"name": "VIP", "kind": "static"})
        session.commit()
    return tenant


# --------------------------------------------------------------------------- snapshots


def _labels(session: Any, tenant_id: uuid.UUID) -> dict[str, str]:
    """Every id of the tenant's rows → ``table#n`` (n: rank by id), every user id → e-mail."""
    labels: dict[str, str] = {}
    for table in archive_tables():
        ids = session.scalars(
            select(table.c.id).where(table.c.tenant_id == tenant_id).order_by(table.c.id)
        )
        for n, rid in enumerate(ids):
            labels[str(rid)] = f"{table.name}#{n}"
    for uid, email in session.execute(select(User.id, User.email)):
        labels[str(uid)] = f"user:{email}"
    return labels


def _canon(value: Any, labels: dict[str, str]) -> Any:
    if isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        return [_canon(v, labels) for v in value]
    if isinstance(value, dict):
        return {labels.get(k, k): _canon(v, labels) for k, v in value.items()}
    return value


def snapshot(app: Any, tenant_id: uuid.UUID, *, ids: bool = False) -> dict[str, list[Any]]:
    """Every row of the tenant in every tenant table, ids replaced by what they point at
    (``table#rank`` or the user's e-mail), so a copy with new ids compares equal exactly
    when its relationships point at the corresponding rows. ``ids=True`` keeps raw ids."""
    out: dict[str, list[Any]] = {}
    with app.app_context(), provider_scope("test snapshot", "tests") as session:
        labels = {} if ids else _labels(session, tenant_id)
        for table in archive_tables():
            rows = session.execute(
                select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.id)
            )
            out[table.name] = [
                {
                    c.name: _canon(encode_value(c.type, v), labels)
                    for c, v in zip(table.c, row, strict=True)
                    if c.name != "tenant_id"
                }
                for row in rows
            ]
    return out


def counts(app: Any, tenant_id: uuid.UUID) -> dict[str, int]:
    """Rows of ``tenant_id`` per tenant table (only the non-empty ones)."""
    with app.app_context(), provider_scope("test counts", "tests") as session:
        found = {}
        for table in archive_tables():
            n = session.execute(
                select(db.func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
            ).scalar_one()
            if n:
                found[table.name] = n
        return found


# --------------------------------------------------------------------------- second database


@contextmanager
def second_database(tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """Another database migrated to every head (the "other instance")."""
    with migrated_database(tmp_path, redis_url, "crm_other") as cfg:
        yield cfg


def dispose_all(app: Any) -> None:
    with app.app_context():
        db.engine.dispose()
        engine = app.extensions.get("crm_provider_engine")
        if engine is not None and engine is not db.engine:
            engine.dispose()
