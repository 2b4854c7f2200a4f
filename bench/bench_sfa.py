"""Sales at scale on PostgreSQL: the kanban board and the forecast of one big tenant.

    .venv/bin/python bench/bench_sfa.py                      # full scale (see bench/README.md)
    .venv/bin/python bench/bench_sfa.py --open 500 --closed 5000 --reps 5   # a quick run

1. A fresh database (``--db``, default ``crm_bench_sfa``) migrated with the project's
   migrations; the app connects as the non-owner app role that row-level security binds.
2. One tenant through the real provisioning service, on the Enterprise plan, with Sales on
   (its onboarding makes the default pipeline), 20 members (a manager and reps), 3 teams (one
   under another), 2,000 accounts in 8 regions, and a territory worked by one rep.
3. Set-up data (not measured): ``--open`` open deals and ``--closed`` won or lost ones with
   ``INSERT ... SELECT generate_series``, spread over owners, stages, accounts, expected close
   dates of this year and the next, and closing dates of the last two years; ``VACUUM ANALYZE``.
4. **Measured**: ``--reps`` requests of each page through the Flask test client, signed in
   (the whole stack: session, tenant context and RLS, permissions, the queries, the
   template): the board as the owner (every deal), as a manager (their team tree first), as a
   rep under the *territory* rule; a board column's next page ("show more"); the forecast by
   quarter and by month.

Besides wall-clock p50/p95 it prints what a loaded, shared machine distorts less: the CPU
time of this process per request (``time.process_time``: Flask, SQLAlchemy, Jinja), the
database server's CPU per request (from ``/proc``, when PostgreSQL runs on this machine) and
the number of SQL statements per request. ``--keep`` keeps the database (to run ``EXPLAIN``
on it); ``--reuse`` measures again on a kept one (migrated to the newest revisions, set-up
skipped). Prints tables and writes ``bench/results/bench_sfa.json``; times are never asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import common
from common import (
    BenchDatabase,
    Stopwatch,
    console,
    print_phases,
    print_table,
    run_timed,
    save_results,
    set_tenant,
    summary,
    timed_calls,
)
from sqlalchemy import create_engine, text

PASSWORD = "bench-horse-battery-staple"
MEMBERS = 20
ACCOUNTS = 2000
REGIONS = ("North", "South", "East", "West", "Shanghai", "Beijing", "Shenzhen", "Guangzhou")
INDUSTRIES = ("banking", "retail", "telecom", "services")
UNLIMITED_PLAN = "enterprise"
TARGET_P95_MS = 150.0


@dataclass
class World:
    """What set-up made."""

    tenant: Any = None
    owner_email: str = ""
    manager_email: str = ""
    territory_rep_email: str = ""
    members: list[uuid.UUID] = field(default_factory=list)
    teams: list[uuid.UUID] = field(default_factory=list)
    pipeline: uuid.UUID | None = None
    open_stages: list[uuid.UUID] = field(default_factory=list)
    won_stage: uuid.UUID | None = None
    lost_stage: uuid.UUID | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--open", type=int, default=10_000, help="open deals of the tenant")
    p.add_argument("--closed", type=int, default=200_000, help="won and lost deals")
    p.add_argument("--reps", type=int, default=50, help="requests per page")
    p.add_argument("--db", default="crm_bench_sfa", help="database name (dropped and re-created)")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="measure on a database an earlier run kept (--keep): no set-up; implies --keep",
    )
    p.add_argument("--results", default=None, help="directory of the JSON results")
    p.add_argument("--name", default="bench_sfa", help="results file name (without .json)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- set-up


def provision(app: Any) -> World:
    """The tenant, Sales on, members, teams (one under another), a territory."""
    from sqlalchemy import select

    from crm_platform.extensions import db
    from crm_platform.identity import Tenant
    from crm_platform.modules import enable_module
    from crm_platform.passwords import hash_password
    from crm_platform.provisioning import add_member, create_tenant, create_user
    from crm_platform.records.teams import Team, TeamMember
    from crm_platform.tenancy import tenant_context
    from plugins.sfa.models import Pipeline, Stage
    from plugins.sfa.planning_models import TeamParent
    from plugins.sfa.settings import save_sales_settings
    from plugins.sfa.territories import save_territory

    world = World()
    password_hash = hash_password(PASSWORD)
    with app.app_context():
        owner = create_user("owner@big.example", "Owner big", password_hash=password_hash)
        tenant = create_tenant("Big Co", "big", owner)
        db.session.commit()
        world.tenant = SimpleNamespace(id=tenant.id, slug="big")
        world.owner_email = owner.email
        world.members.append(owner.id)
        _unlimited_plan(app, world.tenant)
        with tenant_context(world.tenant):
            big = db.session.get(Tenant, world.tenant.id)
            enable_module(big, "sfa")
            users = []
            for i in range(1, MEMBERS):
                role = "manager" if i == 1 else "member"
                user = create_user(
                    f"rep{i:02d}@big.example", f"Rep {i:02d}", password_hash=password_hash
                )
                add_member(big, user, role)
                users.append(user)
                world.members.append(user.id)
            world.manager_email = users[0].email
            world.territory_rep_email = users[1].email
            for name in ("Sales", "North", "South"):
                team = Team(name=name)
                db.session.add(team)
                db.session.flush()
                world.teams.append(team.id)
            db.session.add(TeamParent(team_id=world.teams[1], parent_id=world.teams[0]))
            db.session.add(TeamMember(team_id=world.teams[0], user_id=users[0].id))
            for n, user in enumerate(users[1:]):
                db.session.add(TeamMember(team_id=world.teams[1 + n % 2], user_id=user.id))
            save_territory(
                {
                    "name": "East and North",
                    "region": "East, North",
                    "industry": "banking, retail",
                    "member_ids": [str(users[1].id)],
                }
            )
            save_sales_settings({"record_visibility": {"member": "territory"}})
            pipeline = db.session.scalars(select(Pipeline).where(Pipeline.is_default)).one()
            world.pipeline = pipeline.id
            for stage in db.session.scalars(
                select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
            ):
                if stage.outcome == "open":
                    world.open_stages.append(stage.id)
                elif stage.outcome == "won":
                    world.won_stage = stage.id
                else:
                    world.lost_stage = stage.id
            db.session.commit()
    return world


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


ACCOUNTS_SQL = """
insert into accounts (tenant_id, id, name, name_key, lifecycle_stage, industry, region, tags,
                      custom, owner_id, created_at, updated_at)
