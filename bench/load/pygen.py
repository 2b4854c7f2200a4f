"""A load generator in Python, for when ``wrk`` is not installed (``--generator python``).

Each of ``connections`` threads keeps one HTTP/1.1 keep-alive connection and sends requests
picked at random from the list until the time is up, timing each one. It is much less
efficient than wrk: on a small machine it takes CPU the server would use, so its req/s are a
floor, not the server's capacity.
"""

from __future__ import annotations

import http.client
import itertools
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit

from . import Request, RunResult


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def run_python(
    url: str,
    requests: Sequence[Request],
    *,
    duration: float,
    connections: int,
    tag: str,
    timeout_s: float = 5.0,
) -> RunResult:
    """Send ``requests`` (random picks) over ``connections`` connections for ``duration`` s."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    numbers = itertools.count(1)
    lock = threading.Lock()
    latencies: list[float] = []
    bad: Counter[str] = Counter()
    socket_errors: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + duration

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[float] = []
        my_bad: Counter[str] = Counter()
        my_errors: Counter[str] = Counter()
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        while time.perf_counter() < deadline:
            r = rng.choice(requests)
            body = r.body.replace("{n}", f"{tag}p{next(numbers)}") if r.body else None
            headers = {"Authorization": f"Bearer {r.token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            sent = time.perf_counter()
            try:
                conn.request(r.method, r.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except TimeoutError:
                my_errors["timeout"] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                continue
            except (OSError, http.client.HTTPException):
                my_errors["read"] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                continue
            mine.append((time.perf_counter() - sent) * 1000)
            if response.status >= 400:
                my_bad[str(response.status)] += 1
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        conn.close()
        with lock:
            latencies.extend(mine)
            bad.update(my_bad)
            socket_errors.update(my_errors)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + timeout_s + 30)
    seconds = time.perf_counter() - start
    ordered = sorted(latencies)
    return RunResult(
        seconds=seconds,
        requests=len(ordered) + sum(socket_errors.values()),
        p50_ms=_percentile(ordered, 50),
        p95_ms=_percentile(ordered, 95),
        p99_ms=_percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else math.nan,
        mean_ms=sum(ordered) / len(ordered) if ordered else math.nan,
        bad_status=dict(bad),
        socket_errors=dict(socket_errors),
        generator="python",
    )
