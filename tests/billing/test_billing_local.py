"""The local gateway (no Stripe key, the embedded default): subscribe, pay, renew, dunning,
trial end and subscribing again, the provider's actions, and the demo's paid subscription."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from billing_helpers import edit_plan, invoices_of, ledger_of, live, seed, subscription_of
from conftest import in_tenant, login
from helpers_web import field_error, post_form
from sqlalchemy import func, select

from billing.models import Invoice, Subscription
from billing.service import run_cycle
from crm_platform.audit import AuditEvent
from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.tenancy import utcnow

BILLING = "/t/acme/settings/billing"


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    seed(app)
    tenant = factory.tenant("acme")
    factory.member(tenant, "rep@acme.example", "member")
    return tenant


@pytest.fixture
def owner(client: Any, acme: Any) -> Any:
    login(client, acme.owner_email)
    return client


def _cycle(app: Any, tenant: Any, days: int = 0) -> str:
    with app.app_context():
        state = run_cycle(db.session.get(Tenant, tenant.id), now=utcnow() + timedelta(days=days))
        db.session.commit()
        return state


def test_the_billing_page_is_for_owners_and_admins(app: Any, client: Any, acme: Any) -> None:
    login(client, "rep@acme.example")
    assert client.get(BILLING).status_code == 403
    assert "/settings/billing" not in client.get("/t/acme/").text
    login(client, acme.owner_email)
    home = client.get("/t/acme/").text
    assert 'href="/t/acme/settings/billing"' in home
    page = client.get(BILLING).text
    assert "trial" in page and "2 used of 10 in the trial" in page
    assert "Subscribe" in page and "Invoices on this page" in page


def test_subscribe_pay_renew_and_dunning(app: Any, owner: Any, acme: Any) -> None:
    bad = post_form(owner, f"{BILLING}/subscribe", {"plan": "small", "seats": 1}, page=BILLING)
    assert bad.status_code == 400
    assert "You have 2 members" in field_error(bad.text, "seats")
    done = post_form(owner, f"{BILLING}/subscribe", {"plan": "small", "seats": 3}, page=BILLING)
    assert done.status_code == 303
    sub = subscription_of(app, acme)
    assert (sub["status"], sub["plan"], sub["seats"]) == ("active", "small", 3)
    (first,) = invoices_of(app, acme)
    assert (first["status"], first["total"], first["gateway"]) == ("open", 4500, "local")
    page = owner.get(BILLING).text
    assert "Pay now" in page and "$45.00" in page and "2 used of 3 paid" in page

    assert _cycle(app, acme, days=8) == "past_due"  # the invoice is a day overdue
    assert "Your last payment failed. Pay by" in owner.get("/t/acme/").text
    assert _cycle(app, acme, days=8 + 15) == "unpaid"  # small's grace is 14 days
    refused = post_form(owner, "/t/acme/accounts/new", {"name": "Refused"})
    assert refused.status_code == 403

    post_form(owner, f"{BILLING}/invoices/{first['id']}/pay", page=BILLING)
    assert subscription_of(app, acme)["status"] == "active"
    assert post_form(owner, "/t/acme/accounts/new", {"name": "Back"}).status_code == 302

    with live(app, acme) as row:  # a month later the next invoice is issued
        row.current_period_end = utcnow() - timedelta(minutes=1)
    assert _cycle(app, acme) == "active"
    statuses = [(i["status"], i["total"]) for i in invoices_of(app, acme)]
    assert statuses == [("paid", 4500), ("open", 4500)]


def test_seats_and_plan_changes(app: Any, owner: Any, acme: Any) -> None:
    post_form(owner, f"{BILLING}/subscribe", {"plan": "small", "seats": 2}, page=BILLING)
    more = post_form(owner, f"{BILLING}/seats", {"seats": 60}, page=BILLING)
    assert more.status_code == 400 and "at most 50 seats" in more.text
    assert post_form(owner, f"{BILLING}/seats", {"seats": 4}, page=BILLING).status_code == 303
    up = post_form(owner, f"{BILLING}/plan", {"plan": "mid"}, page=BILLING)
    assert up.status_code == 303
    sub = subscription_of(app, acme)
    assert (sub["plan"], sub["seats"]) == ("mid", 4)
    assert [e[:2] for e in ledger_of(app, acme)] == [
        ("start", 1),
        ("checkout", 2),
        ("seats", 4),
        ("plan", 4),
    ]
    same = post_form(owner, f"{BILLING}/plan", {"plan": "mid"}, page=BILLING)
    assert same.status_code == 400 and "already on Mid-market" in same.text


def test_the_ledger_is_append_only(app: Any, acme: Any) -> None:
    from billing.models import LedgerEntry, LedgerIsAppendOnly

    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        entry.seats = 99
        with pytest.raises(LedgerIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(LedgerEntry)))
        with pytest.raises(LedgerIsAppendOnly):
            db.session.flush()


def test_a_trial_ends_and_subscribing_again_replaces_the_live_subscription(
    app: Any, owner: Any, acme: Any
) -> None:
    with live(app, acme) as sub:
        sub.trial_ends_at = utcnow() - timedelta(days=1)
    assert _cycle(app, acme) == "canceled"
    with in_tenant(app, acme) as session:  # the provider dashboard counts this as churn
        canceled = session.scalars(
            select(AuditEvent.target).where(AuditEvent.action == "tenant.canceled")
        ).all()
    assert canceled == ["acme"]
    old = subscription_of(app, acme)["id"]
    post_form(owner, f"{BILLING}/subscribe", {"plan": "mid", "seats": 2}, page=BILLING)
    new = subscription_of(app, acme)
    assert new["id"] != old and (new["status"], new["plan"]) == ("active", "mid")
    with app.app_context():
        rows = db.session.execute(
            select(Subscription.live, func.count())
            .where(Subscription.customer_id == acme.id)
            .group_by(Subscription.live)
        ).all()
        assert sorted(rows, key=str) == sorted([(True, 1), (None, 1)], key=str)


def test_provider_actions_from_the_command_line(app: Any, runner: Any, acme: Any) -> None:
    suspended = runner.invoke(args=["billing", "suspend", "acme"])
    assert suspended.exit_code == 0 and subscription_of(app, acme)["status"] == "suspended"
    assert runner.invoke(args=["billing", "resume", "acme"]).output.strip() == "acme: trialing"
    extended = runner.invoke(args=["billing", "extend-trial", "acme", "10"])
    assert extended.exit_code == 0 and "trial ends" in extended.output
    refused = runner.invoke(args=["billing", "extend-trial", "acme", "0"])
    assert refused.exit_code == 1 and "days:" in refused.output
    moved = runner.invoke(args=["billing", "change-plan", "acme", "enterprise"])
    assert moved.exit_code == 0 and subscription_of(app, acme)["plan"] == "enterprise"
    unknown = runner.invoke(args=["billing", "change-plan", "nobody", "small"])
    assert unknown.exit_code == 1 and "no tenant" in unknown.output


def test_usage_beyond_the_plan_is_invoiced(app: Any, owner: Any, acme: Any) -> None:
    from crm_platform.sdk import record_usage

    edit_plan(
        app, "small", usage_prices={"marketing_emails": {"included": 100, "per_1000_cents": 200}}
    )
    post_form(owner, f"{BILLING}/subscribe", {"plan": "small", "seats": 2}, page=BILLING)
    with in_tenant(app, acme) as session:
        record_usage("marketing_emails", 2100)
        session.commit()
    with live(app, acme) as sub:
        sub.current_period_end = utcnow() + timedelta(seconds=1)
    _cycle(app, acme, days=1)
    with app.app_context():
        latest = db.session.scalars(
            select(Invoice).where(Invoice.customer_id == acme.id).order_by(Invoice.issued_at.desc())
        ).first()
        assert {
            "description": "marketing_emails beyond the plan",
            "quantity": 2000,
            "amount_cents": 400,
        } in latest.lines


def test_the_demo_has_an_active_subscription(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["demo", "--accounts", "3"])
    assert result.exit_code == 0, result.output
    demo = type("T", (), {"id": None})()
    with app.app_context():
        demo.id = db.session.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
    sub = subscription_of(app, demo)
    assert sub["status"] == "active" and sub["plan"] in ("small", "mid", "enterprise")
    assert [i["status"] for i in invoices_of(app, demo)] == ["paid"]
