"""Impersonation: reason required, audited at start and end, a banner on every page,
time-limited (checked on every request), read-only by default, and bound to one tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from crm_platform.extensions import db
from crm_platform.provider.models import Impersonation
from crm_platform.tenancy import utcnow

from .helpers import post_form, staff_actions, tenant_audit


def _user_id(app: Any, email: str) -> str:
    from crm_platform.provisioning import find_user

    with app.app_context():
        return str(find_user(email).id)


def start(staff: Any, app: Any, tenant: Any, email: str, **fields: Any) -> Any:
    """Start impersonating ``email`` in ``tenant`` through the console's form."""
    data = {
        "impersonate-member": _user_id(app, email),
        "impersonate-reason": "ticket 42: cannot see their contacts",
        "impersonate-read_only": "y",
        **fields,
    }
    data = {k: v for k, v in data.items() if v is not None}
    page = f"/provider/tenants/{tenant.id}"
    return post_form(
        staff.client, page, f"/provider/tenants/{tenant.id}/impersonate", data, "impersonate"
    )


def _rows(app: Any) -> list[Impersonation]:
    with app.app_context():
        rows = list(db.session.scalars(select(Impersonation).order_by(Impersonation.started_at)))
        db.session.expunge_all()
        return rows


def test_a_reason_is_required(app: Any, support: Any, world: dict) -> None:
    response = start(
        support, app, world["alpha"], "rep@alpha.example", **{"impersonate-reason": "  "}
    )
    assert response.status_code == 302
    assert _rows(app) == []
    page = support.client.get(response.headers["Location"]).text
    assert "This field is required." in page or "Say why" in page
    assert support.client.get("/t/alpha/").status_code == 404  # nothing started


def test_start_is_audited_and_the_staff_member_sees_the_workspace_as_the_member(
    app: Any, support: Any, world: dict
) -> None:
    response = start(support, app, world["alpha"], "rep@alpha.example")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/t/alpha/")
    [row] = _rows(app)
    assert row.read_only and row.ended_at is None and row.member_email == "rep@alpha.example"
    assert row.reason == "ticket 42: cannot see their contacts"
    assert row.expires_at - row.started_at == timedelta(minutes=30)

    [action] = staff_actions(app, "impersonation.started")
    assert action.staff_email == "support@provider.example"
    assert action.target == "rep@alpha.example" and action.target_tenant_id == world["alpha"].id
    assert action.reason == "ticket 42: cannot see their contacts"
    [(_, label, details)] = tenant_audit(app, world["alpha"], "provider.impersonation.started")
    assert label == "support@provider.example (provider)"
    assert details["reason"] == "ticket 42: cannot see their contacts"

    home = support.client.get("/t/alpha/")
    assert home.status_code == 200
    assert "Alpha Traders" in home.text
    assert 'class="impersonation-banner"' in home.text
    assert "You act as rep@alpha.example in Alpha Traders" in home.text
    assert "End impersonation" in home.text
    assert "Rep" in home.text  # the user menu shows the member acted as
    # The banner is on every page, the console's included.
    assert "End impersonation" in support.client.get("/t/alpha/contacts").text
    assert "End impersonation" in support.client.get("/provider/").text


def test_read_only_refuses_every_write(app: Any, support: Any, world: dict) -> None:
    start(support, app, world["alpha"], "rep@alpha.example")
    page = support.client.get("/t/alpha/accounts/new")
    assert page.status_code == 200
    from conftest import csrf_token_from

    response = support.client.post(
        "/t/alpha/accounts/new",
        data={"name": "Not written", "csrf_token": csrf_token_from(page.text)},
    )
    assert response.status_code == 403
    assert "Nothing was changed" in response.text
    from crm_platform.customers import Account
    from crm_platform.tenancy import provider_scope

    with app.app_context(), provider_scope("test", "tests") as session:
        assert session.scalars(select(Account.name)).all() == []


def test_support_may_not_ask_for_write_access(app: Any, support: Any, world: dict) -> None:
    response = start(
        support, app, world["alpha"], "rep@alpha.example", **{"impersonate-read_only": None}
    )
    assert response.status_code == 302
    assert _rows(app) == []
    assert (
        "Only admins may act with write access"
        in support.client.get(response.headers["Location"]).text
    )


def test_an_admin_may_act_and_the_audit_log_names_the_staff_member(
    app: Any, admin: Any, world: dict
) -> None:
    from conftest import csrf_token_from

    start(admin, app, world["alpha"], "owner@alpha.example", **{"impersonate-read_only": None})
    [row] = _rows(app)
    assert not row.read_only
    page = admin.client.get("/t/alpha/settings")
    assert page.status_code == 200
    response = admin.client.post(
        "/t/alpha/settings",
        data={
            "name": "Alpha Traders Ltd",
            "industry": "generic",
            "locale": "en",
            "timezone": "UTC",
            "csrf_token": csrf_token_from(page.text),
        },
    )
    assert response.status_code in (200, 302)
    [(_, label, details)] = tenant_audit(app, world["alpha"], "settings.changed")
    assert label == "admin@provider.example (provider, as owner@alpha.example)"
    assert details["impersonation"] == str(row.id)


