"""The marketing benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its tables and writes its JSON: a benchmark's times are never
asserted (see docs/modules/marketing.md for the figures at full scale).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_bench import run_bench


@pytest.mark.postgres
def test_marketing_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    args = ["--contacts", "300", "--send", "40", "--reps", "2", "--chunk", "10"]
    stdout, results = run_bench(
        "bench_marketing.py", args, tmp_path=tmp_path, redis_url=redis_url, timeout=900
    )
    for title in ("Segment counts over 300 contacts", "Campaign send", "messages/s"):
        assert title in stdout, stdout
    counts = {row["segment"]: row for row in results["segment_counts"]}
    assert counts["stage is customer"]["contacts"] == 60  # one contact in five
    assert all(row["n"] == 2 for row in counts.values())
    send = results["send"]
    assert send["status"] == "sent" and send["sent"] == send["recipients"] >= 40
    assert results["scores"]["customers"] > 0 and results["machine"]["cores"]
