"""``/metrics``: Prometheus counters of requests, latency, jobs and failed webhooks, shared
by every process through Redis, readable with the scraper's token or from loopback only."""

from __future__ import annotations

import re
from typing import Any


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.M)
    assert match, f"{series} not in:\n{text}"
    return float(match.group(1))


def test_requests_and_latency_are_counted(client: Any) -> None:
    before = client.get("/metrics").text
    for _ in range(3):
        client.get("/login")
    client.get("/no-such-page")
    after = client.get("/metrics")
    assert after.status_code == 200 and after.mimetype == "text/plain"
    text = after.text
    ok = 'crm_http_requests_total{method="GET",status="200"}'
    assert _value(text, ok) - (_value(before, ok) if ok in before else 0) == 3
    assert _value(text, 'crm_http_requests_total{method="GET",status="404"}') == 1
    count = _value(text, "crm_http_request_duration_seconds_count")
    assert count == 4 + (_value(before, "crm_http_request_duration_seconds_count"))
    assert _value(text, 'crm_http_request_duration_seconds_bucket{le="+Inf"}') == count
    assert _value(text, "crm_jobs_queued") >= 0 and _value(text, "crm_jobs_failed") >= 0
    assert _value(text, "crm_webhook_deliveries_failed_total") == 0


def test_only_the_scraper_or_loopback_may_read(app: Any, client: Any) -> None:
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    app.config["METRICS_TOKEN"] = "s3cret-scrape"
    assert client.get("/metrics").status_code == 404  # a token is needed, even on loopback
    headers = {"Authorization": "Bearer s3cret-scrape"}
    assert client.get("/metrics", headers=headers, environ_base=remote).status_code == 200
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong, environ_base=remote).status_code == 404


def test_counting_never_fails_a_request_when_redis_is_away(app: Any) -> None:
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("crm_redis", None)
    assert app.test_client().get("/login").status_code == 200
