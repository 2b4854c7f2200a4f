"""Run a ``bench/`` script at a tiny scale against the test PostgreSQL and Redis.

The smoke tests only check that a benchmark runs, prints its tables and writes its JSON; a
benchmark's times are never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from crm_platform.testing import PG_ADMIN, PG_HOST, PG_PORT

ROOT = Path(__file__).resolve().parent.parent


def run_bench(
    script: str, args: list[str], *, tmp_path: Path, redis_url: str, timeout: int = 600
) -> tuple[str, dict[str, Any]]:
    """Run ``bench/<script>`` with ``args`` on a throwaway database; its output and JSON."""
    name = f"crm_bench_smoke_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CRM_BENCH_PG_HOST": PG_HOST,
        "CRM_BENCH_PG_PORT": str(PG_PORT),
        "CRM_BENCH_PG_ADMIN": PG_ADMIN,
        "CRM_BENCH_REDIS_URL": redis_url,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / script),
            *args,
            *("--db", name, "--results", str(tmp_path), "--name", "smoke"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    admin = create_engine(PG_ADMIN)
    try:
        with admin.connect() as conn:
            names = conn.execute(text("select datname from pg_database")).scalars().all()
    finally:
        admin.dispose()
    assert name not in names  # the benchmark dropped its database (no --keep)
    return done.stdout, json.loads((tmp_path / "smoke.json").read_text())