select :tid, gen_random_uuid(), 'Company ' || n, 'company ' || n, 'customer',
       p.industries[1 + n % cardinality(p.industries)],
       p.regions[1 + (n / 4) % cardinality(p.regions)], '[]', '{}',
       p.members[1 + n % cardinality(p.members)], now(), now()
from generate_series(1, :count) n,
     (select cast(:regions as text[]) regions, cast(:industries as text[]) industries,
             cast(:members as uuid[]) members) p
"""

#: Open deals: every open stage, owners, accounts, close dates over this year and the next.
#: Closed deals: 45 % won, the rest lost, closed over the last two years.
DEALS_SQL = """
with p as (
  select cast(:members as uuid[]) members, cast(:stages as uuid[]) stages,
         array(select id from accounts) accounts, cast(:closed as boolean) closed,
         cast(:won as uuid) won, cast(:lost as uuid) lost
), src as (
  select n, p.*, n % 20 < 9 as wins,
         now() - ((n * 7919) % 63072000) * interval '1 second' created
  from generate_series(cast(:start as bigint), cast(:stop as bigint)) n, p
)
insert into sfa_deals (
  tenant_id, id, name, account_id, pipeline_id, stage_id, amount, currency, expected_close,
  owner_id, competitors, close_reason, forecast_category, status, closed_at, stage_entered_at,
  created_at, updated_at, version)
select cast(:tid as uuid), gen_random_uuid(), 'Deal ' || n,
  accounts[1 + n % cardinality(accounts)], cast(:pipeline as uuid),
  case when not closed then stages[1 + n % cardinality(stages)]
       when wins then won else lost end,
  ((n * 37) % 50000 + 500)::numeric(14, 2),
  case when n % 25 = 0 then 'EUR' else 'USD' end,
  case when closed then created::date + 30
       else date_trunc('year', now())::date + ((n * 13) % 600)::int end,
  members[1 + n % cardinality(members)], '[]',
  case when closed then 'bench' end,
  (array['commit', 'best_case', 'pipeline', 'pipeline', 'omitted'])[1 + n % 5],
  case when not closed then 'open' when wins then 'won' else 'lost' end,
  case when closed then created + interval '20 days' end,
  created, created, created, 1
