"""What every benchmark shares: a fresh PostgreSQL database, timing, tables and JSON results.

* :class:`BenchDatabase` creates a database of its own (``crm_bench`` by default), owned by a
  migration role, migrates it with the project's own Alembic revisions (plugins included) and
  builds apps that connect as the non-owner app role that row-level security binds, exactly
  as in production. ``drop()`` removes it again (unless the run keeps it).
* :func:`summary` turns timings into count / p50 / p95 / max (milliseconds);
  :func:`timed_calls` times a function ``reps`` times.
* :func:`print_table` prints a ``rich`` table; :func:`write_results` writes
  ``bench/results/<name>.json`` with the machine it ran on.

Benchmarks print tables and write JSON; they never assert times (see DESIGN.md).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
if str(ROOT) not in sys.path:  # run as ``python bench/<script>.py`` from anywhere
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

console = Console()

PG_HOST = os.environ.get("CRM_BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CRM_BENCH_PG_PORT", "5432"))
#: A superuser connection, used only to create the roles and the database.
PG_ADMIN = os.environ.get(
    "CRM_BENCH_PG_ADMIN", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"
)
OWNER_ROLE, APP_ROLE, PROVIDER_ROLE = "crm_bench_owner", "crm_bench_app", "crm_bench_provider"
REDIS_URL = os.environ.get("CRM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def pg_url(role: str, database: str) -> str:
    """A psycopg URL of ``database`` as ``role`` (trust or ``PGPASSWORD`` authentication)."""
    return f"postgresql+psycopg://{role}@{PG_HOST}:{PG_PORT}/{database}"


@dataclass
class BenchDatabase:
    """A PostgreSQL database of one benchmark run, migrated with the project's migrations."""

    name: str = "crm_bench"
    redis_url: str = REDIS_URL
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def config(self) -> dict[str, Any]:
        """App configuration: the app role (RLS-bound), the owner for migrations."""
        return {
            "DATABASE_URL": pg_url(APP_ROLE, self.name),
            "MIGRATION_DATABASE_URL": pg_url(OWNER_ROLE, self.name),
            "PROVIDER_DATABASE_URL": pg_url(PROVIDER_ROLE, self.name),
            "DB_APP_ROLE": APP_ROLE,
            "DB_PROVIDER_ROLE": PROVIDER_ROLE,
            "PG_DATABASE": self.name,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "bench-" + self.run_id,
            "RATELIMIT_KEY_PREFIX": "bench-" + self.run_id,
            "JOBS_QUEUE": "bench-" + self.run_id,
            "JOBS_RETRY_INTERVALS": "0",
            "BASE_URL": "http://localhost",
            "MAIL_SERVER": None,
            "LOG_LEVEL": "WARNING",
        }

    @property
    def owner_url(self) -> str:
        """The table owner's URL (migrations and bulk set-up; RLS is forced on it too)."""
        return pg_url(OWNER_ROLE, self.name)

    def create(self) -> None:
        """Drop any database of this name, create it empty and migrate it to every head."""
        from crm_platform.pg_roles import ensure_roles

        roles = {"app_role": APP_ROLE, "provider_role": PROVIDER_ROLE, "owner_role": OWNER_ROLE}
        ensure_roles(PG_ADMIN, **roles)
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}" OWNER {OWNER_ROLE}')
        app = self.app()
        with app.app_context():
            from crm_platform.extensions import db
            from crm_platform.migrations_support import upgrade_all

            upgrade_all()
            db.engine.dispose()

    def drop(self) -> None:
        """Remove the database."""
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def app(self, **overrides: Any) -> Any:
        """A new app on this database (``overrides`` change its config)."""
        import logging

        from crm_platform import create_app

        app = create_app({**self.config, **overrides})
        for name in ("alembic", "rq", "crm_platform"):
            logging.getLogger(name).setLevel(logging.WARNING)
        return app

    def _admin(self, sql: str) -> None:
        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()


# --------------------------------------------------------------------------- timing


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of ``samples`` (nearest rank, as latency reports use)."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """count, p50, p95, max and mean of timings given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(max(ms), 2) if ms else math.nan,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else math.nan,
    }


def timed_calls(func: Callable[[int], Any], reps: int, warmup: int = 2) -> list[float]:
    """Seconds taken by each of ``reps`` calls ``func(i)`` (after ``warmup`` untimed calls)."""
    for i in range(warmup):
        func(-1 - i)
    out = []
    for i in range(reps):
        start = time.perf_counter()
        func(i)
        out.append(time.perf_counter() - start)
    return out


class Stopwatch:
    """``with Stopwatch() as w: ...`` then ``w.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start


# --------------------------------------------------------------------------- output


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table on the console (numbers right-aligned)."""
    rows = [list(r) for r in rows]
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        numeric = bool(rows) and all(isinstance(r[i], int | float) for r in rows)
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def load_average() -> float | None:
    """The machine's 1-minute load average (others' work shares the cores), if known."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def backend_cpu_seconds(database: str) -> float | None:
    """CPU seconds used so far by the server processes of ``database``'s connections.

    Read from ``/proc``, so only when PostgreSQL runs on this machine (else ``None``). On a
    machine shared with other work, CPU time says what the database did better than the
    wall clock does.
    """
    clock = os.sysconf("SC_CLK_TCK")
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text(
                    "select pid from pg_stat_activity "
                    "where datname = :db and pid <> pg_backend_pid()"
                ),
                {"db": database},
            ).scalars()
            total = 0.0
            for pid in pids:
                try:
                    if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        return None  # another machine's server (a pid of ours by chance)
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    return None
                total += (int(stat[11]) + int(stat[12])) / clock
            return total
    finally:
        engine.dispose()


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(name: str, payload: dict[str, Any], directory: Path | None = None) -> Path:
    """Write ``payload`` (plus the machine) to ``<directory>/<name>.json``; returns the path."""
    directory = directory or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    body = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


def save_results(args: Any, payload: dict[str, Any], phases: dict[str, float]) -> Path:
    """Write ``payload`` and the run's ``phases`` (seconds, as ``phases_s``) as the run's
    results (``args.name``, ``args.results``: each script's ``--name`` and ``--results``
    options) and say where; returns the path."""
    body = {**payload, "phases_s": {k: round(v, 2) for k, v in phases.items()}}
    path = write_results(args.name, body, Path(args.results) if args.results else None)
    console.print(f"results written to {path}")
    return path


def print_phases(phases: dict[str, float]) -> None:
    """The table of a run's phases and their seconds."""
    print_table("Phases", ["phase", "seconds"], [[k, round(v, 1)] for k, v in phases.items()])


def run_timed(main: Callable[[], Any]) -> None:
    """Run a script's ``main()`` and print how long the whole run took."""
    started = time.perf_counter()
    main()
    console.print(f"total {time.perf_counter() - started:.0f} s")


def set_tenant(conn: Any, tenant_id: Any) -> None:
    """Row-level security's tenant for the rest of ``conn``'s transaction (bulk set-up SQL)."""
    conn.execute(text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
