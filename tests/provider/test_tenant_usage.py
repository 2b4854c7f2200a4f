"""Per-tenant usage on the console's tenant page: web pages and API calls a day, counted by
every process through Redis (a process's counts are sent at least once a second)."""

from __future__ import annotations

import re
from typing import Any

from crm_platform import create_app
from crm_platform.extensions import db
from crm_platform.metrics import tenant_usage
from crm_platform.testing import login, make_api_key


def _stat(html: str, label: str) -> int:
    match = re.search(rf"<span>(\d+)</span>{re.escape(label)}", html)
    assert match, f"{label!r} not on the page"
    return int(match.group(1))


def test_console_shows_each_tenants_pages_and_api_calls(
    app: Any, app_config: dict[str, Any], admin: Any, world: dict
) -> None:
    alpha, bravo = world["alpha"], world["bravo"]
    # another web process, which holds its counts for up to a second unless asked for them
    other = create_app({**app_config, "METRICS_FLUSH_SECONDS": 3600})
    member = other.test_client()
    login(member, alpha.owner_email)
    for _ in range(3):
        assert member.get(f"/t/{alpha.slug}/accounts").status_code == 200
    api = {"Authorization": f"Bearer {make_api_key(other, alpha, alpha.owner_email)}"}
    for _ in range(5):
        assert member.get("/api/v1/contacts", headers=api).status_code == 200
    bravo_api = {"Authorization": f"Bearer {make_api_key(other, bravo, bravo.owner_email)}"}
    assert member.get("/api/v1/contacts", headers=bravo_api).status_code == 200

    page = admin.client.get(f"/provider/tenants/{alpha.id}").text
    assert _stat(page, "API calls today") == 0  # still in the other process
    with other.app_context():
        from crm_platform.metrics import flush

        flush()
        db.engine.dispose()

    page = admin.client.get(f"/provider/tenants/{alpha.id}").text
    assert _stat(page, "API calls today") == 5
    assert _stat(page, "Pages today") >= 3  # the sign-in's pages count too
    assert "Requests a day (UTC)" in page
    bravo_page = admin.client.get(f"/provider/tenants/{bravo.id}").text
    assert _stat(bravo_page, "API calls today") == 1
    assert _stat(bravo_page, "Pages today") == 0
    with app.app_context():
        days = tenant_usage(alpha.id, days=7)
    assert len(days) == 7 and days[-1][2] == 5 and sum(d[2] for d in days[:-1]) == 0