from src
"""


def bulk(engine: Any, world: World, open_count: int, closed_count: int) -> None:
    """Accounts, then open and closed deals (set-up), then fresh statistics."""
    with engine.begin() as conn:
        set_tenant(conn, world.tenant.id)
        conn.execute(
            text(ACCOUNTS_SQL),
            {
                "tid": world.tenant.id,
                "count": ACCOUNTS,
                "regions": list(REGIONS),
                "industries": list(INDUSTRIES),
                "members": world.members,
            },
        )
    common = {
        "tid": world.tenant.id,
        "members": world.members,
        "stages": world.open_stages,
        "pipeline": world.pipeline,
        "won": world.won_stage,
        "lost": world.lost_stage,
    }
    step = 100_000
    for closed, total in ((False, open_count), (True, closed_count)):
        for first in range(1, total + 1, step):
            with engine.begin() as conn:
                set_tenant(conn, world.tenant.id)
                last = min(first + step, total + 1) - 1
                conn.execute(
                    text(DEALS_SQL), {**common, "closed": closed, "start": first, "stop": last}
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("sfa_deals", "accounts", "sfa_stages", "team_members"):
            conn.execute(text(f"vacuum analyze {table}"))


def count_deals(engine: Any, tenant_id: Any) -> dict[str, int]:
    """Deals of the tenant by status."""
    with engine.begin() as conn:
        set_tenant(conn, tenant_id)
        rows = conn.execute(text("select status, count(*) from sfa_deals group by status"))
        return {status: count for status, count in rows}


# --------------------------------------------------------------------------- measuring


def reuse(database: str) -> World:
    """The world of a kept database (``--reuse``): the tenant ``big`` and its members."""
    engine = create_engine(common.pg_url("postgres", database))  # a superuser: no RLS
    try:
        with engine.connect() as conn:
            tenant_id = conn.execute(text("select id from tenants where slug = 'big'")).scalar()
    finally:
        engine.dispose()
    if tenant_id is None:
        raise SystemExit("--reuse: no tenant 'big' in that database (run once with --keep)")
    return World(
        tenant=SimpleNamespace(id=tenant_id, slug="big"),
        owner_email="owner@big.example",
        manager_email="rep01@big.example",
        territory_rep_email="rep02@big.example",
    )


class QueryCounter:
    """Counts the SQL statements the app's engine runs (``with counter: ...``; ``.count``)."""

    def __init__(self, app: Any) -> None:
        from crm_platform.extensions import db

        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def _tick(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        from sqlalchemy import event

        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._tick)
        return self

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._tick)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    if not match:
        raise SystemExit("no CSRF token on the page")
    return match.group(1)


def signed_in(app: Any, email: str) -> Any:
    """A test client signed in as ``email``."""
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    )
    if response.status_code != 302:
        raise SystemExit(f"login of {email} failed: {response.status_code}")
    return client


def pages(world: World) -> list[tuple[str, str, str]]:
    """(name, who, URL) of every measured page; ``{more}`` is a column's "show more" link."""
    base = f"/t/{world.tenant.slug}/sales"
    return [
        ("board: owner, every deal", "owner", f"{base}/?owner=all"),
        ("board: manager, team tree (default)", "manager", f"{base}/"),
        ("board: rep, territory rule", "rep", f"{base}/?owner=all"),
        ("board: owner, a column's next cards", "owner", "{more}"),
        ("forecast: owner, quarter", "owner", f"{base}/forecast?owner=all"),
        (
            "forecast: owner, by month, year",
            "owner",
            f"{base}/forecast?owner=all&by=month&quarter=0",
        ),
        ("forecast: manager, team tree (default)", "manager", f"{base}/forecast"),
        ("forecast: rep, territory rule", "rep", f"{base}/forecast?owner=all"),
        ("my day: rep", "rep", f"{base}/agenda"),
    ]


