"""Billing in the provider console: the plans editor, Stripe events with retry, the tenant's
billing panel and its actions, facts in the tenants list, revenue on the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from billing_helpers import invoices_of, seed, subscription_of
from conftest import PASSWORD, login
from helpers_web import flashes, post_form
from sqlalchemy import select

from billing.models import Plan, StripeEvent
from crm_platform.extensions import db
from crm_platform.tenancy import utcnow


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    seed(app)
    return factory.tenant("acme")


@pytest.fixture
def staff(app: Any, client: Any, acme: Any) -> Any:
    """An admin of the provider, signed in."""
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "provider",
            "add-staff",
            "ops@provider.example",
            "--role",
            "admin",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    login(client, "ops@provider.example")
    return client


def test_billing_pages_are_staff_only(app: Any, client: Any, acme: Any) -> None:
    login(client, acme.owner_email)
    for url in ("/provider/billing/plans", "/provider/billing/events"):
        assert client.get(url).status_code == 404


def test_the_plans_editor(app: Any, staff: Any) -> None:
    page = staff.get("/provider/billing/plans")
    assert page.status_code == 200 and "Small business" in page.text
    with app.app_context():
        small = db.session.scalar(select(Plan).where(Plan.key == "small"))
        url = f"/provider/billing/plans/{small.id}"
    form = staff.get(url).text
    assert "marketing = 29.00" in form and 'value="15.00"' in form
    data = {
        "key": "small",
        "name": "Small business",
        "currency": "usd",
        "price_per_seat": "19.50",
        "trial_days": "14",
        "grace_days": "10",
        "included_modules": "sfa, service",
        "addon_modules": "marketing = 25\nhello = 4.50",
        "record_limits": "contacts = 5000",
        "usage_prices": "marketing_emails = 1000 / 1.20",
        "active": "y",
    }
    saved = post_form(staff, url, data)
    assert saved.status_code == 303
    with app.app_context():
        small = db.session.scalar(select(Plan).where(Plan.key == "small"))
        assert small.price_per_seat_cents == 1950 and small.grace_days == 10
        assert small.addon_modules == {"marketing": 2500, "hello": 450}
        assert small.record_limits == {"contacts": 5000}
        assert small.usage_prices == {"marketing_emails": {"included": 1000, "per_1000_cents": 120}}
    bad = post_form(staff, url, {**data, "addon_modules": "marketing costs a lot"})
    assert bad.status_code == 400 and "Line 1: write key = value." in bad.text
    taken = post_form(staff, url, {**data, "key": "mid"})
    assert taken.status_code == 400 and "Another plan has this key." in taken.text
    new = post_form(
        staff,
        "/provider/billing/plans/new",
        {
            **data,
            "key": "nonprofit",
            "name": "Non-profit",
            "price_per_seat": "5",
            "is_default": "y",
        },
    )
    assert new.status_code == 303
    with app.app_context():
        defaults = db.session.scalars(select(Plan.key).where(Plan.is_default.is_(True))).all()
        assert defaults == ["nonprofit"]


def test_stripe_events_can_be_retried_from_the_console(app: Any, staff: Any, acme: Any) -> None:
    with app.app_context():
        db.session.add(
            StripeEvent(
                stripe_event_id="evt_console",
                type="invoice.paid",
                api_version="x",
                created=1,
                status="failed",
                error="UnknownCustomer: no customer for Stripe customer cus_late",
                payload={
                    "id": "evt_console",
                    "type": "invoice.paid",
                    "created": 1,
                    "data": {
                        "object": {
                            "id": "in_1",
                            "customer": "cus_late",
                            "status": "paid",
                            "total": 900,
                        }
                    },
                },
                attempts=1,
            )
        )
        from billing.models import BillingCustomer

        db.session.get(BillingCustomer, acme.id).stripe_customer_id = "cus_late"
        db.session.commit()
        event_id = db.session.scalar(select(StripeEvent.id))
    page = staff.get("/provider/billing/events?status=failed").text
    assert "evt_console" in page and "UnknownCustomer" in page and "Retry" in page
    retried = post_form(
        staff, f"/provider/billing/events/{event_id}/retry", page="/provider/billing/events"
    )
    assert retried.status_code == 303
    follow = staff.get("/provider/billing/events").text
    assert "Event evt_console: succeeded." in " ".join(flashes(follow, "success"))
    assert [i["total"] for i in invoices_of(app, acme)] == [900]


def test_the_tenant_panel_and_its_actions(app: Any, staff: Any, acme: Any) -> None:
    tenant_page = f"/provider/tenants/{acme.id}"
    page = staff.get(tenant_page).text
    assert "Extend trial" in page and "Suspend billing (read-only)" in page
    base = f"/provider/billing/tenants/{acme.id}"
    no_reason = post_form(staff, f"{base}/trial", {"days": "14"}, page=tenant_page)
    assert no_reason.status_code == 303
    assert "Give a reason" in " ".join(flashes(staff.get(tenant_page).text))
    extended = post_form(
        staff, f"{base}/trial", {"days": "14", "reason": "asked nicely"}, page=tenant_page
    )
    assert extended.status_code == 303
    suspended = post_form(
        staff,
        f"{base}/suspension",
        {"action": "suspend", "reason": "fraud check"},
        page=tenant_page,
    )
    assert suspended.status_code == 303 and subscription_of(app, acme)["status"] == "suspended"
    resumed = post_form(
        staff, f"{base}/suspension", {"action": "resume", "reason": "cleared"}, page=tenant_page
    )
    assert resumed.status_code == 303 and subscription_of(app, acme)["status"] == "trialing"
    moved = post_form(
        staff, f"{base}/plan", {"plan": "enterprise", "reason": "contract"}, page=tenant_page
    )
    assert moved.status_code == 303 and subscription_of(app, acme)["plan"] == "enterprise"


def test_tenants_list_and_dashboard_show_billing(app: Any, staff: Any, acme: Any) -> None:
    from billing.models import Invoice

    with app.app_context():
        from billing.entitlements import live_subscription

        sub = live_subscription(acme.id)
        db.session.add(
            Invoice(
                customer_id=acme.id,
                subscription_id=sub.id,
                status="paid",
                total_cents=12300,
                lines=[],
                paid_at=utcnow(),
                issued_at=utcnow(),
            )
        )
        db.session.commit()
    listing = staff.get("/provider/tenants").text
    assert "Free trial" in listing and "trialing" in listing
    dashboard = staff.get("/provider/").text
    assert "Revenue paid per month" in dashboard and "USD" in dashboard
