"""The Service module's SLA scan at scale on PostgreSQL: 100,000 open tickets in one tenant.

    .venv/bin/python bench/bench_sla.py                                  # full scale
    .venv/bin/python bench/bench_sla.py --tickets 5000 --other-tickets 200 --reps 2  # quick

1. A fresh database (``--db``, default ``crm_bench_sla``) migrated with the project's
   migrations (the service branch included); the app connects as the non-owner app role that
   row-level security binds, as in production.
2. Set-up (not measured): a tenant with Service on (onboarding: queue, calendar, policy), an
   escalation rule (raise the priority of breached tickets), ``--tickets`` tickets made with
   ``INSERT ... SELECT generate_series`` in every open status, and ``--other-tenants``
   tenants with ``--other-tickets`` each; then ``ANALYZE``. Due times are spread so that one
   minute's scan finds what a busy desk would: about 0.5 % of the tickets just missed their
   first response, 0.5 % their resolution, 1 % just passed their warning time.
3. **Measured**: the scheduled scan (``sla_scan.scan``: three ``UPDATE … RETURNING``
   statements, escalations, auto-close, committed) of that tenant; then the follow-up job
   that fans the ``sla.breached`` events out to plugins and webhooks; then ``--reps`` more
   scans in the steady state (nothing new to mark).

Prints a table and writes ``bench/results/sla.json``; the target (< 2 s for the scan over
100,000 open tickets) is printed, never asserted.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from common import BenchDatabase, Stopwatch, console, print_table, summary, write_results
from sqlalchemy import create_engine, select, text

TARGET_MS = 2000

TICKETS_SQL = """
insert into service_tickets (
    tenant_id, id, number, subject, status, priority, channel, queue_id, requester_email,
    created_at, updated_at, first_responded_at, sla_policy_id,
    response_due_at, response_warn_at, resolution_due_at, resolution_warn_at, sla_paused_at)
select :tenant, gen_random_uuid(), n, 'Ticket ' || n,
       (array['new','open','open','open','pending','on_hold'])[1 + n % 6],
       (array['low','normal','normal','high','urgent'])[1 + n % 5],
       (array['email','web','phone','agent'])[1 + n % 4],
       :queue, 'customer' || n || '@example.com',
       :now - interval '2 hours', :now - interval '2 hours',
       case when k < 50 then null
            when n % 3 = 0 then null
            else :now - interval '1 hour' end,
       :policy,
       case when k < 50 then :now - interval '30 seconds'            -- first response missed
            else :now + (k % 480 + 10) * interval '1 minute' end,
       case when k < 50 then :now - interval '10 minutes'
            when k >= 100 and k < 200 then :now - interval '20 seconds'  -- warning just passed
            else :now + (k % 240 + 5) * interval '1 minute' end,
       case when k >= 50 and k < 100 then :now - interval '40 seconds'  -- resolution missed
            else :now + (k % 2400 + 60) * interval '1 minute' end,
       case when k >= 50 and k < 100 then :now - interval '1 hour'
            when k >= 100 and k < 200 then :now - interval '20 seconds'
            else :now + (k % 1800 + 30) * interval '1 minute' end,
       case when n % 6 = 4 then :now - interval '1 hour' end
from (select n, (n * 7919) % 10000 as k
      from generate_series(cast(:start as integer), cast(:stop as integer)) as n) as s
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=100_000, help="open tickets of the tenant")
    p.add_argument("--other-tenants", type=int, default=2, help="other tenants with tickets")
    p.add_argument("--other-tickets", type=int, default=20_000, help="tickets per other tenant")
    p.add_argument("--reps", type=int, default=5, help="steady-state scans after the first")
    p.add_argument("--db", default="crm_bench_sla", help="database name (dropped, re-created)")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--results", default=None, help="directory of the JSON results")
    p.add_argument("--name", default="sla", help="results file name (without .json)")
    return p.parse_args(argv)


def provision(app: Any, count: int) -> list[Any]:
    """``count`` tenants with Service on (the first is measured) and an escalation rule."""
    from bench_contacts import _unlimited_plan

    from crm_platform.extensions import db
    from crm_platform.identity import Tenant
    from crm_platform.modules import enable_module
    from crm_platform.provisioning import create_tenant, create_user
    from crm_platform.tenancy import tenant_context
    from plugins.service import admin
    from plugins.service.models import Queue, SlaPolicy

    tenants = []
    with app.app_context():
        for n in range(count):
            slug = "desk" if n == 0 else f"other{n:03d}"
            owner = create_user(f"owner@{slug}.example", f"Owner {slug}", "bench-horse-battery")
            tenant = create_tenant(f"{slug.title()} Co", slug, owner)
            db.session.commit()
            info = SimpleNamespace(id=tenant.id, slug=slug)
            _unlimited_plan(app, info)
            with tenant_context(info):
                enable_module(db.session.get(Tenant, info.id), "service")
                if n == 0:
                    admin.save_rule(
                        {
                            "name": "Raise breached",
                            "trigger": "breached",
                            "action": "raise_priority",
                        }
                    )
                info.queue = db.session.scalar(select(Queue.id))
                info.policy = db.session.scalar(select(SlaPolicy.id))
                db.session.commit()
            tenants.append(info)
    return tenants


