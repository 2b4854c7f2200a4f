"""The sales benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its table and writes its JSON: a benchmark's times are never
asserted (see bench/README.md for the figures at full scale).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_bench import run_bench


@pytest.mark.postgres
def test_sales_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    args = ["--open", "120", "--closed", "300", "--reps", "2"]
    stdout, results = run_bench("bench_sfa.py", args, tmp_path=tmp_path, redis_url=redis_url)
    for title in ("Sales pages: 120 open", "p95 ms", "board: owner", "forecast: owner"):
        assert title in stdout, stdout

    assert results["deals"]["open"] == 120
    assert results["deals"]["won"] + results["deals"]["lost"] == 300
    pages = {row["page"]: row for row in results["pages"]}
    assert "board: owner, every deal" in pages and "forecast: owner, quarter" in pages
    assert all(row["n"] == 2 and row["p95_ms"] >= row["p50_ms"] for row in pages.values())
    assert pages["board: owner, every deal"]["cards"] > 0  # the board shows its cards
    # the rep under the territory rule sees fewer deals than the owner who sees every deal
    # (the board's column counts: each column draws only its first cards)
    assert pages["board: rep, territory rule"]["deals"] < pages["board: owner, every deal"]["deals"]