def _more_url(client: Any, world: World) -> str | None:
    """The first "show more" link of the owner's board (``None`` on a board without one)."""
    page = client.get(f"/t/{world.tenant.slug}/sales/?owner=all").text
    match = re.search(r'class="sfa-more[^"]*"[^>]*hx-get="([^"]+)"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def _backend_cpu(database: str) -> float | None:
    probe = getattr(common, "backend_cpu_seconds", None)
    return probe(database) if probe else None


def measure(app: Any, world: World, reps: int, database: str) -> list[dict[str, Any]]:
    """Time every page ``reps`` times through the test client (the whole Flask stack)."""
    clients = {
        "owner": signed_in(app, world.owner_email),
        "manager": signed_in(app, world.manager_email),
        "rep": signed_in(app, world.territory_rep_email),
    }
    counter = QueryCounter(app)
    results = []
    for name, who, url in pages(world):
        client = clients[who]
        if url == "{more}":
            url = _more_url(client, world)
            if url is None:
                continue
        sizes: list[int] = []
        cpu: list[float] = []

        def call(
            i: int, client: Any = client, url: str = url, sizes: list = sizes, cpu: list = cpu
        ) -> None:
            started = time.process_time()
            response = client.get(url)
            cpu.append(time.process_time() - started)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
            sizes.append(len(response.data))

        db_before = _backend_cpu(database)
        stats = summary(timed_calls(call, reps))
        db_after = _backend_cpu(database)
        cpu = cpu[-reps:]  # not the warm-up calls
        with counter:
            text_ = clients[who].get(url).text
        cards = len(re.findall(r'<li class="sfa-card[" ]', text_))
        deals = sum(int(n) for n in re.findall(r'class="sfa-count"[^>]*>(\d+)<', text_))
        db_ms = None
        if db_before is not None and db_after is not None:
            # warm-up calls included: (reps + 2) requests ran between the two readings
            db_ms = round((db_after - db_before) * 1000 / (reps + 2), 1)
        results.append(
            {
                "page": name,
                **stats,
                "cpu_p50_ms": summary(cpu)["p50_ms"],
                "cpu_mean_ms": summary(cpu)["mean_ms"],
                "db_cpu_ms": db_ms,
                "queries": counter.count,
                "kb": round(max(sizes) / 1024, 1),
                "cards": cards,
                "deals": deals,
            }
        )
    return results


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    args = parse_args(argv)
    args.keep = args.keep or args.reuse
    bench_db = BenchDatabase(args.db)
    phases: dict[str, float] = {}
    console.print(f"[bold]sales benchmark[/] on database {args.db}")
    with Stopwatch() as w:
        if args.reuse:
            with bench_db.app().app_context():
                from crm_platform.migrations_support import upgrade_all

                upgrade_all()
        else:
            bench_db.create()
    phases["migrate"] = w.seconds
    app = bench_db.app()
    owner = create_engine(bench_db.owner_url)
    try:
        if args.reuse:
            world = reuse(args.db)
        else:
            with Stopwatch() as w:
                world = provision(app)
            phases["provision"] = w.seconds
            with Stopwatch() as w:
                bulk(owner, world, args.open, args.closed)
            phases["set-up: deals"] = w.seconds
        counts = count_deals(owner, world.tenant.id)
        load = os.getloadavg()[0]
        with Stopwatch() as w:
            results = measure(app, world, args.reps, args.db)
        phases["pages (measured)"] = w.seconds
        load = round((load + os.getloadavg()[0]) / 2, 1)
    finally:
        owner.dispose()
        with app.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
        if not args.keep:
            bench_db.drop()
    print_table(
        f"Sales pages: {counts.get('open', 0):,} open, {counts.get('won', 0):,} won, "
        f"{counts.get('lost', 0):,} lost deals in one tenant; {args.reps} requests each; "
        f"load average {load}",
        [
            "page",
            "p50 ms",
            "p95 ms",
            "max ms",
            "CPU ms (p50)",
            "DB CPU ms",
            "queries",
            "KB",
            "cards",
            "deals",
            "target",
        ],
        [
            [
                r["page"],
                r["p50_ms"],
                r["p95_ms"],
                r["max_ms"],
                r["cpu_p50_ms"],
                r["db_cpu_ms"] if r["db_cpu_ms"] is not None else "",
                r["queries"],
                r["kb"],
                r["cards"],
                r["deals"],
                f"p95 < {TARGET_P95_MS:.0f}" if r["page"].startswith(("board", "forecast")) else "",
            ]
            for r in results
        ],
    )
    print_phases(phases)
    payload = {
        "options": vars(args),
        "deals": counts,
        "load_average": load,
        "pages": results,
        "targets": {"p95_ms": TARGET_P95_MS},
    }
    save_results(args, payload, phases)
    return payload


if __name__ == "__main__":
    run_timed(main)
