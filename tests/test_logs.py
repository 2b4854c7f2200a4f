"""Logs: a request id on every request and response, and one structured line per record
with the request, tenant and user (``CRM_LOG_FORMAT=json``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from conftest import login

from crm_platform.logs import JsonFormatter


def test_every_response_carries_a_request_id(client: Any) -> None:
    first = client.get("/login").headers["X-Request-ID"]
    second = client.get("/login").headers["X-Request-ID"]
    assert first and second and first != second
    assert (
        client.get("/login", headers={"X-Request-ID": "edge-42.a"}).headers["X-Request-ID"]
        == "edge-42.a"
    )  # a proxy's id is kept ...
    for bad in ("x" * 65, "two words", "<script>"):
        forged = client.get("/login", headers={"X-Request-ID": bad})
        assert forged.headers["X-Request-ID"] != bad  # ... unless it is not a plain token


def test_a_request_logs_one_json_line_with_its_tenant_and_user(
    app: Any, client: Any, factory: Any, caplog: Any
) -> None:
    acme = factory.tenant("acme", owner_email="owner@acme.example")
    login(client, acme.owner_email)
    with caplog.at_level(logging.INFO, logger="crm.request"):
        response = client.get(f"/t/{acme.slug}/accounts")
    (record,) = [
        r for r in caplog.records if r.name == "crm.request" and r.path.endswith("/accounts")
    ]
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO" and line["status"] == 200 and line["method"] == "GET"
    assert line["path"] == f"/t/{acme.slug}/accounts" and line["duration_ms"] >= 0
    assert line["message"].startswith(f"GET /t/{acme.slug}/accounts 200 ")
    with app.app_context():
        from crm_platform.provisioning import find_user

        owner_id = str(find_user(acme.owner_email).id)
    assert record.crm_request_id == response.headers["X-Request-ID"] == line["request_id"]
    assert line["tenant_id"] == str(acme.id) and line["user_id"] == owner_id


def test_an_exception_is_one_json_object() -> None:
    try:
        raise ValueError("bad thing")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "crm", logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed: x" and "ValueError: bad thing" in line["exc_info"]
    assert "tenant_id" not in line  # no tenant outside a request or job
