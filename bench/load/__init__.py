"""The pieces of ``bench/bench_load.py``: a gunicorn server of the benchmark database, two
load generators (``wrk`` with a generated Lua script, and a slower pure-Python fallback) and a
sampler of the workers' memory.

* :mod:`load.server`: start gunicorn on a free loopback port, wait for ``/readyz``, find its
  workers, stop it (always).
* :mod:`load.wrk`: run ``wrk`` over a request list (random choice per request) and read its
  JSON summary (requests, req/s, p50/p95/p99, errors by status).
* :mod:`load.pygen`: the same with Python threads and keep-alive connections.
* :mod:`load.memory`: each worker's resident memory (``VmRSS``) sampled over a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One request of a mix: ``{n}`` in ``body`` becomes a number unique within the run."""

    kind: str
    method: str
    path: str
    token: str
    body: str = ""


@dataclass
class RunResult:
    """What one bounded run of a generator did (latencies in milliseconds)."""

    seconds: float
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    #: Responses by status code, for status >= 400.
    bad_status: dict[str, int] = field(default_factory=dict)
    #: connect / read / write / timeout errors (no response at all).
    socket_errors: dict[str, int] = field(default_factory=dict)
    generator: str = "wrk"

    @property
    def rps(self) -> float:
        """Requests a second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Every request that did not end in a 2xx or 3xx answer."""
        return sum(self.bad_status.values()) + sum(self.socket_errors.values())

    def as_dict(self) -> dict[str, Any]:
        """For the JSON results."""
        return {
            "generator": self.generator,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
            "bad_status": self.bad_status,
            "socket_errors": self.socket_errors,
            "errors": self.errors,
        }
