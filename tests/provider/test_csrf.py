"""Console actions need the CSRF token like every other form (CSRF stays on here)."""

from __future__ import annotations

from typing import Any

from .helpers import post_form, staff_actions


def test_actions_without_the_token_are_refused(app: Any, admin: Any, world: dict) -> None:
    alpha = world["alpha"]
    for url, data in (
        (f"/provider/tenants/{alpha.id}/suspend", {"status-reason": "late payment"}),
        (f"/provider/tenants/{alpha.id}/impersonate", {"impersonate-reason": "ticket 1"}),
        ("/provider/plugins/hello/hide", {}),
        ("/provider/impersonation/end", {}),
    ):
        assert admin.client.post(url, data=data).status_code == 400, url
    assert [a.action for a in staff_actions(app)] == ["staff.added"]  # the admin's, nothing else


def test_the_same_action_with_the_token_works(app: Any, admin: Any, world: dict) -> None:
    alpha = world["alpha"]
    page = f"/provider/tenants/{alpha.id}"
    response = post_form(
        admin.client,
        page,
        f"/provider/tenants/{alpha.id}/suspend",
        {"status-reason": "late payment"},
        prefix="status",
    )
    assert response.status_code == 302
    assert [a.reason for a in staff_actions(app, "tenant.suspended")] == ["late payment"]
