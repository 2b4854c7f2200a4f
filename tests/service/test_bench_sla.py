"""The SLA benchmark runs end to end at a tiny scale (so that it does not rot). Only that it
runs, prints its table and writes its JSON: a benchmark's times are never asserted."""

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

from crm_platform.testing import PG_HOST, PG_PORT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_sla_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    name = f"crm_bench_sla_smoke_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    args = [
        "--tickets",
        "2000",
        "--other-tenants",
        "1",
        "--other-tickets",
        "100",
        "--reps",
        "2",
        "--db",
        name,
        "--results",
        str(tmp_path),
        "--name",
        "smoke",
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
        [sys.executable, str(ROOT / "bench" / "bench_sla.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SLA scan over" in done.stdout and "target ms" in done.stdout
    results: dict[str, Any] = json.loads((tmp_path / "smoke.json").read_text())
    assert results["open_tickets"] == 2000
    first = results["first_scan"]
    # 0.5 % missed the first response, 0.5 % the resolution, 1 % passed a warning (running
    # tickets only: pending ones wait on the customer)
    assert first["response_breached"] > 0 and first["resolution_breached"] > 0
    assert first["warned"] > 0 and first["escalations"] > 0
    assert results["steady_scans"]["n"] == 2
