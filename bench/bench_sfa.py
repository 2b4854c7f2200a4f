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
   rep under the *territory* rule; the forecast by quarter and by month.

Prints tables and writes ``bench/results/bench_sfa.json``; times are never asserted.
"""

from __future__ import annotations

import argparse
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
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


def _rls(conn: Any, tenant_id: Any) -> None:
    conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})


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
        _rls(conn, world.tenant.id)
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
                _rls(conn, world.tenant.id)
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
        _rls(conn, tenant_id)
        rows = conn.execute(text("select status, count(*) from sfa_deals group by status"))
        return {status: count for status, count in rows}


# --------------------------------------------------------------------------- measuring


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
    """(name, who, URL) of every measured page."""
    base = f"/t/{world.tenant.slug}/sales"
    return [
        ("board: owner, every deal", "owner", f"{base}/?owner=all"),
        ("board: manager, team tree (default)", "manager", f"{base}/"),
        ("board: rep, territory rule", "rep", f"{base}/?owner=all"),
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


def measure(app: Any, world: World, reps: int) -> list[dict[str, Any]]:
    """Time every page ``reps`` times through the test client (the whole Flask stack)."""
    clients = {
        "owner": signed_in(app, world.owner_email),
        "manager": signed_in(app, world.manager_email),
        "rep": signed_in(app, world.territory_rep_email),
    }
    results = []
    for name, who, url in pages(world):
        client = clients[who]
        sizes: list[int] = []

        def call(i: int, client: Any = client, url: str = url, sizes: list = sizes) -> None:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
            sizes.append(len(response.data))

        stats = summary(timed_calls(call, reps))
        cards = len(re.findall(r'<li class="sfa-card[" ]', clients[who].get(url).text))
        results.append({"page": name, **stats, "kb": round(max(sizes) / 1024, 1), "cards": cards})
    return results


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns what it wrote to the JSON file."""
    args = parse_args(argv)
    bench_db = BenchDatabase(args.db)
    phases: dict[str, float] = {}
    console.print(f"[bold]sales benchmark[/] on database {args.db}")
    with Stopwatch() as w:
        bench_db.create()
    phases["migrate"] = w.seconds
    app = bench_db.app()
    owner = create_engine(bench_db.owner_url)
    try:
        with Stopwatch() as w:
            world = provision(app)
        phases["provision"] = w.seconds
        with Stopwatch() as w:
            bulk(owner, world, args.open, args.closed)
        phases["set-up: deals"] = w.seconds
        counts = count_deals(owner, world.tenant.id)
        with Stopwatch() as w:
            results = measure(app, world, args.reps)
        phases["pages (measured)"] = w.seconds
    finally:
        owner.dispose()
        with app.app_context():
            from crm_platform.extensions import db

            db.engine.dispose()
        if not args.keep:
            bench_db.drop()
    print_table(
        f"Sales pages: {counts.get('open', 0):,} open, {counts.get('won', 0):,} won, "
        f"{counts.get('lost', 0):,} lost deals in one tenant; {args.reps} requests each",
        ["page", "p50 ms", "p95 ms", "max ms", "KB", "cards", "target"],
        [
            [
                r["page"],
                r["p50_ms"],
                r["p95_ms"],
                r["max_ms"],
                r["kb"],
                r["cards"],
                f"p95 < {TARGET_P95_MS:.0f}" if r["page"].startswith(("board", "forecast")) else "",
            ]
            for r in results
        ],
    )
    print_table("Phases", ["phase", "seconds"], [[k, round(v, 1)] for k, v in phases.items()])
    payload = {
        "options": vars(args),
        "deals": counts,
        "pages": results,
        "phases_s": {k: round(v, 2) for k, v in phases.items()},
        "targets": {"p95_ms": TARGET_P95_MS},
    }
    path = write_results(args.name, payload, Path(args.results) if args.results else None)
    console.print(f"results written to {path}")
    return payload


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    console.print(f"total {time.perf_counter() - started:.0f} s")
