"""Fixtures of the provider console tests: two tenants, staff members, a console test plugin.

``ConsolePlugin`` answers the console's hooks the way billing does (a summary per tenant, a
panel on the tenant page, a dashboard widget, a page of its own in the console's navigation),
so the console is tested against a plugin, not against billing's internals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import login
from flask import Blueprint, render_template_string
from helpers_records import app_with, dispose

from crm_platform.sdk import (
    NavItem,
    Panel,
    Widget,
    hookimpl,
    provider_scope,
    record_staff_action,
    require_staff,
)

console_test_bp = Blueprint("console_test", __name__, url_prefix="/provider/test-plans")


@console_test_bp.get("/")
@require_staff
def plans() -> Any:
    """A plugin's console page: staff-only, in the console's layout."""
    return render_template_string(
        '{% extends "provider/base.html" %}{% block console %}<h1>Test plans</h1>{% endblock %}'
    )


@console_test_bp.post("/<tenant_id>/extend")
@require_staff("admin")
def extend(tenant_id: str) -> Any:
    """A plugin's admin-only console action (like billing's "extend trial")."""
    record_staff_action("trial.extended", target=tenant_id)
    from crm_platform.sdk import db

    db.session.commit()
    return "extended"


class ConsolePlugin:
    """Answers the provider console's hooks; ``answer = False`` makes it stay silent."""

    crm_plugin_name = "test-console"

    def __init__(self) -> None:
        self.answer = True
        self.summary_calls: list[list[str]] = []
        self.periods: list[Any] = []

    @hookimpl
    def crm_blueprints(self) -> list[Any]:
        return [console_test_bp]

    @hookimpl
    def crm_provider_navigation(self) -> list[NavItem]:
        return [NavItem("Test plans", "console_test.plans", order=20)] if self.answer else []

    @hookimpl
    def crm_provider_tenant_summary(self, tenants: list[Any]) -> dict[Any, dict[str, Any]]:
        self.summary_calls.append([t.slug for t in tenants])
        if not self.answer:
            return {}
        with provider_scope("test summary", "test-console"):
            pass  # a plugin reads its rows of several tenants here
        return {
            t.id: {
                "plan": "Enterprise" if t.slug == "alpha" else "Small business",
                "state": "active",
                "seats": 7,
                "mrr_cents": 123456,
                "currency": "usd",
            }
            for t in tenants
        }

    @hookimpl
    def crm_provider_tenant_panels(self, tenant: Any) -> list[Panel]:
        if not self.answer:
            return []
        html = f"<p class='test-sub'>Subscription of {tenant.slug}</p>"
        return [Panel(title="Subscription", html=html, key="subscription", order=10)]

    @hookimpl
    def crm_provider_dashboard(self, period: Any) -> list[Widget]:
        self.periods.append(period)
        if not self.answer:
            return []
        return [Widget(title="MRR over time", html=f"<p class='mrr'>{len(period.months)}</p>")]


@dataclass(frozen=True)
class Staff:
    """A staff member of the tests and their signed-in client."""

    email: str
    client: Any


def make_staff(app: Any, factory: Any, email: str, role: str) -> Staff:
    """A user with the staff ``role``, signed in through the real form."""
    from crm_platform.extensions import db
    from crm_platform.provider.staff import grant_staff
    from crm_platform.provisioning import find_user

    factory.user(email, email.split("@")[0].title())
    with app.app_context():
        grant_staff(find_user(email), role, actor="tests")
        db.session.commit()
    client = app.test_client()
    assert login(client, email).status_code == 302
    return Staff(email, client)


@pytest.fixture
def plugin() -> ConsolePlugin:
    """The console test plugin of this test's app."""
    return ConsolePlugin()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], plugin: ConsolePlugin) -> Iterator[Any]:
    """The test app with the console test plugin (on the database ``app`` wiped)."""
    application = app_with(app_config, plugin)
    yield application
    dispose(application)


@pytest.fixture
def world(app: Any, factory: Any) -> dict[str, Any]:
    """Two tenants: alpha (owner + rep) and bravo (owner)."""
    alpha = factory.tenant("alpha", owner_email="owner@alpha.example", name="Alpha Traders")
    factory.member(alpha, "rep@alpha.example", "member")
    bravo = factory.tenant("bravo", owner_email="owner@bravo.example", name="Bravo Foods")
    return {"alpha": alpha, "bravo": bravo}


@pytest.fixture
def admin(app: Any, factory: Any) -> Staff:
    """A signed-in staff admin."""
    return make_staff(app, factory, "admin@provider.example", "admin")


@pytest.fixture
def support(app: Any, factory: Any) -> Staff:
    """A signed-in support staff member."""
    return make_staff(app, factory, "support@provider.example", "support")
