"""Proof under load: gunicorn on PostgreSQL, 100 tenants, 1,000,000 contacts in the biggest.

    .venv/bin/python bench/bench_load.py --keep           # full scale (see bench/README.md)
    .venv/bin/python bench/bench_load.py --reuse          # again, on the kept database
    .venv/bin/python bench/bench_load.py --contacts 20000 --tenants 5 --other-contacts 200 \\
        --deals 2000 --duration 10 --soak 20              # a quick run

1. Data (not measured; skipped with ``--reuse``): a fresh database (``--db``, default
   ``crm_bench_load``) migrated with the project's migrations, tenants, members, teams,
   accounts and contacts made by ``bench_contacts.py``'s own builders (the big tenant on the
   Enterprise plan with ``--contacts`` contacts, ``--tenants`` others with
   ``--other-contacts`` each), the Sales module switched on in every tenant (its onboarding
   makes the default pipeline) with ``--deals`` deals in the big tenant and
   ``--other-deals`` in each other one (``bench_sfa.py``'s SQL). The plans' API rate limits
   are raised, as the provider can in the console, so that the bench's keys are counted in
   Redis as usual but never refused.
2. A read-and-write API key per tenant and a list of ``--requests`` requests: each one a
   tenant (the big one for ``--big-share`` of them, else a random other) and a kind of
   request drawn by weight (list first pages, filters, indexed searches by e-mail and name
   prefix, gets by id, of contacts, accounts and the Sales module's deals); the *mixed* list
   adds about 10 % creates (contacts, accounts, deals). Every kind is sent once first and
   must answer 2xx.
3. gunicorn (``wsgi:app``, ``--workers`` × ``--threads``, ``--worker-class``) on a free
   loopback port, as the app role that row-level security binds, request log off; then for
   each mix a ``--warmup`` run (not counted) and a ``--duration`` run of ``wrk`` with
   ``--connections`` connections (``--generator python`` without wrk: slower).
4. ``--soak`` seconds of the read mix while each worker's resident memory is sampled every
   ``--sample-every`` seconds: growth after the warm-up (the first minute, or a quarter of a
   shorter soak).

Prints tables (req/s, p50/p95/p99, errors; memory per worker) and writes
``bench/results/load.json``. Targets (2 cores): read mix ≥ 400 req/s, p99 < 100 ms, no
errors; no worker's memory growing more than 10 % during a 10-minute soak. Never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import bench_contacts
import bench_sfa
from common import (
    APP_ROLE,
    OWNER_ROLE,
    PG_ADMIN,
    PROVIDER_ROLE,
    BenchDatabase,
    Stopwatch,
    backend_cpu_seconds,
    console,
    load_average,
    pg_url,
    print_phases,
    print_table,
    run_timed,
    save_results,
    set_tenant,
)
from load import Request, RunResult
from load.memory import RssSampler, cpu_seconds, growth
from load.pygen import run_python
from load.server import Gunicorn, gunicorn_available
from load.wrk import MISSING, run_wrk, wrk_path
from sqlalchemy import create_engine, make_url, text

TARGET_RPS = 400.0
TARGET_P99_MS = 100.0
TARGET_GROWTH_PCT = 10.0
BENCH_RATE_LIMIT = "1000000 per minute"

#: Read requests: kind -> weight (out of 100). Only what an index serves: the `q` substring
#: search and the tag filters read the whole tenant (see bench/README.md) and are left out.
READ_KINDS = {
    "contacts: first page": 10,
    "contacts: newest changed": 5,
    "contacts: filter stage": 5,
    "contacts: filter region + stage": 5,
    "contacts: filter owner": 5,
    "contacts: e-mail (exact)": 10,
    "contacts: e-mail prefix": 5,
    "contacts: name prefix": 10,
    "contacts: get by id": 20,
    "accounts: first page": 5,
    "accounts: get by id": 5,
    "deals: open, newest first": 5,
    "deals: get by id": 10,
}
#: Writes of the mixed mix (the rest of it is the read kinds, scaled to 90 %).
WRITE_KINDS = {"contacts: create": 6, "accounts: create": 2, "deals: create": 2}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = p.add_argument_group("data (set-up)")
    data.add_argument("--contacts", type=int, default=1_000_000, help="contacts, big tenant")
    data.add_argument("--tenants", type=int, default=100, help="other tenants")
    data.add_argument("--other-contacts", type=int, default=2_000, help="contacts per other")
    data.add_argument("--other-accounts", type=int, default=50, help="accounts per other")
    data.add_argument("--deals", type=int, default=50_000, help="deals of the big tenant")
    data.add_argument("--other-deals", type=int, default=100, help="deals per other tenant")
    data.add_argument("--db", default="crm_bench_load", help="database (dropped, re-created)")
    data.add_argument("--keep", action="store_true", help="keep the database afterwards")
    data.add_argument(
        "--reuse", action="store_true", help="use a kept database as it is (implies --keep)"
    )
    load = p.add_argument_group("load")
    load.add_argument("--mixes", default="read,mixed", help="comma-separated: read, mixed")
    load.add_argument("--duration", type=float, default=30.0, help="seconds per mix")
    load.add_argument("--warmup", type=float, default=5.0, help="seconds before each mix")
    load.add_argument("--connections", type=int, default=16, help="concurrent connections")
    load.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    load.add_argument("--generator", choices=("wrk", "python"), default="wrk")
    load.add_argument("--requests", type=int, default=5000, help="size of each request list")
    load.add_argument("--big-share", type=float, default=0.5, help="share for the big tenant")
    load.add_argument("--soak", type=float, default=600.0, help="soak seconds (0: none)")
    load.add_argument("--soak-warmup", type=float, default=None, help="default: min(60, soak/4)")
    load.add_argument("--sample-every", type=float, default=5.0, help="RSS sampling seconds")
    server = p.add_argument_group("server")
    cores = os.cpu_count() or 2
    server.add_argument("--workers", type=int, default=cores, help="gunicorn workers")
    server.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    server.add_argument("--worker-class", default="gthread", help="gthread or sync")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--results", default=None, help="directory of the JSON results")
    p.add_argument("--name", default="load", help="results file name (without .json)")
    args = p.parse_args(argv)
    args.keep = args.keep or args.reuse
    args.mixes = [m.strip() for m in args.mixes.split(",") if m.strip()]
    unknown = set(args.mixes) - {"read", "mixed"}
    if unknown:
        p.error(f"unknown mix: {', '.join(sorted(unknown))}")
    args.other_accounts = max(1, args.other_accounts)  # the deals' SQL picks accounts
    if args.soak_warmup is None:
        args.soak_warmup = min(60.0, args.soak / 4)
    return args


# --------------------------------------------------------------------------- set-up

OTHER_ACCOUNTS_SQL = """
insert into accounts (tenant_id, id, name, name_key, lifecycle_stage, industry, region, tags,
                      custom, owner_id, created_at, updated_at)
