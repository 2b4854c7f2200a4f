"""Marketing at scale on PostgreSQL: segment counts over many contacts, and campaign sends to
a local SMTP server through two RQ workers.

    .venv/bin/python bench/bench_marketing.py                       # full scale
    .venv/bin/python bench/bench_marketing.py --contacts 20000 --send 2000 --reps 3   # quick

1. A fresh database (``--db``, default ``crm_bench_marketing``) migrated with the project's
   migrations (the marketing branch included); the app connects as the non-owner app role
   that row-level security binds.
2. Set-up (not measured): a tenant with Marketing on and ``--contacts`` contacts made with
   ``INSERT ... SELECT generate_series`` (stages, regions, tags, custom values), orders for
   one contact in five, then ``VACUUM ANALYZE`` (what autovacuum does after a bulk load;
   it marks the pages all-visible, so index-only scans need no heap visits).
3. **Measured**: ``--reps`` counts of each segment definition through the module's own
   compiler (``count_members``: one ``SELECT count(*)``), then one refresh (materialising the
   members) and one recompute of every customer's RFM score.
4. **Measured**: a campaign to ``--send`` contacts of a second tenant, sent by two
   ``crm worker --burst`` processes (two sending lanes) to an aiosmtpd server running in its
   own process; messages per second from the first to the last message sent, and the wall
   time from starting the workers (their start-up included), and the workers' CPU time per
   message (user + system, work horses included).

Prints tables and writes ``bench/results/marketing.json``; times are never asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    BenchDatabase,
    Stopwatch,
    console,
    print_table,
    summary,
    timed_calls,
    write_results,
)
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-horse-battery-staple"
UNLIMITED_PLAN = "enterprise"

CONTACTS_SQL = """
insert into contacts (tenant_id, id, first_name, last_name, name_key, email, lifecycle_stage,
                      region, source, tags, custom, created_at, updated_at)
select :tid, gen_random_uuid(), 'First' || n, 'Last' || n, 'first' || n || ' last' || n,
       case when n % 20 = 0 then null else 'person' || n || '@' || :domain end,
       (array['prospect','lead','customer','loyal','churned'])[1 + n % 5],
       (array['North','South','East','West','Shanghai','Beijing'])[1 + (n / 5) % 6],
       'website',
       cast(case when n % 10 = 0 then '["vip"]' else '[]' end as json),
       json_build_object('tier', (array['gold','silver','bronze'])[1 + n % 3], 'score', n % 100),
       now() - (n % 1000) * interval '1 day', now()
from generate_series(cast(:start as bigint), cast(:stop as bigint)) n
"""
TAGS_SQL = """
insert into record_tags (tenant_id, id, kind, record_id, tag)
select tenant_id, gen_random_uuid(), 'contact', id, 'vip' from contacts
where tenant_id = :tid and tags::text like '%vip%'
"""
ORDERS_SQL = """
insert into orders (tenant_id, id, number, contact_id, ordered_at, status, currency, total,
                    source, created_at, updated_at)
select c.tenant_id, gen_random_uuid(), 'B-' || s.k || '-' || substr(c.id::text, 1, 8), c.id,
       now() - ((abs(hashtext(c.id::text)) % 700) + s.k * 30) * interval '1 day', 'paid', 'USD',
       10 + abs(hashtext(c.id::text || s.k)) % 490, 'import', now(), now()
from (select id, tenant_id from contacts
      where tenant_id = :tid and abs(hashtext(id::text)) % 5 = 0) c,
     generate_series(1, 1 + abs(hashtext(c.id::text)) % 3) s(k)
