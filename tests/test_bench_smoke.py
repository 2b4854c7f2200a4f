"""The contacts benchmark runs end to end at a tiny scale (so that it does not rot).

Only that it runs, prints its tables and writes its JSON: a benchmark's times are never
asserted (see bench/README.md for the figures at full scale).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_bench import run_bench


@pytest.mark.postgres
def test_contacts_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    args = [
        *("--contacts", "400", "--import-rows", "300", "--existing", "100"),
        *("--tenants", "2", "--other-contacts", "20", "--reps", "3"),
    ]
    stdout, results = run_bench("bench_contacts.py", args, tmp_path=tmp_path, redis_url=redis_url)
    for title in ("Import of 300 CSV rows", "API /api/v1/contacts", "p95 ms", "rows/s"):
        assert title in stdout, stdout

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


@pytest.mark.postgres
def test_load_benchmark_runs_at_a_tiny_scale(tmp_path: Path, redis_url: str) -> None:
    """gunicorn, wrk and the soak's memory sampling, on 3 tenants and a few hundred rows."""
    args = [
        *("--contacts", "200", "--tenants", "2", "--other-contacts", "20"),
        *("--other-accounts", "3", "--deals", "50", "--other-deals", "5", "--requests", "200"),
        *("--workers", "2", "--connections", "4", "--duration", "3", "--warmup", "1"),
        *("--soak", "5", "--soak-warmup", "1", "--sample-every", "1"),
    ]
    stdout, results = run_bench("bench_load.py", args, tmp_path=tmp_path, redis_url=redis_url)
    for title in ("Load on gunicorn (2 workers", "Worker memory", "req/s", "p99 ms"):
        assert title in stdout, stdout

    assert results["data"]["tenants"] == 3 and results["data"]["big_contacts"] == 200
    assert results["data"]["big_deals"] == 50
    runs = {row["mix"]: row for row in results["runs"]}
    assert set(runs) == {"read", "mixed", "read (soak)"}
    for row in runs.values():
        assert row["generator"] == "wrk" and row["requests"] > 0, row
        assert row["bad_status"] == {}, row  # every request answered 2xx (rate limits raised)
        assert row["p99_ms"] >= row["p50_ms"] > 0
    workers = results["memory"]
    assert len(workers) == 2 and all(w["samples"] >= 2 and w["last_mib"] > 0 for w in workers)
    assert results["server"] == {
        "workers": 2,
        "worker_class": "gthread",
        "threads": 2,
        "connections": 4,
        "generator": "wrk",
    }
