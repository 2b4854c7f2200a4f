"""The sales benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its table and writes its JSON: a benchmark's times are never
asserted (see bench/README.md for the figures at full scale).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import PG_ADMIN
from sqlalchemy import create_engine, text

from crm_platform.testing import PG_HOST, PG_PORT

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.postgres
def test_sales_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    name = f"crm_bench_sfa_smoke_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    args = [
        *("--open", "120", "--closed", "300", "--reps", "2"),
        *("--db", name, "--results", str(tmp_path), "--name", "smoke"),
    ]
    env = {
        **os.environ,
        "CRM_BENCH_PG_HOST": PG_HOST,
        "CRM_BENCH_PG_PORT": str(PG_PORT),
        "CRM_BENCH_PG_ADMIN": PG_ADMIN,
        "CRM_BENCH_REDIS_URL": redis_url,
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_sfa.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for title in ("Sales pages: 120 open", "p95 ms", "board: owner", "forecast: owner"):
        assert title in done.stdout, done.stdout

    results: dict[str, Any] = json.loads((tmp_path / "smoke.json").read_text())
    assert results["deals"]["open"] == 120
    assert results["deals"]["won"] + results["deals"]["lost"] == 300
    pages = {row["page"]: row for row in results["pages"]}
    assert "board: owner, every deal" in pages and "forecast: owner, quarter" in pages
    assert all(row["n"] == 2 and row["p95_ms"] >= row["p50_ms"] for row in pages.values())
    assert pages["board: owner, every deal"]["cards"] > 0  # the board shows its cards
    # the rep under the territory rule sees fewer deals than the owner who sees every deal
    # (the board's column counts: each column draws only its first cards)
    assert pages["board: rep, territory rule"]["deals"] < pages["board: owner, every deal"]["deals"]
    admin = create_engine(PG_ADMIN)
    try:
        with admin.connect() as conn:
            names = conn.execute(text("select datname from pg_database")).scalars().all()
    finally:
        admin.dispose()
    assert name not in names  # dropped without --keep
