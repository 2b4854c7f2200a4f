"""Prometheus metrics at ``/metrics``: requests, latency, jobs and webhooks.

The web and worker processes of a deployment are many, so the counters live in Redis and
every process serves the same totals. A process adds up its requests in memory and sends
them in one pipelined round trip at most every ``METRICS_FLUSH_SECONDS`` (default 1; 0
sends each request's at once), and before it serves ``/metrics``; Redis being away never
fails a request (the counts of that moment are lost):

* ``crm_http_requests_total{method,status}`` and the latency histogram
  ``crm_http_request_duration_seconds`` (static files and ``/metrics`` itself left out);
* ``crm_jobs_queued`` and ``crm_jobs_failed`` (the RQ queue and its failed-job registry);
* ``crm_webhook_deliveries_failed_total`` (deliveries that gave up).

Requests are also counted per tenant and day, web pages and API calls apart
(:func:`tenant_usage`), for the provider console; a day's counts are kept 40 days.

Scrapers send ``Authorization: Bearer <CRM_METRICS_TOKEN>``; with no token configured only
loopback addresses may read the page (404 for anyone else).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request

from .redis_conn import get_redis
from .tenancy import current_tenant

log = logging.getLogger(__name__)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
bp = Blueprint("metrics", __name__)


def _key(name: str, app: Flask | None = None) -> str:
    prefix = (app or current_app).config.get("METRICS_PREFIX") or "crm:metrics"
    return f"{prefix}:{name}"


def count(name: str, amount: int = 1) -> None:
    """Add ``amount`` to the counter ``name`` (best effort: never raises)."""
    try:
        get_redis().hincrby(_key("counters"), name, amount)
    except Exception:  # Redis away: the metric is lost, the work is not
        log.debug("metrics: could not count %s", name, exc_info=True)


USAGE_DAYS_KEPT = 40


@dataclass
class _Pending:
    """Counts this process has not sent to Redis yet."""

    requests: Counter[str] = field(default_factory=Counter)
    latency: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    usage: Counter[tuple[str, str]] = field(default_factory=Counter)  # (day, field)
    since: float = field(default_factory=time.monotonic)


_lock = threading.Lock()


def _pending(app: Flask) -> _Pending:
    return app.extensions.setdefault("crm_metrics_pending", _Pending())


def _usage_key(day: str, app: Flask | None = None) -> str:
    return _key(f"usage:{day}", app)


def _observe(method: str, status: int, seconds: float, usage: str | None) -> None:
    """Add one request to this process's counts; send them when they are old enough."""
    app = current_app._get_current_object()
    bucket = next((str(b) for b in BUCKETS if seconds <= b), "+Inf")
    with _lock:
        pending = _pending(app)
        pending.requests[f"{method}|{status}"] += 1
        pending.latency[bucket] += 1
        pending.seconds += seconds
        if usage is not None:
            pending.usage[(datetime.now(UTC).date().isoformat(), usage)] += 1
        due = time.monotonic() - pending.since >= app.config.get("METRICS_FLUSH_SECONDS", 1.0)
    if due:
        flush(app)


def flush(app: Flask | None = None) -> None:
    """Send this process's pending counts to Redis (best effort: never raises)."""
    app = app or current_app._get_current_object()
    with _lock:
        pending = app.extensions.pop("crm_metrics_pending", None)
    if pending is None or not pending.requests:
        return
    try:
        pipe = get_redis(app).pipeline(transaction=False)
        for name, amount in pending.requests.items():
            pipe.hincrby(_key("requests", app), name, amount)
        for bucket, amount in pending.latency.items():
            pipe.hincrby(_key("latency", app), bucket, amount)
        pipe.hincrbyfloat(_key("latency", app), "sum", pending.seconds)
        for (day, name), amount in pending.usage.items():
            pipe.hincrby(_usage_key(day, app), name, amount)
            pipe.expire(_usage_key(day, app), USAGE_DAYS_KEPT * 86400)
        pipe.execute()
    except Exception:
        log.debug(
            "metrics: could not send the counts of %d requests",
            sum(pending.latency.values()),
            exc_info=True,
        )


def tenant_usage(tenant_id: Any, days: int = 30) -> list[tuple[date, int, int]]:
    """``(day, web pages, API calls)`` of ``tenant_id`` for the last ``days`` days, oldest
    first (this process's unsent counts included)."""
    flush()
    today = datetime.now(UTC).date()
    span = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    fields = [f"{tenant_id}|web", f"{tenant_id}|api"]
    try:
        pipe = get_redis().pipeline(transaction=False)
        for day in span:
            pipe.hmget(_usage_key(day.isoformat()), fields)
        answers = pipe.execute()
    except Exception:
        log.debug("metrics: no usage counts", exc_info=True)
        answers = [[None, None]] * len(span)
    return [
        (day, int(web or 0), int(api or 0)) for day, (web, api) in zip(span, answers, strict=True)
    ]


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), str(token).encode())
    return request.remote_addr in ("127.0.0.1", "::1")


def _lines() -> Iterable[str]:
    flush()
    redis = get_redis()
    requests = redis.hgetall(_key("requests"))
    latency = {k.decode(): v.decode() for k, v in redis.hgetall(_key("latency")).items()}
    counters = {k.decode(): int(v) for k, v in redis.hgetall(_key("counters")).items()}
    yield "# HELP crm_http_requests_total HTTP requests served."
    yield "# TYPE crm_http_requests_total counter"
    for name, value in sorted(requests.items()):
        method, _sep, status = name.decode().partition("|")
        yield f'crm_http_requests_total{{method="{method}",status="{status}"}} {int(value)}'
    yield "# HELP crm_http_request_duration_seconds Time to serve a request."
    yield "# TYPE crm_http_request_duration_seconds histogram"
    total = 0
    for bound in (*(str(b) for b in BUCKETS), "+Inf"):
        total += int(latency.get(bound, 0))
        yield f'crm_http_request_duration_seconds_bucket{{le="{bound}"}} {total}'
    yield f"crm_http_request_duration_seconds_sum {float(latency.get('sum', 0.0))}"
    yield f"crm_http_request_duration_seconds_count {total}"
    from .jobs import get_queue

    queue = get_queue()
    yield "# HELP crm_jobs_queued Jobs waiting in the queue."
    yield "# TYPE crm_jobs_queued gauge"
    yield f"crm_jobs_queued {queue.count}"
    yield "# HELP crm_jobs_failed Jobs in the failed-job registry."
    yield "# TYPE crm_jobs_failed gauge"
    yield f"crm_jobs_failed {queue.failed_job_registry.count}"
    yield "# HELP crm_webhook_deliveries_failed_total Webhook deliveries that gave up."
    yield "# TYPE crm_webhook_deliveries_failed_total counter"
    yield f"crm_webhook_deliveries_failed_total {counters.get('webhook_failures', 0)}"


@bp.get("/metrics")
def metrics() -> Response:
    """The metrics in Prometheus' text format (see the module docstring for who may read)."""
    if not _allowed():
        abort(404)
    body = "\n".join(_lines()) + "\n"
    return Response(body, mimetype="text/plain; version=0.0.4")


def init_app(app: Flask) -> None:
    """Count every request and serve ``/metrics``."""
    app.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is None or request.endpoint in ("static", "metrics.metrics"):
            return response
        tenant = current_tenant()  # the context's id: the ORM row may be expired (outage)
        usage = None
        if tenant is not None:
            usage = f"{tenant.id}|{'api' if request.path.startswith('/api/') else 'web'}"
        _observe(request.method, response.status_code, time.perf_counter() - started, usage)
        return response
