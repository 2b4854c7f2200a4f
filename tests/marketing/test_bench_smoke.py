"""The marketing benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its tables and writes its JSON: a benchmark's times are never
asserted (see docs/modules/marketing.md for the figures at full scale).
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

from crm_platform.testing import PG_HOST, PG_PORT

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.postgres
def test_marketing_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    name = f"crm_bench_mkt_smoke_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    args = [
        "--contacts",
        "300",
        "--send",
        "40",
        "--reps",
        "2",
        "--chunk",
        "10",
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
        [sys.executable, str(ROOT / "bench" / "bench_marketing.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for title in ("Segment counts over 300 contacts", "Campaign send", "messages/s"):
        assert title in done.stdout, done.stdout
    results: dict[str, Any] = json.loads((tmp_path / "smoke.json").read_text())
    counts = {row["segment"]: row for row in results["segment_counts"]}
    assert counts["stage is customer"]["contacts"] == 60  # one contact in five
    assert all(row["n"] == 2 for row in counts.values())
    send = results["send"]
    assert send["status"] == "sent" and send["sent"] == send["recipients"] >= 40
    assert results["scores"]["customers"] > 0 and results["machine"]["cores"]
