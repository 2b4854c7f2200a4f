"""What tests/test_cross_tenant_routes.py asks of every tenant rule, checked for the portal's
own rules (with the app-wide CSRF guard off, as there, so the views' own checks answer; the
portal's own CSRF check stays on)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .helpers import owner_client
from .test_isolation import _url


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


def test_portal_rules_keep_the_platform_route_contract(app: Any, shop: Any, rival: Any) -> None:
    """What tests/test_cross_tenant_routes.py asks of every tenant rule, for the portal's
    rules: signed out, public pages answer 200/400/404 and staff pages send to /login; a
    member with ids that are not theirs gets 400/403/404."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("portal")]
    visitor, staff = app.test_client(), owner_client(app, shop)
    for rule in rules:
        public = getattr(app.view_functions[rule.endpoint], "crm_public", False)
        values = {a: str(uuid.uuid4()) for a in rule.arguments - {"tenant_slug"}}
        url = _url(rule, "shop", values).replace("<token>", "x").replace("<action>", "disable")
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = visitor.open(url, method=method, data={"name": "X"})
            if public:
                assert response.status_code in (200, 400, 404), f"{method} {url}"
            else:
                assert response.status_code == 302 and "/login" in response.location, url
            if rule.arguments - {"tenant_slug"}:
                answer = staff.open(url, method=method, data={"role": "owner"})
                assert answer.status_code in (400, 403, 404), f"staff {method} {url}"
