"""Stripe end to end: the real SDK against our local Stripe server, webhooks signed as Stripe
signs them and verified by the real ``construct_event``.

Covers sign-up → Checkout → active, adding a seat, a paid module on and off (items with
proration), payment failure → past due → unpaid → read-only → payment → active, duplicate,
out-of-order, badly signed and replayed webhooks, idempotency keys, usage as meter events, the
Customer Portal, and retrying a failed push or event.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from billing_helpers import (
    ADDON_PRICES,
    SEAT_PRICES,
    WEBHOOK_SECRET,
    fake_stripe_fixture,  # noqa: F401 - the fake_stripe fixture
    invoices_of,
    ledger_ids,
    ledger_of,
    seed,
    stripe_config,
    subscription_of,
)
from conftest import in_tenant, login
from helpers_web import flashes, post_form
from sqlalchemy import func, select
from stripe_server import FakeStripe, deliver, deliver_all, signed

from billing.gateways.stripe_gateway import API_VERSION
from billing.jobs import report_usage
from billing.models import StripeEvent, UsageRecord
from crm_platform.extensions import db
from crm_platform.sdk import record_usage
from crm_platform.testing import run_jobs

BILLING = "/t/acme/settings/billing"


@pytest.fixture
def app_config(app_config: dict[str, Any], fake_stripe: FakeStripe) -> dict[str, Any]:
    return stripe_config(app_config, fake_stripe)


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    seed(app, stripe_prices=True)
    tenant = factory.tenant("acme")
    factory.member(tenant, "rep@acme.example", "member")
    return tenant


@pytest.fixture
def owner(client: Any, acme: Any) -> Any:
    login(client, acme.owner_email)
    return client


def _checkout(owner: Any, fake: FakeStripe, plan: str = "small", seats: int = 3) -> str:
    """Subscribe through Checkout, pay on Stripe's page, deliver the events; the sub's id."""
    response = post_form(owner, f"{BILLING}/subscribe", {"plan": plan, "seats": seats})
    assert response.status_code == 303, response.text
    assert response.headers["Location"].startswith(f"{fake.url}/checkout/cs_")
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    sub = fake.complete_checkout(session_id)
    deliver_all(owner, fake.take_events(), WEBHOOK_SECRET)
    return sub["id"]


def _events(app: Any) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(select(StripeEvent).order_by(StripeEvent.received_at)).all()
        return [(r.type, r.status, r.note) for r in rows]


def test_sign_up_checkout_active(app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe) -> None:
    assert subscription_of(app, acme)["status"] == "trialing"
    page = owner.get(BILLING).text
    assert "Continue to payment" in page and "Small business" in page
    sid = _checkout(owner, fake_stripe, seats=3)

    customer_call = fake_stripe.calls("POST", "/v1/customers")[0]
    assert customer_call.idempotency_key == f"crm-customer-{acme.id}"
    assert customer_call.params["metadata"]["tenant_id"] == str(acme.id)
    session_call = fake_stripe.calls("POST", "/v1/checkout/sessions")[0]
    assert session_call.idempotency_key == f"crm-ledger-{ledger_ids(app, acme, 'checkout')[0]}"
    assert session_call.stripe_version == API_VERSION
    assert session_call.params["mode"] == "subscription"
    assert session_call.params["client_reference_id"] == str(acme.id)
    assert session_call.params["line_items"][0] == {"price": SEAT_PRICES["small"], "quantity": "3"}

    sub = subscription_of(app, acme)
    assert (sub["status"], sub["plan"], sub["seats"]) == ("active", "small", 3)
    assert sub["stripe_subscription_id"] == sid and "seats" in sub["stripe_items"]
    assert [i["status"] for i in invoices_of(app, acme)] == ["paid"]
    assert {t for t, status, _ in _events(app) if status == "succeeded"} == {
        "customer.subscription.created",
        "invoice.created",
        "invoice.paid",
        "checkout.session.completed",
    }
    page = owner.get(BILLING).text
    assert "Manage payment methods and invoices" in page
    assert "2 used of 3 paid" in page and "View</a>" in page


def test_add_a_seat(app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe) -> None:
    sid = _checkout(owner, fake_stripe, seats=3)
    response = post_form(owner, f"{BILLING}/seats", {"seats": 4}, page=BILLING)
    assert response.status_code == 303
    run_jobs(app)
    call = fake_stripe.calls("POST", "/v1/subscription_items/")[-1]
    assert call.params == {"quantity": "4", "proration_behavior": "create_prorations"}
    assert call.idempotency_key == f"crm-ledger-{ledger_ids(app, acme, 'seats')[0]}"
    assert fake_stripe.subscription(sid)["items"]["data"][0]["quantity"] == 4
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    assert subscription_of(app, acme)["seats"] == 4
    assert [e for e in ledger_of(app, acme) if e[3] == "gateway"] == []  # ours, not Stripe's
    calls = len(fake_stripe.requests)
    with in_tenant(app, acme):
        from billing.jobs import push_changes

        push_changes.enqueue(str(subscription_of(app, acme)["id"]))
    run_jobs(app)
    assert len(fake_stripe.requests) == calls  # everything was synced already


def test_switch_a_paid_module_on_and_off(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe, seats=3)
    modules = "/t/acme/settings/modules"
    post_form(owner, f"{modules}/hello/enable", page=modules)
    assert subscription_of(app, acme)["addons"] == ["hello"]
    run_jobs(app)
    created = fake_stripe.calls("POST", "/v1/subscription_items")[-1]
    assert created.path == "/v1/subscription_items"
    assert created.params["price"] == ADDON_PRICES["hello"]
    assert created.params["proration_behavior"] == "create_prorations"
    assert created.idempotency_key == f"crm-ledger-{ledger_ids(app, acme, 'addon_on')[0]}"
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    item = subscription_of(app, acme)["stripe_items"]["addon:hello"]

    post_form(owner, f"{modules}/hello/disable", page=modules)
    run_jobs(app)
    deleted = fake_stripe.calls("DELETE", f"/v1/subscription_items/{item}")
    assert deleted and deleted[0].params == {"proration_behavior": "create_prorations"}
    assert deleted[0].idempotency_key == f"crm-ledger-{ledger_ids(app, acme, 'addon_off')[0]}"
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    sub = subscription_of(app, acme)
    assert sub["addons"] == [] and "addon:hello" not in sub["stripe_items"]
    assert fake_stripe.prorations(sid) == ["create_prorations", "create_prorations"]


def test_payment_failure_past_due_unpaid_read_only_payment_active(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe)
    fake_stripe.fail_payment(sid)
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    assert subscription_of(app, acme)["status"] == "past_due"
    home = owner.get("/t/acme/").text
    assert "Your last payment failed. Pay by" in home
    assert post_form(owner, "/t/acme/accounts/new", {"name": "Still works"}).status_code == 302

    fake_stripe.mark_unpaid(sid)
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    assert subscription_of(app, acme)["status"] == "unpaid"
    refused = post_form(owner, "/t/acme/accounts/new", {"name": "Refused"})
    assert refused.status_code == 403 and "Payment is overdue" in refused.text
    assert owner.get("/t/acme/accounts").status_code == 200

    fake_stripe.pay(sid)
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    assert subscription_of(app, acme)["status"] == "active"
    assert post_form(owner, "/t/acme/accounts/new", {"name": "Back"}).status_code == 302
    assert [i["status"] for i in invoices_of(app, acme)] == ["paid", "paid"]


def test_duplicate_webhooks_are_processed_once(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe)
    fake_stripe.set_quantity(sid, 5)
    (event,) = fake_stripe.take_events()
    first, second = deliver(owner, event, WEBHOOK_SECRET), deliver(owner, event, WEBHOOK_SECRET)
    assert (first.json["outcome"], second.json["outcome"]) == ("processed", "duplicate")
    with app.app_context():
        row = db.session.scalar(
            select(StripeEvent).where(StripeEvent.stripe_event_id == event["id"])
        )
        assert (row.status, row.attempts) == ("succeeded", 1)
    assert subscription_of(app, acme)["seats"] == 5
    assert [e for e in ledger_of(app, acme) if e[3] == "gateway"] == [("seats", 5, None, "gateway")]


def test_an_older_event_never_overwrites_a_newer_state(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe, seats=3)
    fake_stripe.set_quantity(sid, 4)
    fake_stripe.set_quantity(sid, 6)
    older, newer = fake_stripe.take_events()
    deliver_all(owner, [newer, older], WEBHOOK_SECRET)
    assert subscription_of(app, acme)["seats"] == 6
    assert _events(app)[-1] == (
        "customer.subscription.updated",
        "succeeded",
        "older than the state already applied: ignored",
    )


def test_a_bad_signature_is_refused_and_changes_nothing(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe)
    before = (subscription_of(app, acme), _events(app))
    fake_stripe.cancel(sid)
    (event,) = fake_stripe.take_events()
    payload, header = signed(event, "whsec_someone_else")
    wrong_secret = owner.post(
        "/billing/stripe/webhook", data=payload, headers={"Stripe-Signature": header}
    )
    _, good = signed(event, WEBHOOK_SECRET)
    tampered = owner.post(
        "/billing/stripe/webhook",
        data=payload.replace("canceled", "active"),
        headers={"Stripe-Signature": good},
    )
    unsigned = owner.post("/billing/stripe/webhook", data=payload)
    assert [r.status_code for r in (wrong_secret, tampered, unsigned)] == [400, 400, 400]
    assert (subscription_of(app, acme), _events(app)) == before


def test_a_replayed_old_event_changes_nothing(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe)
    fake_stripe.set_quantity(sid, 7)
    (event,) = fake_stripe.take_events()
    assert deliver(owner, event, WEBHOOK_SECRET).status_code == 200
    before = (subscription_of(app, acme), _events(app))
    stale = deliver(owner, event, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400  # signed an hour ago: outside the tolerance
    again = deliver(owner, event, WEBHOOK_SECRET)
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert (subscription_of(app, acme), _events(app)) == before


def test_api_version_and_event_types_are_checked(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    _checkout(owner, fake_stripe)
    before = _events(app)
    event = fake_stripe.emit("customer.subscription.updated", {"id": "sub_x"})
    old_version = deliver(owner, {**event, "api_version": "2020-08-27"}, WEBHOOK_SECRET)
    assert old_version.status_code == 400
    other = deliver(owner, fake_stripe.emit("charge.refunded", {"id": "ch_1"}), WEBHOOK_SECRET)
    assert other.status_code == 200 and other.json["outcome"] == "ignored"
    assert _events(app) == before
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    assert deliver(owner, event, WEBHOOK_SECRET).status_code == 404


def test_a_failed_event_keeps_its_error_and_can_be_retried(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe, runner: Any
) -> None:
    _checkout(owner, fake_stripe)
    event = fake_stripe.emit(
        "invoice.paid",
        {"id": "in_elsewhere", "object": "invoice", "customer": "cus_unknown", "status": "paid"},
    )
    assert deliver(owner, event, WEBHOOK_SECRET).status_code == 200
    with app.app_context():
        row = db.session.scalar(
            select(StripeEvent).where(StripeEvent.stripe_event_id == event["id"])
        )
        assert row.status == "failed" and "UnknownCustomer" in row.error
        from billing.models import BillingCustomer

        db.session.get(BillingCustomer, acme.id).stripe_customer_id = "cus_unknown"
        db.session.commit()
    listed = runner.invoke(args=["billing", "events", "--status", "failed"])
    assert event["id"] in listed.output
    retried = runner.invoke(args=["billing", "retry-event", event["id"]])
    assert retried.exit_code == 0 and "succeeded" in retried.output
    again = runner.invoke(args=["billing", "retry-event", event["id"]])
    assert again.exit_code == 1 and "handled already" in again.output
    assert any(i["status"] == "paid" and i["gateway"] == "stripe" for i in invoices_of(app, acme))


def test_a_failed_push_is_retried_with_the_same_idempotency_key(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    _checkout(owner, fake_stripe, seats=3)
    fake_stripe.fail_next = "/v1/subscription_items/"
    post_form(owner, f"{BILLING}/seats", {"seats": 5}, page=BILLING)
    (job,) = run_jobs(app)  # the first attempt meets the outage; the job's retry succeeds
    assert job.get_status() == "finished" and job.return_value() == {"pushed": 1}
    attempts = fake_stripe.calls("POST", "/v1/subscription_items/")
    assert len(attempts) == 2 and attempts[0].idempotency_key == attempts[1].idempotency_key
    assert (
        fake_stripe.subscription(subscription_of(app, acme)["stripe_subscription_id"])["items"][
            "data"
        ][0]["quantity"]
        == 5
    )


def test_usage_is_reported_as_meter_events_once(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    _checkout(owner, fake_stripe)
    with in_tenant(app, acme) as session:
        record_usage("marketing_emails", 120, idempotency_key="campaign-7")
        session.commit()
        report_usage.enqueue()
    run_jobs(app)
    with app.app_context():
        record = db.session.scalar(select(UsageRecord))
        assert record.reported_at is not None
    (meter,) = fake_stripe.meter_events
    assert meter["event_name"] == "marketing_emails"
    assert meter["identifier"] == str(record.id)
    assert meter["payload"]["value"] == "120"
    assert fake_stripe.calls("POST", "/v1/billing/meter_events")[0].idempotency_key == (
        f"crm-usage-{record.id}"
    )
    with in_tenant(app, acme):
        report_usage.enqueue()
    run_jobs(app)
    assert len(fake_stripe.meter_events) == 1
    assert "marketing_emails: 120" in owner.get(BILLING).text


def test_the_customer_portal_and_plan_changes(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    sid = _checkout(owner, fake_stripe, seats=3)
    portal = post_form(owner, f"{BILLING}/portal", page=BILLING)
    assert portal.status_code == 303 and portal.headers["Location"].startswith(
        f"{fake_stripe.url}/portal/"
    )
    changed = post_form(owner, f"{BILLING}/plan", {"plan": "mid"}, page=BILLING)
    assert changed.status_code == 303
    run_jobs(app)
    call = fake_stripe.calls("POST", f"/v1/subscriptions/{sid}")[-1]
    assert call.params["items"][0]["price"] == SEAT_PRICES["mid"]
    assert call.params["proration_behavior"] == "create_prorations"
    deliver_all(owner, fake_stripe.take_events(), WEBHOOK_SECRET)
    assert subscription_of(app, acme)["plan"] == "mid"
    refused = post_form(owner, f"{BILLING}/seats", {"seats": 1}, page=BILLING)
    assert refused.status_code == 400 and "You have 2 members" in refused.text


def test_checkout_outcomes_are_shown(owner: Any, acme: Any) -> None:
    assert "Thank you!" in " ".join(flashes(owner.get(f"{BILLING}?checkout=done").text, "success"))
    assert "nothing changed" in " ".join(flashes(owner.get(f"{BILLING}?checkout=canceled").text))


def test_events_store_the_payload_for_retries(
    app: Any, owner: Any, acme: Any, fake_stripe: FakeStripe
) -> None:
    _checkout(owner, fake_stripe)
    with app.app_context():
        rows = db.session.scalars(select(StripeEvent)).all()
        assert all(json.dumps(r.payload) and r.created > 0 for r in rows)
        assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 4
