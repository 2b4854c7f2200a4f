"""Analytics at scale on PostgreSQL: grouped reports over 1,000,000 deals of one tenant.

    .venv/bin/python bench/bench_analytics.py                 # full scale: 1,000,000 deals
    .venv/bin/python bench/bench_analytics.py --small         # a quick run (20,000 deals)
    .venv/bin/python bench/bench_analytics.py --deals 200000 --reps 5

1. A fresh database (``--db``, default ``crm_bench_analytics``) migrated with the project's
   migrations; the app connects as the non-owner app role that row-level security binds.
2. The Sales benchmark's tenant (``bench_sfa.provision``: 20 members, 3 teams, 2,000
   accounts in 8 regions, Enterprise plan, Sales on) with Analytics switched on.
3. Set-up (not measured): ``--deals`` deals with ``INSERT ... SELECT generate_series`` (10 %
   open over the pipeline's stages, the rest won or lost over the last two years), then
   ``VACUUM ANALYZE``.
4. **Measured**, ``--reps`` times each, as the owner (every deal visible): the report engine's
   ``run`` (one ``SELECT ... GROUP BY`` through the tenant-scoped session, RLS on) for the
   built-in and typical reports: won sales by month, the funnel by stage, sales by owner, by
   the account's region (a join), by the owner's team (a join), stage × quarter (two groups);
   and the builder page of "sales by month" through the Flask test client (the whole stack:
   session, tenant, the row count that decides whether a report runs as a job, the query,
   the chart and the template).

Prints tables and writes ``bench/results/bench_analytics.json``; the target (p95 < 1 s per
grouped report at 1,000,000 deals) is printed next to the figures, never asserted.
"""

from __future__ import annotations

import argparse
import os
from typing import Any
from urllib.parse import urlencode

from bench_sfa import World, bulk, count_deals, provision, signed_in
from common import (
    BenchDatabase,
    Stopwatch,
    console,
    print_phases,
    print_table,
    run_timed,
    save_results,
    summary,
    timed_calls,
)
from sqlalchemy import create_engine

TARGET_MS = 1000.0
SMALL_DEALS = 20_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--deals", type=int, default=1_000_000, help="deals of the tenant")
    p.add_argument("--reps", type=int, default=10, help="runs per report")
    p.add_argument(
        "--small", action="store_true", help=f"a quick run: {SMALL_DEALS:,} deals, 3 runs each"
    )
    p.add_argument("--db", default="crm_bench_analytics", help="database (dropped, re-created)")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--results", default=None, help="directory of the JSON results")
    p.add_argument("--name", default="bench_analytics", help="results file name (no .json)")
    args = p.parse_args(argv)
    if args.small:
        args.deals, args.reps = min(args.deals, SMALL_DEALS), min(args.reps, 3)
    return args


def reports() -> list[tuple[str, Any]]:
    """(name, definition) of every measured report."""
    from plugins.analytics.builtin import BY_KEY
    from plugins.analytics.engine import Definition

    won = [("status", "eq", "won")]
    return [
        ("won sales by month (sum, count)", BY_KEY["sales-by-month"].definition),
        ("funnel: deals by stage (count, sum)", BY_KEY["funnel"].definition),
        ("won sales by owner", BY_KEY["sales-by-owner"].definition),
        ("won sales by account region (join)", BY_KEY["sales-by-region"].definition),
        ("won sales by owner's team (join)", BY_KEY["sales-by-team"].definition),
        (
            "deals by stage x quarter created (2 groups, avg)",
            Definition(
                source="deals",
                groups=["stage_id", "created_at"],
                bucket="quarter",
                aggregates=[("count", ""), ("avg", "amount")],
            ),
        ),
        (
            "won, amount >= 25,000, by region and month",
            Definition(
                source="deals",
                groups=["account_region", "closed_at"],
                aggregates=[("sum", "amount")],
                filters=[*won, ("amount", "gte", "25000")],
            ),
        ),
    ]


