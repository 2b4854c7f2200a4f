"""Prometheus metrics at ``/metrics``: requests, latency, jobs and webhooks.

The web and worker processes of a deployment are many, so the counters live in Redis (one
pipelined round trip per request, never failing a request when Redis is away) and every
process serves the same totals:

* ``crm_http_requests_total{method,status}`` and the latency histogram
  ``crm_http_request_duration_seconds`` (static files and ``/metrics`` itself left out);
* ``crm_jobs_queued`` and ``crm_jobs_failed`` (the RQ queue and its failed-job registry);
* ``crm_webhook_deliveries_failed_total`` (deliveries that gave up).

Scrapers send ``Authorization: Bearer <CRM_METRICS_TOKEN>``; with no token configured only
loopback addresses may read the page (404 for anyone else).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, abort, current_app, g, request

from .redis_conn import get_redis

log = logging.getLogger(__name__)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
bp = Blueprint("metrics", __name__)


def _key(name: str) -> str:
    prefix = current_app.config.get("METRICS_PREFIX") or "crm:metrics"
    return f"{prefix}:{name}"


def count(name: str, amount: int = 1) -> None:
    """Add ``amount`` to the counter ``name`` (best effort: never raises)."""
    try:
        get_redis().hincrby(_key("counters"), name, amount)
    except Exception:  # Redis away: the metric is lost, the work is not
        log.debug("metrics: could not count %s", name, exc_info=True)


def _observe(method: str, status: int, seconds: float) -> None:
    bucket = next((str(b) for b in BUCKETS if seconds <= b), "+Inf")
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.hincrby(_key("requests"), f"{method}|{status}", 1)
        pipe.hincrby(_key("latency"), bucket, 1)
        pipe.hincrbyfloat(_key("latency"), "sum", seconds)
        pipe.execute()
    except Exception:
        log.debug("metrics: could not record a request", exc_info=True)


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), str(token).encode())
    return request.remote_addr in ("127.0.0.1", "::1")


def _lines() -> Iterable[str]:
    redis = get_redis()
    requests = redis.hgetall(_key("requests"))
    latency = {k.decode(): v.decode() for k, v in redis.hgetall(_key("latency")).items()}
    counters = {k.decode(): int(v) for k, v in redis.hgetall(_key("counters")).items()}
    yield "# HELP crm_http_requests_total HTTP requests served."
    yield "# TYPE crm_http_requests_total counter"
    for field, value in sorted(requests.items()):
        method, _sep, status = field.decode().partition("|")
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
        _observe(request.method, response.status_code, time.perf_counter() - started)
        return response