"""

DEFINITIONS: dict[str, dict[str, Any]] = {
    "stage is customer": {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "rules": [{"field": "contact.lifecycle_stage", "op": "is", "value": "customer"}],
            }
        ],
    },
    "stage and custom tier": {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "rules": [
                    {
                        "field": "contact.lifecycle_stage",
                        "op": "in",
                        "value": ["customer", "loyal"],
                    },
                    {"field": "contact.custom.tier", "op": "is", "value": "gold"},
                ],
            }
        ],
    },
    "tag vip, e-mail set": {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "rules": [
                    {"field": "contact.tag", "op": "has", "value": "vip"},
                    {"field": "contact.email", "op": "is_set"},
                ],
            }
        ],
    },
    "2+ orders, spent > 300": {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "rules": [
                    {"field": "orders.count", "op": "gte", "value": 2},
                    {"field": "orders.total", "op": "gt", "value": 300},
                ],
            }
        ],
    },
    "region OR (score 90+ AND created 100d)": {
        "match": "any",
        "groups": [
            {
                "match": "all",
                "rules": [{"field": "contact.region", "op": "is", "value": "Shanghai"}],
            },
            {
                "match": "all",
                "rules": [
                    {"field": "contact.custom.score", "op": "gte", "value": 90},
                    {"field": "contact.created_at", "op": "within_days", "value": 100},
                ],
            },
        ],
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=1_000_000, help="contacts of the big tenant")
    p.add_argument("--send", type=int, default=20_000, help="recipients of the measured send")
    p.add_argument("--reps", type=int, default=5, help="counts per segment definition")
    p.add_argument("--chunk", type=int, default=200, help="rows a sending lane claims at once")
    p.add_argument("--db", default="crm_bench_marketing", help="database (dropped, re-created)")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--results", default=None, help="directory of the JSON results")
    p.add_argument("--name", default="marketing", help="results file name (without .json)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- set-up


def make_tenant(app: Any, slug: str) -> Any:
    """A tenant (unlimited plan when billing is installed) with Marketing switched on."""
    from types import SimpleNamespace

    from crm_platform.extensions import db
    from crm_platform.identity import Tenant
    from crm_platform.modules import enable_module
    from crm_platform.passwords import hash_password
    from crm_platform.provisioning import create_tenant, create_user
    from crm_platform.records.custom_fields import CustomField
    from crm_platform.tenancy import tenant_context

    with app.app_context():
        owner = create_user(
            f"owner@{slug}.example", f"Owner {slug}", password_hash=hash_password(PASSWORD)
        )
        tenant = create_tenant(f"{slug.title()} Co", slug, owner)
        db.session.commit()
        info = SimpleNamespace(id=tenant.id, slug=slug)
        cli = app.test_cli_runner()
        if cli.invoke(args=["billing", "--help"]).exit_code == 0:
            with tenant_context(info):
                cli.invoke(args=["billing", "change-plan", slug, UNLIMITED_PLAN])
        with tenant_context(info):
            enable_module(db.session.get(Tenant, info.id), "marketing")
            db.session.add(
                CustomField(
                    entity="contact",
                    key="tier",
                    label="Tier",
                    type="choice",
                    choices=["gold", "silver", "bronze"],
                )
            )
            db.session.add(CustomField(entity="contact", key="score", label="Score", type="number"))
            db.session.commit()
    return info


def bulk(owner_url: str, tenant: Any, contacts: int, domain: str, orders: bool) -> None:
    """Contacts (and orders) made in the database, in chunks (set-up)."""
    engine = create_engine(owner_url)
    try:
        step = 100_000
        for start in range(1, contacts + 1, step):
            with engine.begin() as conn:
                conn.execute(
                    text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)}
                )
                conn.execute(
                    text(CONTACTS_SQL),
                    {
                        "tid": tenant.id,
                        "domain": domain,
                        "start": start,
                        "stop": min(contacts, start + step - 1),
                    },
                )
        with engine.begin() as conn:
            conn.execute(
                text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)}
            )
            conn.execute(text(TAGS_SQL), {"tid": tenant.id})
            if orders:
                conn.execute(text(ORDERS_SQL), {"tid": tenant.id})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("vacuum analyze"))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- measured


def measure_segments(app: Any, tenant: Any, reps: int) -> tuple[list[dict[str, Any]], dict]:
    """Counts of each definition; then one refresh and one score recompute."""
    from crm_platform.extensions import db
    from crm_platform.tenancy import tenant_context
    from plugins.marketing.scoring import recompute_scores
    from plugins.marketing.segment_compiler import clean_definition, count_members
    from plugins.marketing.segments import create_segment, refresh_segment

    rows = []
    extra: dict[str, Any] = {}
    with app.app_context(), tenant_context(tenant):
        for label, raw in DEFINITIONS.items():
            definition = clean_definition(raw)
            found: list[int] = []

            def count(_i: int, definition: dict = definition, found: list = found) -> None:
                found.append(count_members(definition))
                db.session.rollback()

            timings = timed_calls(count, reps, warmup=1)
            rows.append({"segment": label, "contacts": found[-1], **summary(timings)})
        with Stopwatch() as watch:
            segment = create_segment(
                {"name": "Customers", "definition": DEFINITIONS["stage and custom tier"]}
            )
            members = refresh_segment(segment)
            db.session.commit()
        extra["refresh"] = {"members": members, "seconds": round(watch.seconds, 2)}
        with Stopwatch() as watch:
            scored = recompute_scores()
            db.session.commit()
        extra["scores"] = {"customers": scored, "seconds": round(watch.seconds, 2)}
    return rows, extra


SMTP_SERVER = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_send(db: BenchDatabase, app: Any, tenant: Any, chunk: int) -> dict[str, Any]:
    """A campaign to every contact of ``tenant`` with an e-mail, sent by two RQ workers."""
    from sqlalchemy import func, select

    from crm_platform.extensions import db as sa_db
    from crm_platform.tenancy import tenant_context
    from plugins.marketing.campaigns import create_campaign, start_campaign
    from plugins.marketing.models import Campaign, Message
    from plugins.marketing.segments import create_segment

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SMTP_SERVER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    workers: list[subprocess.Popen] = []
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        with app.app_context(), tenant_context(tenant):
            segment = create_segment(
                {
                    "name": "Everyone",
                    "definition": {
                        "match": "all",
                        "groups": [
                            {"match": "all", "rules": [{"field": "contact.email", "op": "is_set"}]}
                        ],
                    },
                }
            )
            campaign = create_campaign(
                {
                    "name": "Benchmark",
                    "segment_id": str(segment.id),
                    "subject": "Hello {{ contact.first_name }}",
                    "body_html": "<p>Hi {{ contact.first_name }} {{ contact.last_name }},</p>"
                    '<p><a href="https://shop.example/sale">Our sale</a></p>'
                    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
                }
            )
            sa_db.session.flush()
            recipients = start_campaign(campaign)
            sa_db.session.commit()
            campaign_id = campaign.id
        drop_refresh_jobs(app)
        env = worker_env(db, port, chunk)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with Stopwatch() as wall:
            for _ in range(2):
                workers.append(
                    subprocess.Popen(
                        [str(Path(sys.executable).parent / "crm"), "worker", "--burst"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            for worker in workers:
                worker.wait(timeout=3600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers and their horses
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        with app.app_context(), tenant_context(tenant):
            first, last, sent = sa_db.session.execute(
                select(
                    func.min(Message.sent_at),
                    func.max(Message.sent_at),
                    func.count(Message.sent_at),
                ).where(Message.campaign_id == campaign_id)
            ).one()
            status = sa_db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        span = (last - first).total_seconds() if first and last else 0.0
        return {
            "recipients": recipients,
            "sent": sent,
            "status": status,
            "workers": 2,
            "chunk": chunk,
            "sending_seconds": round(span, 2),
            "messages_per_second": round(sent / span, 1) if span else None,
            "wall_seconds": round(wall.seconds, 2),
            "wall_messages_per_second": round(sent / wall.seconds, 1) if wall.seconds else None,
            "worker_cpu_seconds": round(cpu, 2),
            "worker_cpu_ms_per_message": round(1000 * cpu / sent, 2) if sent else None,
        }
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)


def drop_refresh_jobs(app: Any) -> None:
    """Take the segment refreshes that making the segments queued off the queue, so that
    the two workers measured do nothing but send."""
    from crm_platform.jobs import get_queue

    with app.app_context():
        for job in get_queue(app).get_jobs():
            if str(job.meta.get("func", "")).endswith("refresh_segment_job"):
                job.delete()


def worker_env(db: BenchDatabase, port: int, chunk: int) -> dict[str, str]:
    """The environment of a ``crm worker`` on the bench database and queue."""
    cfg = db.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "MAIL_"))}
    env.update(
        DATABASE_URL=cfg["DATABASE_URL"],
        MIGRATION_DATABASE_URL=cfg["MIGRATION_DATABASE_URL"],
        PROVIDER_DATABASE_URL=cfg["PROVIDER_DATABASE_URL"],
        REDIS_URL=cfg["REDIS_URL"],
        CRM_DB_APP_ROLE=cfg["DB_APP_ROLE"],
        CRM_DB_PROVIDER_ROLE=cfg["DB_PROVIDER_ROLE"],
        CRM_JOBS_QUEUE=cfg["JOBS_QUEUE"],
        CRM_SECRET_KEY=cfg["SECRET_KEY"],
        CRM_BASE_URL="http://localhost",
        CRM_INSTANCE_PATH=tempfile.mkdtemp(prefix="crm-bench-"),
        CRM_MARKETING_SEND_CHUNK=str(chunk),
        CRM_MARKETING_SEND_LANES="2",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(port),
        MAIL_FROM="Bench <news@bench.example>",
    )
    return env


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    db = BenchDatabase(args.db)
    console.print(f"[bold]Marketing benchmark[/bold] on database {db.name}")
    db.create()
    try:
        app = db.app()
        with Stopwatch() as setup:
            big = make_tenant(app, "big")
            bulk(db.owner_url, big, args.contacts, "big.example", orders=True)
            sender = make_tenant(app, "sender")
            bulk(
                db.owner_url, sender, args.send + args.send // 19 + 1, "send.example", orders=False
            )
        console.print(f"set-up took {setup.seconds:.1f} s")
        counts, extra = measure_segments(app, big, args.reps)
        print_table(
            f"Segment counts over {args.contacts:,} contacts (one SQL query each)",
            ["segment", "contacts", "p50 ms", "p95 ms", "max ms"],
            [[r["segment"], r["contacts"], r["p50_ms"], r["p95_ms"], r["max_ms"]] for r in counts],
        )
        print_table(
            "Materialising and scoring",
            ["work", "rows", "seconds"],
            [
                ["refresh a segment", extra["refresh"]["members"], extra["refresh"]["seconds"]],
                ["recompute RFM scores", extra["scores"]["customers"], extra["scores"]["seconds"]],
            ],
        )
        send = measure_send(db, app, sender, args.chunk)
        print_table(
            f"Campaign send to a local SMTP server, {send['workers']} RQ workers",
            [
                "recipients",
                "sent",
                "status",
                "sending s",
                "messages/s",
                "wall s",
                "wall msg/s",
                "worker CPU ms/msg",
            ],
            [
                [
                    send["recipients"],
                    send["sent"],
                    send["status"],
                    send["sending_seconds"],
                    send["messages_per_second"] or 0.0,
                    send["wall_seconds"],
                    send["wall_messages_per_second"] or 0.0,
                    send["worker_cpu_ms_per_message"] or 0.0,
                ]
            ],
        )
        path = write_results(
            args.name,
            {
                "options": vars(args),
                "contacts": args.contacts,
                "segment_counts": counts,
                "refresh": extra["refresh"],
                "scores": extra["scores"],
                "send": send,
                "targets": {"segment_count_ms": 1000, "messages_per_second": 500},
            },
            Path(args.results) if args.results else None,
        )
        console.print(f"results written to {path}")
        with app.app_context():
            from crm_platform.extensions import db as sa_db

            sa_db.engine.dispose()
    finally:
        if not args.keep:
            time.sleep(0.5)
            db.drop()


if __name__ == "__main__":
    main()
