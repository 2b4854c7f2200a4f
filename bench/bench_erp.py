"""ERP sync at scale on PostgreSQL: the first sync of 10,000 orders with their parties, then
a sync with nothing new, through the file/webhook connector and the real sync engine.

    .venv/bin/python bench/bench_erp.py                          # full scale (bench/README.md)
    .venv/bin/python bench/bench_erp.py --orders 1000 --parties 200   # a quick run

1. A fresh database (``--db``, default ``crm_bench_erp``) migrated with the project's
   migrations; the app connects as the non-owner app role that row-level security binds.
2. One tenant through the real provisioning service, on the Enterprise plan (no record
   limits), with the ERP module on and a file/webhook connection.
3. Set-up (timed apart): a JSON drop of ``--parties`` parties and ``--orders`` sales orders
   (two lines each, every order naming one of the parties) is checked and stored in the
   connection's inbox, as an upload or the webhook would.
4. **Measured**: the first sync (every party becomes an account, every order a CRM order with
   its lines, each in the ledger with its content hash, committed page by page); the
   incremental sync right after (the cursor says nothing is new); and a full re-read with
   the cursors forgotten (every record compared by its hash, nothing written).

Targets: first sync < 60 s, incremental sync < 2 s. Prints tables and writes
``bench/results/bench_erp.json``; times are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from types import SimpleNamespace
from typing import Any

from common import (
    BenchDatabase,
    Stopwatch,
    console,
    print_phases,
    print_table,
    run_timed,
    save_results,
)
from sqlalchemy import create_engine, text

UNLIMITED_PLAN = "enterprise"
TARGET_FIRST_S = 60.0
TARGET_INCREMENTAL_S = 2.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=10_000, help="sales orders in the drop")
    p.add_argument("--parties", type=int, default=2_000, help="parties (customers) in the drop")
    p.add_argument("--page", type=int, default=500, help="records per pulled page")
    p.add_argument("--db", default="crm_bench_erp", help="database name (dropped and re-created)")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--results", default=None, help="directory of the JSON results")
    p.add_argument("--name", default="bench_erp", help="results file name (without .json)")
    return p.parse_args(argv)


def _unlimited_plan(app: Any, tenant: Any) -> None:
    """The Enterprise plan, as the provider sets it (``crm billing change-plan``)."""
    cli = app.test_cli_runner()
    if cli.invoke(args=["billing", "--help"]).exit_code != 0:
        return
    from crm_platform.tenancy import tenant_context

    with tenant_context(tenant):
        result = cli.invoke(args=["billing", "change-plan", tenant.slug, UNLIMITED_PLAN])
    if result.exit_code != 0:
        raise SystemExit(f"change-plan: {result.output} {result.exception!r}")


def provision(app: Any) -> tuple[Any, uuid.UUID]:
    """The tenant with the ERP module on and a file/webhook connection."""
    from crm_platform.extensions import db
    from crm_platform.identity import Tenant
    from crm_platform.modules import enable_module
    from crm_platform.provisioning import create_tenant, create_user
    from crm_platform.tenancy import tenant_context
    from plugins.erp.models import Connection

    with app.app_context():
        owner = create_user("owner@erp.example", "Owner", "bench-horse-battery-staple")
        tenant = create_tenant("ERP Co", "erpco", owner)
        db.session.commit()
        ref = SimpleNamespace(id=tenant.id, slug="erpco")
        _unlimited_plan(app, ref)
        with tenant_context(ref):
            enable_module(db.session.get(Tenant, ref.id), "erp")
            connection = Connection(
                name="Books", connector_key="file", settings={}, interval_minutes=0
            )
            db.session.add(connection)
            db.session.commit()
            return ref, connection.id


def drop_body(parties: int, orders: int) -> bytes:
    """The JSON drop: parties, then orders naming them (two lines each)."""
    records: list[dict[str, Any]] = [
        {
            "object": "party",
            "external_id": f"P{i}",
            "updated_at": "2026-01-01T00:00:00Z",
            "data": {"name": f"Customer {i}", "email": f"buyer{i}@customer.example"},
        }
        for i in range(parties)
    ]
    for i in range(orders):
        records.append(
            {
                "object": "sale",
                "external_id": f"S{i}",
                "updated_at": "2026-01-02T00:00:00Z",
                "data": {
                    "number": f"SO{i:06d}",
                    "party": f"P{i % parties}",
                    "date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    "status": "completed",
                    "currency": "USD",
                    "lines": [
                        {"product": None, "name": "Widget", "quantity": "2", "unit_price": "19.90"},
                        {"product": None, "name": "Service", "quantity": "1", "unit_price": "45"},
                    ],
                },
            }
        )
    return json.dumps({"records": records}).encode()


def run_sync(app: Any, tenant: Any, connection_id: uuid.UUID, page: int) -> dict[str, Any]:
    """One sync run in this process, as the job runs it; its counts and seconds."""
    from crm_platform.extensions import db
    from crm_platform.tenancy import tenant_context
    from plugins.erp.engine import execute_run, start_run
    from plugins.erp.models import Connection

    with app.app_context(), tenant_context(tenant):
        connection = db.session.get(Connection, (tenant.id, connection_id))
        run = start_run(connection, "bench")
        db.session.commit()
        with Stopwatch() as w:
            execute_run(run, page_size=page)
        out = {
            "status": run.status,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "failed": run.failed,
            "seconds": round(w.seconds, 3),
        }
        db.session.remove()
        return out


def forget_cursors(app: Any, tenant: Any) -> None:
    """The next run reads every record again (the page's "read everything again")."""
    from sqlalchemy import update

    from crm_platform.extensions import db
    from crm_platform.tenancy import tenant_context
    from plugins.erp.models import SyncCursor

    with app.app_context(), tenant_context(tenant):
        db.session.execute(update(SyncCursor).values(cursor=None))
        db.session.commit()


def count_rows(owner_url: str, tenant_id: Any) -> dict[str, int]:
    """Accounts, orders, order lines and ledger entries of the tenant."""
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
            )
            return {
                table: conn.execute(text(f"select count(*) from {table}")).scalar_one()
                for table in ("accounts", "orders", "order_lines", "erp_ledger")
            }
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    args = parse_args(argv)
    bench_db = BenchDatabase(args.db)
    phases: dict[str, float] = {}
    console.print(f"[bold]ERP sync benchmark[/] on database {args.db}")
    with Stopwatch() as w:
        bench_db.create()
    phases["migrate"] = w.seconds
    app = bench_db.app()
    try:
        with Stopwatch() as w:
            tenant, connection_id = provision(app)
        phases["provision"] = w.seconds
        body = drop_body(args.parties, args.orders)
        from crm_platform.extensions import db
        from crm_platform.tenancy import tenant_context
        from plugins.erp import file_connector

        with Stopwatch() as w, app.app_context(), tenant_context(tenant):
            drop = file_connector.read_json(body, limit=len(body) + 1)
            if drop.errors:
                raise SystemExit(f"the drop was refused: {drop.errors[:3]}")
            file_connector.store(connection_id, drop, "bench")
            db.session.commit()
        phases["set-up: check and store the drop"] = w.seconds
        load = os.getloadavg()[0]
        first = run_sync(app, tenant, connection_id, args.page)
        incremental = run_sync(app, tenant, connection_id, args.page)
        forget_cursors(app, tenant)
        reread = run_sync(app, tenant, connection_id, args.page)
        load = round((load + os.getloadavg()[0]) / 2, 1)
        rows = count_rows(bench_db.owner_url, tenant.id)
    finally:
        with app.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
        if not args.keep:
            bench_db.drop()
    records = args.parties + args.orders
    table = [
        ("first sync", first, f"< {TARGET_FIRST_S:.0f} s", first["seconds"] < TARGET_FIRST_S),
        (
            "incremental sync, nothing new",
            incremental,
            f"< {TARGET_INCREMENTAL_S:.0f} s",
            incremental["seconds"] < TARGET_INCREMENTAL_S,
        ),
        ("full re-read, nothing changed", reread, "", None),
    ]
    print_table(
        f"ERP sync of {args.orders:,} orders and {args.parties:,} parties (file connector, "
        f"pages of {args.page}); load average {load}",
        [
            "run",
            "status",
            "created",
            "updated",
            "unchanged",
            "failed",
            "seconds",
            "records/s",
            "target",
            "met",
        ],
        [
            [
                name,
                r["status"],
                r["created"],
                r["updated"],
                r["unchanged"],
                r["failed"],
                r["seconds"],
                round(records / r["seconds"])
                if r["seconds"] and (r["created"] or r["unchanged"])
                else 0,
                target,
                "" if met is None else ("yes" if met else "NO"),
            ]
            for name, r, target, met in table
        ],
    )
    print_table("Rows in the tenant", ["table", "rows"], [[k, v] for k, v in rows.items()])
    print_phases(phases)
    payload = {
        "options": vars(args),
        "load_average": load,
        "first_sync": first,
        "incremental_sync": incremental,
        "full_reread": reread,
        "rows": rows,
        "targets": {"first_sync_s": TARGET_FIRST_S, "incremental_sync_s": TARGET_INCREMENTAL_S},
    }
    save_results(args, payload, phases)
    return payload


if __name__ == "__main__":
    run_timed(main)
