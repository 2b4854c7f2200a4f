"""Every ``/provider/`` URL rule, walked as a visitor, a tenant owner, support and admin staff.

The rules come from ``app.url_map``, so a console page added by the core or a plugin (the
test plugin's ``/provider/test-plans/`` here, billing's pages in the product) is covered
without editing this file. Non-staff get 404 and never a sign of the console.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import login

from .conftest import make_staff

UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # Reach the views' own access checks, not the CSRF guard in front of them.
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


def _rules(app: Any) -> list[Any]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/provider")),
        key=lambda r: r.rule,
    )


def _calls(app: Any, world: dict[str, Any]) -> list[tuple[str, str, Any]]:
    values = {"tenant_id": str(world["alpha"].id), "module_key": "hello", "job_id": "no-such-job"}
    calls = []
    with app.test_request_context():
        for rule in _rules(app):
            # Arguments of plugins' pages (a plan id, an event id ...) get an id of nothing.
            args = {a: values.get(a, UNKNOWN_ID) for a in rule.arguments}
            url = app.url_for(rule.endpoint, **args)
            for method in sorted(m for m in rule.methods if m in {"GET", "POST"}):
                calls.append((method, url, rule))
    return calls


def _role(app: Any, rule: Any) -> str:
    return getattr(app.view_functions[rule.endpoint], "crm_staff_role", "none")


def test_the_console_rules_are_found(app: Any) -> None:
    endpoints = {r.endpoint for r in _rules(app)}
    assert {
        "provider.dashboard",
        "provider.tenants",
        "provider.tenant",
        "provider.suspend",
        "provider.impersonate",
        "provider.plugins",
        "provider.failed_jobs",
        "console_test.plans",
    } <= endpoints


def test_every_console_view_requires_staff(app: Any) -> None:
    missing = [r.endpoint for r in _rules(app) if _role(app, r) == "none"]
    assert missing == []


def test_visitors_and_tenant_members_get_404(app: Any, client: Any, world: dict) -> None:
    calls = _calls(app, world)
    for who in (None, "owner@alpha.example", "rep@alpha.example"):
        if who:
            login(client, who)
        for method, url, _rule in calls:
            response = client.open(url, method=method, data={"reason": "x", "member": "x"})
            assert response.status_code == 404, f"{who} {method} {url}"
            assert "Provider console" not in response.text, f"{who} {method} {url}"
        client.post("/logout")


def test_staff_reach_every_page_and_only_admins_act(app: Any, factory: Any, world: dict) -> None:
    support = make_staff(app, factory, "support@provider.example", "support")
    admin = make_staff(app, factory, "admin@provider.example", "admin")
    for method, url, rule in _calls(app, world):
        what = f"{method} {url}"
        role = _role(app, rule)
        for staff in (support, admin):
            response = staff.client.open(url, method=method, data={})
            assert response.status_code != 500, what
            if role == "admin" and staff is support:
                assert response.status_code == 403, what
            elif "no-such-job" in url:
                assert response.status_code == 404, what  # not a failed job of this queue
            elif UNKNOWN_ID in url:
                assert response.status_code in (302, 303, 400, 404), what  # nothing there
            elif method == "GET":
                assert response.status_code == 200, f"{staff.email} {what}"
                assert "Provider console" in response.text, what
            else:
                assert response.status_code in (200, 302, 303, 400), what


def test_staff_role_removed_means_404(app: Any, factory: Any, world: dict) -> None:
    from crm_platform.extensions import db
    from crm_platform.provider.staff import revoke_staff
    from crm_platform.provisioning import find_user

    support = make_staff(app, factory, "support@provider.example", "support")
    assert support.client.get("/provider/").status_code == 200
    with app.app_context():
        revoke_staff(find_user(support.email))
        db.session.commit()
    assert support.client.get("/provider/").status_code == 404
    assert support.client.get("/provider/tenants").status_code == 404