def test_it_cannot_reach_another_tenant(app: Any, factory: Any, support: Any, world: dict) -> None:
    # The member acted as also belongs to bravo: the impersonation still opens only alpha.
    factory.member(world["bravo"], "rep@alpha.example", "admin")
    start(support, app, world["alpha"], "rep@alpha.example")
    assert support.client.get("/t/alpha/").status_code == 200
    for url in ("/t/bravo/", "/t/bravo/contacts", "/t/bravo/settings/modules"):
        assert support.client.get(url).status_code == 404, url
    workspaces = support.client.get("/t/alpha/").text
    assert "Bravo Foods" not in workspaces  # the switcher offers the impersonated tenant only


def test_it_ends_when_it_expires_checked_on_the_next_request(
    app: Any, support: Any, world: dict
) -> None:
    start(support, app, world["alpha"], "rep@alpha.example")
    assert support.client.get("/t/alpha/").status_code == 200
    with app.app_context():
        db.session.execute(update(Impersonation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = support.client.get("/t/alpha/")
    assert response.status_code == 404  # back to being the staff member: not a member of alpha
    [row] = _rows(app)
    assert row.ended_at is not None and row.end_reason == "expired"
    [ended] = staff_actions(app, "impersonation.ended")
    assert ended.details["end_reason"] == "expired"
    [(_, _, details)] = tenant_audit(app, world["alpha"], "provider.impersonation.ended")
    assert details["end_reason"] == "expired"
    console = support.client.get("/provider/")
    assert "End impersonation" not in console.text


def test_expiry_is_checked_on_console_pages_too(app: Any, support: Any, world: dict) -> None:
    start(support, app, world["alpha"], "rep@alpha.example")
    with app.app_context():
        db.session.execute(update(Impersonation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    page = support.client.get("/provider/tenants")
    assert "End impersonation" not in page.text
    assert "its time ran out" in page.text
    assert _rows(app)[0].end_reason == "expired"


def test_end_impersonation_button(app: Any, support: Any, world: dict) -> None:
    start(support, app, world["alpha"], "rep@alpha.example")
    response = post_form(support.client, "/t/alpha/", "/provider/impersonation/end", {})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/provider/tenants/{world['alpha'].id}")
    assert _rows(app)[0].end_reason == "ended"
    assert support.client.get("/t/alpha/").status_code == 404
    assert [a.action for a in staff_actions(app) if a.action.startswith("impersonation")] == [
        "impersonation.started",
        "impersonation.ended",
    ]


def test_signing_out_ends_it(app: Any, support: Any, world: dict) -> None:
    start(support, app, world["alpha"], "rep@alpha.example")
    post_form(support.client, "/provider/", "/logout", {})
    assert _rows(app)[0].end_reason == "signed_out"


def test_a_new_impersonation_replaces_the_old_one(app: Any, support: Any, world: dict) -> None:
    start(support, app, world["alpha"], "rep@alpha.example")
    start(support, app, world["bravo"], "owner@bravo.example")
    first, second = _rows(app)
    assert first.end_reason == "replaced" and second.ended_at is None
    assert support.client.get("/t/alpha/").status_code == 404
    assert support.client.get("/t/bravo/").status_code == 200


def test_only_members_of_the_tenant_can_be_chosen(app: Any, support: Any, world: dict) -> None:
    start(support, app, world["alpha"], "owner@bravo.example")
    assert _rows(app) == []


def test_a_suspended_workspace_cannot_be_impersonated(app: Any, admin: Any, world: dict) -> None:
    post_form(
        admin.client,
        f"/provider/tenants/{world['alpha'].id}",
        f"/provider/tenants/{world['alpha'].id}/suspend",
        {"status-reason": "fraud check"},
        "status",
    )
    start(admin, app, world["alpha"], "rep@alpha.example")
    assert _rows(app) == []


@pytest.mark.parametrize("minutes", [5])
def test_the_duration_is_configurable(app_config: dict, request: Any, minutes: int) -> None:
    app_config["IMPERSONATION_MINUTES"] = minutes
    app = request.getfixturevalue("app")
    world = request.getfixturevalue("world")
    support = request.getfixturevalue("support")
    start(support, app, world["alpha"], "rep@alpha.example")
    [row] = _rows(app)
    assert row.expires_at - row.started_at == timedelta(minutes=minutes)
