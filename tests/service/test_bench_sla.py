"""The SLA benchmark runs end to end at a tiny scale (so that it does not rot). Only that it
runs, prints its table and writes its JSON: a benchmark's times are never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_bench import run_bench


@pytest.mark.postgres
def test_sla_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    args = ["--tickets", "2000", "--other-tenants", "1", "--other-tickets", "100", "--reps", "2"]
    stdout, results = run_bench("bench_sla.py", args, tmp_path=tmp_path, redis_url=redis_url)
    assert "SLA scan over" in stdout and "target ms" in stdout
    assert results["open_tickets"] == 2000
    first = results["first_scan"]
    # 0.5 % missed the first response, 0.5 % the resolution, 1 % passed a warning (running
    # tickets only: pending ones wait on the customer)
    assert first["response_breached"] > 0 and first["resolution_breached"] > 0
    assert first["warned"] > 0 and first["escalations"] > 0
    assert results["steady_scans"]["n"] == 2
