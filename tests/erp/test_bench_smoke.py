"""The ERP benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its tables and writes its JSON: a benchmark's times are never
asserted (see bench/README.md for the figures at full scale).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_bench import run_bench


@pytest.mark.postgres
def test_erp_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    args = ["--orders", "120", "--parties", "30", "--page", "50"]
    stdout, results = run_bench("bench_erp.py", args, tmp_path=tmp_path, redis_url=redis_url)
    for title in ("ERP sync of 120 orders and 30 parties", "first sync", "incremental sync"):
        assert title in stdout, stdout
    first = results["first_sync"]
    assert (first["status"], first["created"], first["failed"]) == ("succeeded", 150, 0)
    assert results["incremental_sync"]["created"] + results["incremental_sync"]["updated"] == 0
    reread = results["full_reread"]
    assert (reread["unchanged"], reread["created"], reread["updated"]) == (150, 0, 0)
    assert results["rows"] == {"accounts": 30, "orders": 120, "order_lines": 240, "erp_ledger": 150}
    assert results["machine"]["cores"] and results["targets"]["first_sync_s"] == 60
