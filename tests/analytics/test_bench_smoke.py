"""The analytics benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its tables and writes its JSON: a benchmark's times are never
asserted (the figures at full scale are in docs/modules/analytics.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_bench import run_bench


@pytest.mark.postgres
def test_analytics_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    args = ["--small", "--deals", "600", "--reps", "2"]
    stdout, results = run_bench("bench_analytics.py", args, tmp_path=tmp_path, redis_url=redis_url)
    for title in ("Grouped reports over 600 deals", "p95 ms", "won sales by month"):
        assert title in stdout, stdout
    assert sum(results["deals"].values()) == 600
    reports = {row["report"]: row for row in results["reports"]}
    assert "funnel: deals by stage (count, sum)" in reports
    assert "builder page: won sales by month (whole stack)" in reports
    assert all(row["n"] == 2 and row["p95_ms"] >= row["p50_ms"] for row in reports.values())
    assert reports["won sales by account region (join)"]["rows"] == 8  # the 8 regions
    assert reports["funnel: deals by stage (count, sum)"]["rows"] >= 3
