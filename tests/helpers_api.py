"""Helpers of the API tests: keys issued through the real service, authorised requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_platform.tenancy import provider_scope, tenant_tables
from crm_platform.testing import make_api_key


def make_key(app: Any, tenant: Any, email: str, scope: str = "read_write", name: str = "k") -> str:
    """Issue a key of ``tenant`` created by the user ``email``; returns the full key."""
    return make_api_key(app, tenant, email, scope, name)


def auth(token: str) -> dict[str, str]:
    """The header of a key."""
    return {"Authorization": f"Bearer {token}"}


def call(client: Any, method: str, url: str, token: str | None, body: Any = None) -> Any:
    """One API request with ``token`` (or none) and an optional JSON body."""
    headers = auth(token) if token else {}
    if body is None:
        return client.open(url, method=method, headers=headers)
    return client.open(url, method=method, headers=headers, json=body)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an API error of ``status`` (and ``code``) in the one shape."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def snapshot(app: Any, tenant: Any) -> dict[str, list[tuple]]:
    """Every row of ``tenant`` in every tenant table (read through the provider scope)."""
    with app.app_context(), provider_scope("test snapshot", "tests") as session:
        out = {}
        for table in sorted(tenant_tables(), key=lambda t: t.name):
            stmt = select(table).where(table.c.tenant_id == tenant.id)
            rows = session.execute(stmt.order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
        return out