select :tid, gen_random_uuid(), 'Client ' || n, 'client ' || n, 'customer', 'services',
       'North', '[]', '{}', :owner, now(), now()
from generate_series(1, :count) n
"""


def build(bench_db: BenchDatabase, args: argparse.Namespace) -> dict[str, float]:
    """A fresh database with every tenant's data; returns the phases' seconds."""
    phases: dict[str, float] = {}
    with Stopwatch() as w:
        bench_db.create()
    phases["migrate"] = w.seconds
    app = bench_db.app()
    owner = create_engine(bench_db.owner_url)
    try:
        with Stopwatch() as w:
            world = bench_contacts.provision(app, SimpleNamespace(tenants=args.tenants))
            bench_contacts.bulk_accounts(owner, world)
            sales = switch_on_sales(app, [world.tenant, *world.others])
        phases["provision tenants, Sales on"] = w.seconds
        with Stopwatch() as w:
            for other in world.others:
                bench_contacts.bulk_contacts(owner, other.id, 1, args.other_contacts)
                with owner.begin() as conn:
                    set_tenant(conn, other.id)
                    params = {"tid": other.id, "count": args.other_accounts}
                    conn.execute(text(OTHER_ACCOUNTS_SQL), {**params, "owner": sales[other.id][0]})
            console.print(f"other tenants done; {args.contacts:,} contacts for the big one")
            bench_contacts.bulk_contacts(owner, world.tenant.id, 1, args.contacts, world)
        phases["set-up: contacts and accounts"] = w.seconds
        with Stopwatch() as w:
            for tenant in [world.tenant, *world.others]:
                count = args.deals if tenant is world.tenant else args.other_deals
                bulk_deals(owner, tenant.id, sales[tenant.id], count)
            bench_contacts.analyze(owner)
            with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("vacuum analyze sfa_deals"))
        phases["set-up: deals, VACUUM ANALYZE"] = w.seconds
    finally:
        owner.dispose()
        with app.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
    return phases


def switch_on_sales(app: Any, tenants: list[Any]) -> dict[Any, tuple[Any, dict[str, Any]]]:
    """Sales on in every tenant (its onboarding makes the default pipeline); per tenant the
    owner's id and the default pipeline's stages (``bench_sfa``'s deal SQL wants them)."""
    from sqlalchemy import select

    from crm_platform.extensions import db
    from crm_platform.identity import Membership, Tenant
    from crm_platform.modules import enable_module
    from crm_platform.tenancy import tenant_context
    from plugins.sfa.models import Pipeline, Stage

    out = {}
    with app.app_context():
        for info in tenants:
            with tenant_context(info):
                tenant = db.session.get(Tenant, info.id)
                enable_module(tenant, "sfa")
                db.session.flush()
                owner_id = db.session.scalars(
                    select(Membership.user_id).where(
                        Membership.tenant_id == info.id, Membership.role == "owner"
                    )
                ).first()
                pipeline = db.session.scalars(select(Pipeline).where(Pipeline.is_default)).one()
                stages = db.session.scalars(
                    select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
                ).all()
                out[info.id] = (
                    owner_id,
                    {
                        "pipeline": pipeline.id,
                        "stages": [s.id for s in stages if s.outcome == "open"],
                        "won": next(s.id for s in stages if s.outcome == "won"),
                        "lost": next(s.id for s in stages if s.outcome == "lost"),
                    },
                )
                db.session.commit()
    return out


def bulk_deals(engine: Any, tenant_id: Any, sales: tuple[Any, dict[str, Any]], count: int) -> None:
    """``count`` deals of one tenant: a fifth open, the rest won or lost (``bench_sfa``)."""
    owner_id, pipeline = sales
    open_count = count // 5
    params = {"tid": tenant_id, "members": [owner_id], **pipeline}
    step = 100_000
    for closed, total in ((False, open_count), (True, count - open_count)):
        for first in range(1, total + 1, step):
            with engine.begin() as conn:
                set_tenant(conn, tenant_id)
                last = min(first + step, total + 1) - 1
                conn.execute(
                    text(bench_sfa.DEALS_SQL),
                    {**params, "closed": closed, "start": first, "stop": last},
                )


def raise_rate_limits(bench_db: BenchDatabase) -> None:
    """Every plan's API rate limit raised, as the provider can (counted, never refused)."""
    engine = create_engine(bench_db.owner_url)
    try:
        with engine.begin() as conn:
            exists = conn.execute(text("select to_regclass('billing_plans')")).scalar()
            if exists:
                conn.execute(
                    text("update billing_plans set api_rate_limit = :limit"),
                    {"limit": BENCH_RATE_LIMIT},
                )
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- requests


@dataclass
class TenantSample:
    """What one tenant's requests are made of."""

    id: Any
    slug: str
    big: bool
    token: str = ""
    contacts: list[Any] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    deals: list[str] = field(default_factory=list)


def admin_engine(database: str) -> Any:
    """The superuser on the benchmark database (sees every tenant: sampling only)."""
    return create_engine(make_url(PG_ADMIN).set(database=database))


def sample_tenants(database: str, big_sample: int, seed: int) -> list[TenantSample]:
    """Every tenant with random live contacts, accounts and deals to ask for."""
    engine = admin_engine(database)
    out = []
    try:
        with engine.connect() as conn:
            conn.execute(text("select setseed(:s)"), {"s": (seed % 1000) / 1000})
            tenants = conn.execute(
                text("select id, slug from tenants where slug = 'big' or slug like 'other%'")
            ).all()
            if not any(slug == "big" for _id, slug in tenants):
                raise SystemExit(f"no tenant 'big' in {database} (run once with --keep)")
            for tid, slug in sorted(tenants, key=lambda t: (t.slug != "big", t.slug)):
                big = slug == "big"
                k = big_sample if big else 5
                contacts = conn.execute(
                    text(
                        "select id, email, first_name, last_name, lifecycle_stage, region, "
                        "owner_id from contacts where tenant_id = :t and deleted_at is null "
                        "and email is not null order by random() limit :k"
                    ),
                    {"t": tid, "k": k},
                ).all()
                accounts = conn.execute(
                    text("select id from accounts where tenant_id = :t order by random() limit :k"),
                    {"t": tid, "k": k},
                ).scalars()
                deals = conn.execute(
                    text(
                        "select id from sfa_deals where tenant_id = :t order by random() limit :k"
                    ),
                    {"t": tid, "k": k},
                ).scalars()
                out.append(
                    TenantSample(
                        tid,
                        slug,
                        big,
                        contacts=list(contacts),
                        accounts=[str(a) for a in accounts],
                        deals=[str(d) for d in deals],
                    )
                )
    finally:
        engine.dispose()
    return out


def issue_keys(app: Any, tenants: list[TenantSample]) -> None:
    """A read-and-write API key per tenant, made by its owner (sees every record)."""
    from sqlalchemy import select

    from crm_platform.api.models import issue_key
    from crm_platform.extensions import db
    from crm_platform.identity import Membership, Tenant
    from crm_platform.tenancy import tenant_context

    with app.app_context():
        for t in tenants:
            with tenant_context(SimpleNamespace(id=t.id, slug=t.slug)):
                owner_id = db.session.scalars(
                    select(Membership.user_id).where(
                        Membership.tenant_id == t.id, Membership.role == "owner"
                    )
                ).first()
                tenant = db.session.get(Tenant, t.id)
                _key, t.token = issue_key(
                    tenant, "load bench", "read_write", SimpleNamespace(id=owner_id)
                )
                db.session.commit()
        db.engine.dispose()


def make_request(kind: str, t: TenantSample, rng: random.Random) -> Request | None:
    """One request of ``kind`` for tenant ``t`` (``None`` when it has nothing to ask for)."""

    def get(path: str, **params: Any) -> Request:
        return Request(kind, "GET", path + ("?" + urlencode(params) if params else ""), t.token)

    def post(path: str, body: dict[str, Any]) -> Request:
        return Request(kind, "POST", path, t.token, json.dumps(body))

    c = rng.choice(t.contacts) if t.contacts else None
    if kind.startswith("contacts: ") and c is None and "create" not in kind:
        return None
    if kind == "contacts: first page":
        return get("/api/v1/contacts")
    if kind == "contacts: newest changed":
        return get("/api/v1/contacts", sort="updated", dir="desc")
    if kind == "contacts: filter stage":
        return get("/api/v1/contacts", lifecycle_stage=c.lifecycle_stage)
    if kind == "contacts: filter region + stage":
        return get("/api/v1/contacts", region=c.region, lifecycle_stage=c.lifecycle_stage)
    if kind == "contacts: filter owner":
        return get("/api/v1/contacts", owner=str(c.owner_id) if c.owner_id else "none")
    if kind == "contacts: e-mail (exact)":
        return get("/api/v1/contacts", email=c.email)
    if kind == "contacts: e-mail prefix":
        return get("/api/v1/contacts", email_prefix=c.email.split("@")[0][:-2])
    if kind == "contacts: name prefix":
        return get("/api/v1/contacts", name_prefix=f"{c.first_name} {c.last_name[:3]}")
    if kind == "contacts: get by id":
        return get(f"/api/v1/contacts/{c.id}")
    if kind == "accounts: first page":
        return get("/api/v1/accounts")
    if kind == "accounts: get by id":
        return get(f"/api/v1/accounts/{quote(rng.choice(t.accounts))}") if t.accounts else None
    if kind == "deals: open, newest first":
        return get("/api/v1/deals", status="open")
    if kind == "deals: get by id":
        return get(f"/api/v1/deals/{quote(rng.choice(t.deals))}") if t.deals else None
    if kind == "contacts: create":
        return post(
            "/api/v1/contacts",
            {
                "first_name": "Load",
                "last_name": "Bench {n}",
                "email": "load.{n}@bench.example",
                "lifecycle_stage": "lead",
            },
        )
    if kind == "accounts: create":
        return post("/api/v1/accounts", {"name": "Load bench {n}", "region": "North"})
    if kind == "deals: create":
        return post("/api/v1/deals", {"name": "Load bench {n}", "amount": "1200.00"})
    raise ValueError(kind)


def weights(mix: str) -> dict[str, float]:
    """Kind -> share of the mix (sums to 1)."""
    if mix == "read":
        total = sum(READ_KINDS.values())
        return {k: w / total for k, w in READ_KINDS.items()}
    reads = sum(READ_KINDS.values())
    out = {k: 0.9 * w / reads for k, w in READ_KINDS.items()}
    writes = sum(WRITE_KINDS.values())
    out.update({k: 0.1 * w / writes for k, w in WRITE_KINDS.items()})
    return out


def request_list(
    mix: str, tenants: list[TenantSample], count: int, big_share: float, seed: int
) -> list[Request]:
    """``count`` requests of ``mix``: a tenant and a kind drawn for each."""
    rng = random.Random(f"{seed}-{mix}")
    big = [t for t in tenants if t.big][0]
    others = [t for t in tenants if not t.big] or [big]
    share = weights(mix)
    kinds, probs = list(share), list(share.values())
    out: list[Request] = []
    while len(out) < count:
        tenant = big if rng.random() < big_share else rng.choice(others)
        request = make_request(rng.choices(kinds, probs)[0], tenant, rng)
        if request is not None:
            out.append(request)
    return out


def preflight(url: str, tenants: list[TenantSample], seed: int) -> None:
    """Every kind once, in the big tenant and in another one; each must answer 2xx."""
    rng = random.Random(seed)
    big = [t for t in tenants if t.big][0]
    other = next((t for t in tenants if not t.big), big)
    for tenant in [big] if other is big else [big, other]:
        for kind in [*READ_KINDS, *WRITE_KINDS]:
            r = make_request(kind, tenant, rng)
            if r is None:
                continue
            body = r.body.replace("{n}", f"preflight{rng.randrange(10**9)}").encode() or None
            req = urllib.request.Request(
                url + r.path,
                data=body,
                method=r.method,
                headers={"Authorization": f"Bearer {r.token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:400]
                raise SystemExit(
                    f"{kind} ({tenant.slug}): {r.method} {r.path} → {exc.code} {detail}"
                ) from None
            if not 200 <= status < 300:
                raise SystemExit(f"{kind} ({tenant.slug}): {r.method} {r.path} → {status}")


# --------------------------------------------------------------------------- running


def generate(
    args: argparse.Namespace, url: str, requests: list[Request], seconds: float, tag: str, tmp: Path
) -> RunResult:
    """One bounded run of the chosen generator."""
    if args.generator == "wrk":
        return run_wrk(
            url,
            requests,
            duration=seconds,
            connections=args.connections,
            threads=args.wrk_threads,
            workdir=tmp,
            tag=tag,
        )
    return run_python(url, requests, duration=seconds, connections=args.connections, tag=tag)


def measured(
    args: argparse.Namespace,
    server: Gunicorn,
    mix: str,
    requests: list[Request],
    seconds: float,
    tmp: Path,
    label: str | None = None,
) -> tuple[RunResult, dict[str, Any]]:
    """A run of ``mix`` with the load average and the CPU the workers and the database used
    (a shared machine distorts the wall clock; CPU per request says what a request costs)."""
    workers = server.worker_pids()
    load_before, app_cpu = load_average(), cpu_seconds(workers)
    db_cpu = backend_cpu_seconds(args.db)
    result = generate(args, server.url, requests, seconds, mix, tmp)
    app_cpu = cpu_seconds(workers) - app_cpu
    db_after = backend_cpu_seconds(args.db)
    done = max(1, result.requests)
    row = {
        "mix": label or mix,
        **result.as_dict(),
        "load": [load_before, load_average()],
        "app_cpu_ms_per_request": round(app_cpu * 1000 / done, 2),
        "db_cpu_ms_per_request": (
            None
            if db_cpu is None or db_after is None
            else round((db_after - db_cpu) * 1000 / done, 2)
        ),
    }
    return result, row


def server_env(bench_db: BenchDatabase, instance: Path) -> dict[str, str]:
    """The environment of gunicorn: the app role (RLS-bound), Redis, quiet logs."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CRM_") and k not in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER")
    }
    env.update(
        {
            "DATABASE_URL": pg_url(APP_ROLE, bench_db.name),
            "MIGRATION_DATABASE_URL": pg_url(OWNER_ROLE, bench_db.name),
            "PROVIDER_DATABASE_URL": pg_url(PROVIDER_ROLE, bench_db.name),
            "CRM_DB_APP_ROLE": APP_ROLE,
            "CRM_DB_PROVIDER_ROLE": PROVIDER_ROLE,
            "REDIS_URL": bench_db.redis_url,
            "CRM_SECRET_KEY": "bench-load-" + bench_db.run_id,
            "CRM_JOBS_QUEUE": "bench-load-" + bench_db.run_id,
            "CRM_INSTANCE_PATH": str(instance),
            "CRM_LOG_REQUESTS": "0",
            "CRM_LOG_LEVEL": "WARNING",
            "CRM_API_RATELIMIT": BENCH_RATE_LIMIT,
            "CRM_BASE_URL": "http://localhost",
        }
    )
    return env


def drop_queue(bench_db: BenchDatabase) -> None:
    """Remove the jobs the creates' events queued (nobody works this run's queue)."""
    try:
        from redis import Redis
        from rq import Queue

        Queue(
            "bench-load-" + bench_db.run_id, connection=Redis.from_url(bench_db.redis_url)
        ).delete(delete_jobs=True)
    except Exception as exc:  # a leftover queue is no reason to lose the figures
        console.print(f"[yellow]could not remove the job queue: {exc}[/]")


def meets(result: RunResult) -> str:
    """Whether a read run meets the targets."""
    ok = result.rps >= TARGET_RPS and result.p99_ms < TARGET_P99_MS and result.errors == 0
    return "yes" if ok else "no"


def error_text(result: RunResult) -> str:
    """Errors by status code and socket error, or 0."""
    parts = [f"{n} × {code}" for code, n in sorted(result.bad_status.items())]
    parts += [f"{n} {what}" for what, n in sorted(result.socket_errors.items())]
    return ", ".join(parts) or "0"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    args = parse_args(argv)
    if args.generator == "wrk" and wrk_path() is None:
        raise SystemExit(MISSING)
    if not gunicorn_available():
        raise SystemExit("gunicorn is not installed: `.venv/bin/pip install -e .` installs it")
    bench_db = BenchDatabase(args.db)
    console.print(f"[bold]load benchmark[/] on database {args.db}")
    phases: dict[str, float] = {}
    runs: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-load-"))
    try:
        if args.reuse:
            with Stopwatch() as w, bench_db.app().app_context():
                from crm_platform.extensions import db
                from crm_platform.migrations_support import upgrade_all

                upgrade_all()
                db.engine.dispose()
            phases["migrate (reuse)"] = w.seconds
        else:
            phases.update(build(bench_db, args))
        raise_rate_limits(bench_db)
        with Stopwatch() as w:
            tenants = sample_tenants(args.db, 200, args.seed)
            app = bench_db.app()
            issue_keys(app, tenants)
            mixes = {
                mix: request_list(mix, tenants, args.requests, args.big_share, args.seed)
                for mix in dict.fromkeys([*args.mixes, *(["read"] if args.soak else [])])
            }
        phases["keys and request lists"] = w.seconds
        counts = count_rows(args.db)
        server = Gunicorn(
            server_env(bench_db, tmp),
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            log_path=tmp / "gunicorn.log",
        )
        with Stopwatch() as w:
            server.start()
        phases["gunicorn start"] = w.seconds
        try:
            with Stopwatch() as w:
                preflight(server.url, tenants, args.seed)
                for mix in args.mixes:
                    if args.warmup > 0:
                        generate(args, server.url, mixes[mix], args.warmup, f"w{mix}", tmp)
                    result, row = measured(args, server, mix, mixes[mix], args.duration, tmp)
                    runs.append(row)
                    console.print(
                        f"{mix}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                        f"errors {error_text(result)}"
                    )
                if args.soak > 0:
                    console.print(f"soak: {args.soak:.0f} s of the read mix")
                    with RssSampler(server.worker_pids, args.sample_every) as sampler:
                        result, row = measured(
                            args, server, "soak", mixes["read"], args.soak, tmp, "read (soak)"
                        )
                    runs.append(row)
                    memory = growth(sampler.samples, args.soak_warmup)
            phases["load (measured)"] = w.seconds
        except BaseException:
            console.print(f"[red]the run failed; gunicorn's log: {tmp / 'gunicorn.log'}[/]")
            raise
        finally:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # kept when something failed (gunicorn.log)
    finally:
        drop_queue(bench_db)
        if not args.keep:
            bench_db.drop()
    report(args, runs, memory, counts, phases)
    payload = {
        "options": vars(args),
        "data": counts,
        "server": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads if args.worker_class == "gthread" else 1,
            "connections": args.connections,
            "generator": args.generator,
        },
        "runs": runs,
        "memory": memory,
        "targets": {
            "read_rps": TARGET_RPS,
            "read_p99_ms": TARGET_P99_MS,
            "errors": 0,
            "soak_growth_pct": TARGET_GROWTH_PCT,
        },
    }
    save_results(args, payload, phases)
    return payload


def count_rows(database: str) -> dict[str, int]:
    """Tenants, the big tenant's contacts and deals, and every contact."""
    engine = admin_engine(database)
    try:
        with engine.connect() as conn:
            big = conn.execute(text("select id from tenants where slug = 'big'")).scalar_one()
            one = lambda sql, **p: conn.execute(text(sql), p).scalar_one()  # noqa: E731
            return {
                "tenants": one("select count(*) from tenants"),
                "big_contacts": one("select count(*) from contacts where tenant_id = :t", t=big),
                "all_contacts": one("select count(*) from contacts"),
                "big_accounts": one("select count(*) from accounts where tenant_id = :t", t=big),
                "big_deals": one("select count(*) from sfa_deals where tenant_id = :t", t=big),
                "all_deals": one("select count(*) from sfa_deals"),
            }
    finally:
        engine.dispose()


def report(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    memory: list[dict[str, Any]],
    counts: dict[str, int],
    phases: dict[str, float],
) -> None:
    """The tables."""
    kind = (
        f"gthread × {args.threads} threads" if args.worker_class == "gthread" else args.worker_class
    )
    generator = f"wrk, {args.wrk_threads} threads" if args.generator == "wrk" else "Python threads"
    print_table(
        f"Load on gunicorn ({args.workers} workers {kind}) from {generator}, "
        f"{args.connections} connections; {counts['big_contacts']:,} contacts in the big "
        f"tenant, {counts['all_contacts']:,} in {counts['tenants']} tenants",
        [
            "mix",
            "s",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "errors",
            "app CPU ms/req",
            "DB CPU ms/req",
            "load",
            "target",
            "met",
        ],
        [
            [
                r["mix"],
                r["seconds"],
                r["requests"],
                r["rps"],
                r["p50_ms"],
                r["p95_ms"],
                r["p99_ms"],
                r["max_ms"],
                error_text(RunResult(**_result_fields(r))),
                r["app_cpu_ms_per_request"],
                "" if r["db_cpu_ms_per_request"] is None else r["db_cpu_ms_per_request"],
                f"{r['load'][0]} → {r['load'][1]}",
                *(
                    (f"≥ {TARGET_RPS:.0f}/s, p99 < {TARGET_P99_MS:.0f}, 0 errors",)
                    if r["mix"].startswith("read")
                    else ("",)
                ),
                meets(RunResult(**_result_fields(r))) if r["mix"].startswith("read") else "",
            ]
            for r in runs
        ],
    )
    if memory:
        print_table(
            f"Worker memory (VmRSS, MiB) over a {args.soak:.0f} s soak; growth after the first "
            f"{args.soak_warmup:.0f} s",
            [
                "worker pid",
                "samples",
                "start",
                "after warm-up",
                "end",
                "peak",
                "growth %",
                "peak growth %",
                "target",
                "met",
            ],
            [
                [
                    m["pid"],
                    m["samples"],
                    m["first_mib"],
                    m["warm_mib"],
                    m["last_mib"],
                    m["max_mib"],
                    m["growth_pct"],
                    m["peak_growth_pct"],
                    f"≤ {TARGET_GROWTH_PCT:.0f} %",
                    "yes" if m["peak_growth_pct"] <= TARGET_GROWTH_PCT else "no",
                ]
                for m in memory
            ],
        )
    shares = weights("mixed")
    print_table(
        f"Request kinds ({args.big_share:.0%} to the big tenant, the rest to random others)",
        ["kind", "read mix %", "mixed mix %"],
        [
            [k, round(100 * weights("read").get(k, 0.0), 1), round(100 * s, 1)]
            for k, s in shares.items()
        ],
    )
    print_phases(phases)


def _result_fields(r: dict[str, Any]) -> dict[str, Any]:
    names = ("seconds", "requests", "p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    return {
        **{n: r[n] for n in names},
        "bad_status": r["bad_status"],
        "socket_errors": r["socket_errors"],
    }


if __name__ == "__main__":
    run_timed(main)
