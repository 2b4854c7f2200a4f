"""Each gunicorn worker's resident memory (``VmRSS`` of ``/proc/<pid>/status``) over a run.

:class:`RssSampler` samples in a thread every ``interval`` seconds while the load runs;
:func:`growth` compares each worker's memory at the end (and at its peak) with its memory
once the warm-up is over: a worker whose memory keeps growing under a steady load leaks.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def rss_kb(pid: int) -> int | None:
    """The resident set of process ``pid`` in KiB (``None`` once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """``with RssSampler(server.worker_pids, 5): ...load...`` then ``.samples``."""

    def __init__(self, pids: Callable[[], list[int]], interval: float = 5.0) -> None:
        self.pids = pids
        self.interval = interval
        #: pid -> [(seconds since start, KiB), ...]
        self.samples: dict[int, list[tuple[float, int]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start = 0.0

    def _sample(self) -> None:
        now = time.monotonic() - self.start
        for pid in self.pids():
            kb = rss_kb(pid)
            if kb is not None:
                self.samples.setdefault(pid, []).append((now, kb))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self.start = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)
        self._sample()


def growth(samples: dict[int, list[tuple[float, int]]], warmup: float) -> list[dict[str, Any]]:
    """Per worker: first, after warm-up, last and peak RSS (MiB) and growth % after warm-up.

    The baseline is the first sample taken at or after ``warmup`` seconds (a worker started
    later, e.g. a replaced one, has its own first sample as the baseline).
    """
    rows = []
    for pid, series in samples.items():
        if not series:
            continue
        after = [kb for t, kb in series if t >= warmup] or [series[-1][1]]
        base = after[0]
        last, peak = series[-1][1], max(after)
        rows.append(
            {
                "pid": pid,
                "samples": len(series),
                "first_mib": round(series[0][1] / 1024, 1),
                "warm_mib": round(base / 1024, 1),
                "last_mib": round(last / 1024, 1),
                "max_mib": round(peak / 1024, 1),
                "growth_pct": round((last - base) / base * 100, 1),
                "peak_growth_pct": round((peak - base) / base * 100, 1),
                "replaced": series[-1][0] < max(t for s in samples.values() for t, _kb in s),
            }
        )
    return rows


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by processes ``pids`` (those still there)."""
    clock = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / clock
    return total
