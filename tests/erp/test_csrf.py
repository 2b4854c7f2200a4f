"""The ERP forms carry the CSRF token (the rest of the suite switches the check off)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import csrf_token_from

from .helpers import connection, drop, party


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": True}


def test_forms_post_with_their_token_and_fail_without(app: Any, acme: Any, owner: Any) -> None:
    page = owner.get("/t/acme/erp/new?connector=file").text
    data = {"connector": "file", "name": "Drops", "interval_minutes": "0", "enabled": "on"}
    assert owner.post("/t/acme/erp/new", data=data).status_code == 400
    made = owner.post("/t/acme/erp/new", data={**data, "csrf_token": csrf_token_from(page)})
    assert made.status_code == 302
    cid = connection(app, acme, name="Books")
    drop(app, acme, cid, [party("P1", "Acme Corp")])
    detail = owner.get(f"/t/acme/erp/{cid}").text
    assert owner.post(f"/t/acme/erp/{cid}/sync").status_code == 400
    queued = owner.post(f"/t/acme/erp/{cid}/sync", data={"csrf_token": csrf_token_from(detail)})
    assert queued.status_code == 302
    mapping = owner.get(f"/t/acme/erp/{cid}/mapping").text
    saved = owner.post(
        f"/t/acme/erp/{cid}/mapping/party",
        data={
            "csrf_token": csrf_token_from(mapping),
            "direction": "in",
            "enabled": "on",
            "external": ["name"],
            "crm": ["name"],
            "policy": ["erp_wins"],
        },
    )
    assert saved.status_code == 302