def bulk_tickets(owner: Any, tenant: Any, count: int, now: Any) -> None:
    """``count`` tickets of ``tenant`` in one INSERT ... SELECT per 50,000."""
    step = 50_000
    for first in range(1, count + 1, step):
        with owner.begin() as conn:
            conn.execute(
                text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)}
            )
            conn.execute(
                text(TICKETS_SQL),
                {
                    "tenant": tenant.id,
                    "queue": tenant.queue,
                    "policy": tenant.policy,
                    "now": now,
                    "start": first,
                    "stop": min(first + step - 1, count),
                },
            )
            conn.execute(
                text("update service_sequences set value = :n where name = 'ticket'"),
                {"n": count},
            )


def open_tickets(owner: Any, tenant: Any) -> int:
    """Open tickets of ``tenant``."""
    with owner.begin() as conn:
        conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
        return conn.execute(
            text(
                "select count(*) from service_tickets where status in "
                "('new','open','pending','on_hold')"
            )
        ).scalar_one()


def run_scan(app: Any, tenant: Any, now: Any) -> tuple[float, dict[str, int]]:
    """One scan of ``tenant`` as the scheduled job does it (committed); seconds, counts."""
    from crm_platform.extensions import db
    from crm_platform.tenancy import tenant_context
    from plugins.service.sla_scan import scan

    with app.app_context(), tenant_context(tenant):
        with Stopwatch() as w:
            counts = scan(now).as_dict()
            db.session.commit()
        db.session.remove()
    return w.seconds, counts


def run_event_jobs(app: Any) -> tuple[float, int]:
    """Run the jobs the scan queued (its ``sla.breached`` events); seconds, events."""
    from rq import SimpleWorker

    from crm_platform.jobs import get_queue
    from crm_platform.redis_conn import get_redis

    with app.app_context():
        queue = get_queue(app)
        ids = list(queue.job_ids)
        with Stopwatch() as w:
            SimpleWorker([queue], connection=get_redis(app)).work(burst=True, with_scheduler=False)
        done = [queue.fetch_job(i) for i in ids]
        events = sum(j.return_value() or 0 for j in done if j is not None)
    return w.seconds, events


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    args = parse_args(argv)
    bench_db = BenchDatabase(args.db)
    console.print(f"[bold]SLA scan benchmark[/] on database {args.db}")
    with Stopwatch() as setup:
        bench_db.create()
        app = bench_db.app()
        owner = create_engine(bench_db.owner_url)
    try:
        from crm_platform.tenancy import utcnow

        with Stopwatch() as setup_data:
            tenants = provision(app, 1 + args.other_tenants)
            now = utcnow()
            bulk_tickets(owner, tenants[0], args.tickets, now)
            for other in tenants[1:]:
                bulk_tickets(owner, other, args.other_tickets, now)
            with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("vacuum analyze service_tickets"))
        desk = tenants[0]
        open_count = open_tickets(owner, desk)
        first_s, first = run_scan(app, desk, now + timedelta(seconds=1))
        events_s, events = run_event_jobs(app)
        steady = [run_scan(app, desk, now + timedelta(seconds=2 + i)) for i in range(args.reps)]
    finally:
        owner.dispose()
        with app.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
        if not args.keep:
            bench_db.drop()

    steady_summary = summary([s for s, _ in steady]) if steady else {}
    rows = [
        [
            "first scan (new marks, escalations)",
            open_count,
            first["response_breached"] + first["resolution_breached"],
            first["warned"],
            round(first_s * 1000, 1),
            TARGET_MS,
            "yes" if first_s * 1000 < TARGET_MS else "no",
        ],
    ]
    rows.append(
        [
            "follow-up job: sla.breached events to plugins and webhooks",
            open_count,
            events,
            0,
            round(events_s * 1000, 1),
            "",
            "",
        ]
    )
    if steady:
        rows.append(
            [
                f"steady state (p50 of {len(steady)} scans)",
                open_count,
                0,
                0,
                steady_summary["p50_ms"],
                TARGET_MS,
                "yes" if steady_summary["p95_ms"] < TARGET_MS else "no",
            ]
        )
    print_table(
        f"SLA scan over {open_count:,} open tickets",
        [
            "scan",
            "open tickets",
            "breaches marked",
            "warnings marked",
            "ms",
            "target ms",
            "within target",
        ],
        rows,
    )
    results = {
        "options": vars(args),
        "open_tickets": open_count,
        "other_tenants": args.other_tenants,
        "setup_s": round(setup.seconds + setup_data.seconds, 1),
        "first_scan": {"ms": round(first_s * 1000, 1), **first},
        "breach_events": {"events": events, "ms": round(events_s * 1000, 1)},
        "steady_scans": steady_summary,
        "target_ms": TARGET_MS,
    }
    from pathlib import Path

    path = write_results(args.name, results, Path(args.results) if args.results else None)
    console.print(f"results: {path}")
    return results


if __name__ == "__main__":
    main()
