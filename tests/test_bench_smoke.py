"""The contacts benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its tables and writes its JSON: a benchmark's times are never
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

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
def test_contacts_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    name = f"crm_bench_smoke_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    args = [
        *("--contacts", "400", "--import-rows", "300", "--existing", "100"),
        *("--tenants", "2", "--other-contacts", "20", "--reps", "3"),
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
        [sys.executable, str(ROOT / "bench" / "bench_contacts.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for title in ("Import of 300 CSV rows", "API /api/v1/contacts", "p95 ms", "rows/s"):
        assert title in done.stdout, done.stdout

    results: dict[str, Any] = json.loads((tmp_path / "smoke.json").read_text())
    outcome = results["import"]
    assert outcome["rows"] == 300
    assert outcome["created"] + outcome["skipped"] + outcome["rejected"] == 300
    assert outcome["created"] > 250 and outcome["rejected"] >= 1  # the file has bad rows
    assert results["tenant_contacts"] >= 400 and results["other_tenants"] == 2
    queries = {row["query"]: row for row in results["api"]}
    assert "list: first page (by name)" in queries and "search: e-mail (exact)" in queries
    assert all(row["n"] == 3 and row["p95_ms"] >= row["p50_ms"] for row in queries.values())
    exact = queries["search: e-mail (exact)"]
    assert exact["rows_min"] == exact["rows_max"] == 1  # each looked-up contact is found
    assert results["machine"]["cores"] and results["options"]["reps"] == 3
    admin = create_engine(PG_ADMIN)
    try:
        with admin.connect() as conn:
            names = conn.execute(text("select datname from pg_database")).scalars().all()
    finally:
        admin.dispose()
    assert name not in names  # dropped without --keep