def measure_engine(app: Any, world: World, reps: int) -> list[dict[str, Any]]:
    """Time the engine's ``run`` of each report as the owner, in the tenant's context."""
    from sqlalchemy import select

    from crm_platform.extensions import db
    from crm_platform.identity import Membership, User
    from crm_platform.tenancy import tenant_context
    from plugins.analytics.engine import checked, run

    out = []
    with app.app_context(), app.test_request_context(), tenant_context(world.tenant):
        member = db.session.scalars(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .where(User.email == world.owner_email)
        ).one()
        for name, defn in reports():
            source = checked(defn, member)
            rows: list[int] = []

            def call(i: int, defn: Any = defn, source: Any = source, rows: list = rows) -> None:
                result = run(defn, member, source)
                rows.append(len(result.rows))
                db.session.rollback()  # a new transaction each time, as a request has

            stats = summary(timed_calls(call, reps, warmup=1))
            out.append({"report": name, **stats, "rows": rows[-1]})
    return out


def measure_page(app: Any, world: World, reps: int) -> dict[str, Any]:
    """Time the builder page of "won sales by month" through the test client."""
    from plugins.analytics.builtin import BY_KEY

    client = signed_in(app, world.owner_email)
    url = f"/t/{world.tenant.slug}/analytics/builder?" + urlencode(
        BY_KEY["sales-by-month"].definition.to_args() + [("run", "1")]
    )
    sizes: list[int] = []

    def call(i: int) -> None:
        response = client.get(url)
        if response.status_code != 200 or "<svg" not in response.text:
            raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
        sizes.append(len(response.data))

    stats = summary(timed_calls(call, reps, warmup=1))
    return {
        "report": "builder page: won sales by month (whole stack)",
        **stats,
        "kb": round(sizes[-1] / 1024, 1),
    }


def _enable_analytics(app: Any, world: World) -> None:
    from crm_platform.extensions import db
    from crm_platform.identity import Tenant
    from crm_platform.modules import enable_module
    from crm_platform.tenancy import tenant_context

    with app.app_context(), tenant_context(world.tenant):
        enable_module(db.session.get(Tenant, world.tenant.id), "analytics")
        db.session.commit()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    args = parse_args(argv)
    bench_db = BenchDatabase(args.db)
    phases: dict[str, float] = {}
    console.print(f"[bold]analytics benchmark[/] on database {args.db}: {args.deals:,} deals")
    with Stopwatch() as w:
        bench_db.create()
    phases["migrate"] = w.seconds
    # the page runs every report in the request (no job) however many deals it reads
    app = bench_db.app(ANALYTICS_ASYNC_ROWS=10 * args.deals + 1)
    owner = create_engine(bench_db.owner_url)
    try:
        with Stopwatch() as w:
            world = provision(app)
            _enable_analytics(app, world)
        phases["provision"] = w.seconds
        open_deals = args.deals // 10
        with Stopwatch() as w:
            bulk(owner, world, open_deals, args.deals - open_deals)
        phases["set-up: deals"] = w.seconds
        counts = count_deals(owner, world.tenant.id)
        load = os.getloadavg()[0]
        with Stopwatch() as w:
            results = measure_engine(app, world, args.reps)
            results.append(measure_page(app, world, args.reps))
        phases["reports (measured)"] = w.seconds
        load = round((load + os.getloadavg()[0]) / 2, 1)
    finally:
        owner.dispose()
        with app.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
        if not args.keep:
            bench_db.drop()
    total = sum(counts.values())
    print_table(
        f"Grouped reports over {total:,} deals of one tenant "
        f"({counts.get('open', 0):,} open, {counts.get('won', 0):,} won, "
        f"{counts.get('lost', 0):,} lost); {args.reps} runs each; load average {load}",
        ["report", "p50 ms", "p95 ms", "max ms", "rows", "target"],
        [
            [
                r["report"],
                r["p50_ms"],
                r["p95_ms"],
                r["max_ms"],
                r.get("rows", ""),
                f"p95 < {TARGET_MS:.0f}",
            ]
            for r in results
        ],
    )
    print_phases(phases)
    payload = {
        "options": vars(args),
        "deals": counts,
        "load_average": load,
        "reports": results,
        "targets": {"p95_ms": TARGET_MS},
    }
    save_results(args, payload, phases)
    return payload


if __name__ == "__main__":
    run_timed(main)
