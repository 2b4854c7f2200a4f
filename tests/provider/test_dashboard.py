"""The console dashboard: charts of tenants by state and plan, sign-ups and churn, widgets."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import update

from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.provider.dashboard import dashboard_period, per_month

from .helpers import post_form


def test_period_is_the_last_twelve_months() -> None:
    period = dashboard_period(today=date(2026, 3, 15))
    assert period.labels[0] == "2025-04" and period.labels[-1] == "2026-03"
    assert len(period.months) == 12
    assert period.start == datetime(2025, 4, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 4, 1, tzinfo=UTC)
    moments = [
        datetime(2025, 3, 31, 23, 59, tzinfo=UTC),  # before: not counted
        datetime(2025, 4, 1, tzinfo=UTC),
        datetime(2026, 3, 31, 12),  # naive (SQLite): read as UTC
        datetime(2026, 3, 2, tzinfo=UTC),
    ]
    assert per_month(period, moments) == [1] + [0] * 10 + [2]


def test_dashboard_draws_tenants_signups_and_churn(app: Any, admin: Any, world: dict) -> None:
    with app.app_context():  # bravo signed up two months ago
        earlier = datetime.now(UTC) - timedelta(days=62)
        db.session.execute(
            update(Tenant).where(Tenant.id == world["bravo"].id).values(created_at=earlier)
        )
        db.session.commit()
    alpha = world["alpha"]
    post_form(
        admin.client,
        f"/provider/tenants/{alpha.id}",
        f"/provider/tenants/{alpha.id}/suspend",
        {"status-reason": "chargeback"},
        "status",
    )
    page = admin.client.get("/provider/")
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") >= 4  # sign-ups and churn, by state, by plan, by subscription
    assert 'href="/provider/tenants?status=suspended"><span>1</span>' in html
    assert 'href="/provider/tenants"><span>2</span>' in html
    # The charts' accessible tables carry the numbers: this month 1 sign-up, 1 suspension.
    this_month = datetime.now(UTC).strftime("%Y-%m")
    table = html.split("Sign-ups and churn", 1)[1].split("</table>", 1)[0]
    row = table.split(f"<tr><th>{this_month}</th>", 1)[1].split("</tr>", 1)[0]
    assert row == "<td>1</td><td>1</td>"  # sign-ups, suspended or canceled
    assert "Enterprise" in html and "Small business" in html  # by plan (the test plugin)
    assert "1,234.56 USD" in html or "2,469.12 USD" in html  # MRR of the active tenants


def test_hook_crm_provider_dashboard(app: Any, support: Any, world: dict, plugin: Any) -> None:
    page = support.client.get("/provider/").text
    assert "MRR over time" in page and "<p class='mrr'>12</p>" in page
    period = plugin.periods[-1]
    assert len(period.labels) == 12 and period.start < period.end


def test_hook_crm_provider_navigation(app: Any, support: Any, plugin: Any) -> None:
    page = support.client.get("/provider/").text
    nav = page.split('class="console-nav"', 1)[1].split("</nav>", 1)[0]
    labels = re.findall(r"<a [^>]*>([^<]+)</a>", nav)
    assert labels[:3] == ["Dashboard", "Tenants", "Test plans"]  # ordered by NavItem.order
    plans = support.client.get("/provider/test-plans/")
    assert plans.status_code == 200 and "<h1>Test plans</h1>" in plans.text
    assert 'href="/provider/test-plans/" aria-current="page"' in plans.text
    plugin.answer = False
    assert "Test plans" not in support.client.get("/provider/").text


def test_staff_land_on_the_console(app: Any, support: Any) -> None:
    response = support.client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/provider/")
    assert "Provider console" in support.client.get("/provider/").text
    assert 'href="/provider/">Provider console</a></li>' in support.client.get("/profile").text


def test_cancellations_recorded_by_billing_count_as_churn(
    app: Any, support: Any, world: dict
) -> None:
    from conftest import in_tenant

    from crm_platform import audit

    with in_tenant(app, world["bravo"]) as session:
        audit.record("tenant.canceled", target="bravo", actor_label="billing")
        session.commit()
    html = support.client.get("/provider/").text
    this_month = datetime.now(UTC).strftime("%Y-%m")
    table = html.split("Sign-ups and churn", 1)[1].split("</table>", 1)[0]
    row = table.split(f"<tr><th>{this_month}</th>", 1)[1].split("</tr>", 1)[0]
    assert row == "<td>2</td><td>1</td>"
