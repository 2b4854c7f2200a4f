"""Stripe webhook events, handled the way Zulip's ``corporate`` app does.

:func:`receive` verifies the signature with the SDK's ``Webhook.construct_event`` (a bad or
stale signature answers 400 and changes nothing), refuses events of another API version,
ignores event types that are not allow-listed, stores each event once by its id (a duplicate
answers 200 and is not processed again) and processes it: ``received`` → ``started`` →
``succeeded`` or ``failed`` with the error kept. :func:`retry_event` processes a stored event
again (the provider console and ``crm billing retry-event`` call it).

Events can arrive late, twice or out of order. A subscription or invoice remembers the
``created`` time of the newest event applied to it (``stripe_state_at``) and an older event
never overwrites it, so any order of the same events ends in the same state. Stripe's
``created`` has a resolution of one second: two changes of one object within the same second
are applied in the order they arrive.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_platform.sdk import ValidationFailed, db, utcnow

from .entitlements import forget
from .gateways.stripe_gateway import API_VERSION
from .models import BillingCustomer, Invoice, Plan, StripeEvent, Subscription
from .service import append_ledger, live_subscription, replace_live, set_status

log = logging.getLogger(__name__)

#: Stripe subscription statuses and the state each one is here.
STATUS_MAP = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "incomplete": "past_due",
    "unpaid": "unpaid",
    "paused": "unpaid",
    "canceled": "canceled",
    "incomplete_expired": "canceled",
}
STALE = "older than the state already applied: ignored"


class UnknownCustomer(LookupError):
    """An event names a Stripe customer we do not know (yet): retry it later."""


def _when(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _customer(stripe_id: str | None, tenant_hint: str | None = None) -> BillingCustomer:
    customer = None
    if stripe_id:
        customer = db.session.scalar(
            select(BillingCustomer).where(BillingCustomer.stripe_customer_id == stripe_id)
        )
    if customer is None and tenant_hint:
        try:
            customer = db.session.get(BillingCustomer, uuid.UUID(str(tenant_hint)))
        except ValueError:
            customer = None
        if customer is not None and stripe_id and not customer.stripe_customer_id:
            customer.stripe_customer_id = stripe_id
    if customer is None:
        raise UnknownCustomer(f"no customer for Stripe customer {stripe_id}")
    return customer


def _subscription_row(customer: BillingCustomer, stripe_id: str, plan: Plan) -> Subscription:
    """Our row of a Stripe subscription: found by id, else the live one is linked to it, else
    (a new subscription after a canceled one) it replaces the live one."""
    found = db.session.scalar(
        select(Subscription).where(Subscription.stripe_subscription_id == stripe_id)
    )
    if found is not None:
        return found
    live = live_subscription(customer.id)
    if live is not None and live.stripe_subscription_id is None:
        live.stripe_subscription_id = stripe_id
        return live
    subscription = replace_live(customer, plan)
    subscription.stripe_subscription_id = stripe_id
    return subscription


def _plans() -> list[Plan]:
    return list(db.session.scalars(select(Plan)))


def _read_items(obj: dict[str, Any], fallback: Plan) -> dict[str, Any]:
    """Plan, seats, add-ons, item ids and period from a Stripe subscription object."""
    items = (obj.get("items") or {}).get("data") or []
    plans = _plans()
    by_price = {p.stripe_price_id: p for p in plans if p.stripe_price_id}
    plan, seats, ids, period = fallback, None, {}, {}
    for item in items:
        price = (item.get("price") or {}).get("id")
        if price in by_price:
            plan, seats = by_price[price], int(item.get("quantity") or 0)
            ids["seats"] = item["id"]
        period = period or {
            "start": item.get("current_period_start"),
            "end": item.get("current_period_end"),
        }
    addons = []
    for item in items:
        price = (item.get("price") or {}).get("id")
        for module, addon_price in plan.stripe_addon_price_ids.items():
            if price == addon_price:
                addons.append(module)
                ids[f"addon:{module}"] = item["id"]
    start = period.get("start") or obj.get("current_period_start")
    end = period.get("end") or obj.get("current_period_end")
    return {
        "plan": plan,
        "seats": seats,
        "addons": sorted(addons),
        "ids": ids,
        "period": (start, end),
    }


def _plan_hint(obj: dict[str, Any]) -> Plan | None:
    key = (obj.get("metadata") or {}).get("plan")
    return db.session.scalar(select(Plan).where(Plan.key == key)) if key else None


def _on_subscription(event: dict[str, Any], row: StripeEvent) -> str:
    obj = event["data"]["object"]
    customer = _customer(obj.get("customer"), (obj.get("metadata") or {}).get("tenant_id"))
    row.customer_id = customer.id
    live = live_subscription(customer.id)
    fallback = _plan_hint(obj) or (live.plan if live else None) or _plans()[0]
    subscription = _subscription_row(customer, obj["id"], fallback)
    if subscription.stripe_state_at is not None and event["created"] < subscription.stripe_state_at:
        return STALE
    read = _read_items(obj, subscription.plan or fallback)
    linked_before = subscription.stripe_state_at is not None
    changes = []
    if read["plan"].id != subscription.plan_id:
        subscription.plan_id, subscription.plan = read["plan"].id, read["plan"]
        changes.append("plan")
    if read["seats"] is not None and read["seats"] != subscription.seats:
        subscription.seats = read["seats"]
        changes.append("seats")
    subscription.addons = read["addons"]
    subscription.stripe_items = read["ids"]
    start, end = read["period"]
    subscription.current_period_start = _when(start) or subscription.current_period_start
    subscription.current_period_end = _when(end) or subscription.current_period_end
    subscription.trial_ends_at = _when(obj.get("trial_end"))
    subscription.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    subscription.canceled_at = _when(obj.get("canceled_at"))
    subscription.stripe_state_at = event["created"]
    for kind in changes if linked_before else ():  # the checkout entry recorded the first
        # What Stripe changed later (e.g. seats in the Customer Portal) joins the ledger.
        append_ledger(subscription, kind, source="gateway", actor="stripe")
    status = STATUS_MAP.get(obj.get("status") or "", "past_due")
    if event["type"] == "customer.subscription.deleted":
        status = "canceled"
    set_status(subscription, status, actor="stripe", reason=event["type"])
    forget()
    return "applied"


def _on_checkout(event: dict[str, Any], row: StripeEvent) -> str:
    obj = event["data"]["object"]
    hint = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("tenant_id")
    customer = _customer(obj.get("customer"), hint)
    row.customer_id = customer.id
    if not obj.get("subscription"):
        return "no subscription"
    live = live_subscription(customer.id)
    plan = _plan_hint(obj) or (live.plan if live else None) or _plans()[0]
    _subscription_row(customer, obj["subscription"], plan)
    forget()
    return "linked"


def _invoice_subscription(obj: dict[str, Any], customer: BillingCustomer) -> uuid.UUID | None:
    """Our subscription of an invoice; the first event naming a Stripe subscription links it,
    whichever type it is, so the order events arrive in does not matter."""
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    stripe_id = obj.get("subscription") or parent.get("subscription")
    if not stripe_id:
        return None
    live = live_subscription(customer.id)
    plan = (live.plan if live else None) or _plans()[0]
    return _subscription_row(customer, stripe_id, plan).id


def _on_invoice(event: dict[str, Any], row: StripeEvent) -> str:
    obj = event["data"]["object"]
    customer = _customer(obj.get("customer"))
    row.customer_id = customer.id
    invoice = db.session.scalar(select(Invoice).where(Invoice.stripe_invoice_id == obj["id"]))
    if invoice is None:
        invoice = Invoice(customer_id=customer.id, gateway="stripe", stripe_invoice_id=obj["id"])
        db.session.add(invoice)
    elif invoice.stripe_state_at is not None and event["created"] < invoice.stripe_state_at:
        return STALE
    lines = (obj.get("lines") or {}).get("data") or []
    paid_at = (obj.get("status_transitions") or {}).get("paid_at")
    invoice.subscription_id = _invoice_subscription(obj, customer)
    invoice.number = obj.get("number") or ""
    invoice.status = obj.get("status") or "open"
    invoice.currency = obj.get("currency") or "usd"
    invoice.total_cents = int(obj.get("total") if obj.get("total") is not None else 0)
    invoice.lines = [
        {
            "description": line.get("description") or "",
            "quantity": int(line.get("quantity") or 1),
            "amount_cents": int(line.get("amount") or 0),
        }
        for line in lines
    ]
    invoice.period_start = _when(obj.get("period_start"))
    invoice.period_end = _when(obj.get("period_end"))
    invoice.issued_at = _when(obj.get("created")) or utcnow()
    invoice.due_at = _when(obj.get("due_date"))
    invoice.paid_at = _when(paid_at)
    invoice.hosted_url = obj.get("hosted_invoice_url")
    invoice.stripe_state_at = event["created"]
    forget()
    return "applied"


#: The event types handled (every other type is acknowledged and ignored).
HANDLERS: dict[str, Callable[[dict[str, Any], StripeEvent], str]] = {
    "checkout.session.completed": _on_checkout,
    **{
        f"customer.subscription.{name}": _on_subscription
        for name in ("created", "updated", "deleted", "paused", "resumed")
    },
    **{
        f"invoice.{name}": _on_invoice
        for name in (
            "created",
            "finalized",
            "updated",
            "paid",
            "payment_failed",
            "payment_succeeded",
            "voided",
            "marked_uncollectible",
        )
    },
}


def receive(payload: bytes, signature: str | None) -> tuple[int, str]:
    """Verify, store once and process a webhook request; returns (HTTP status, outcome)."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return 404, "webhooks are not configured"
    try:
        stripe.Webhook.construct_event(payload, signature, secret)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        log.warning("Stripe webhook refused: %s", exc)
        return 400, "invalid signature"
    event = json.loads(payload)
    if event.get("api_version") != API_VERSION:
        log.error(
            "Stripe webhook API version %s differs from ours (%s)",
            event.get("api_version"),
            API_VERSION,
        )
        return 400, "API version mismatch"
    if event.get("type") not in HANDLERS:
        return 200, "ignored"
    if db.session.scalar(select(StripeEvent.id).where(StripeEvent.stripe_event_id == event["id"])):
        return 200, "duplicate"
    row = StripeEvent(
        stripe_event_id=event["id"],
        type=event["type"],
        api_version=event.get("api_version"),
        created=int(event["created"]),
        status="received",
        payload=event,
        attempts=0,
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same event, delivered twice at once
        db.session.rollback()
        return 200, "duplicate"
    process(row.id)
    return 200, "processed"


def process(event_id: uuid.UUID) -> StripeEvent:
    """Run the handler of a stored event: started, then succeeded or failed (error kept)."""
    row = db.session.get(StripeEvent, event_id)
    assert row is not None
    row.status, row.error, row.attempts = "started", None, (row.attempts or 0) + 1
    db.session.commit()
    try:
        note = HANDLERS[row.type](row.payload, row)
        row.status, row.note, row.handled_at = "succeeded", note, utcnow()
        db.session.commit()
    except Exception as exc:
        log.exception("Stripe event %s (%s) failed", row.stripe_event_id, row.type)
        db.session.rollback()
        row = db.session.get(StripeEvent, event_id)
        assert row is not None
        row.status, row.handled_at = "failed", utcnow()
        row.error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
    forget()
    return row


def find_event(ref: str) -> StripeEvent | None:
    """A stored event by our id or Stripe's (``evt_...``)."""
    try:
        found = db.session.get(StripeEvent, uuid.UUID(ref))
    except ValueError:
        found = None
    return found or db.session.scalar(select(StripeEvent).where(StripeEvent.stripe_event_id == ref))


def retry_event(ref: str) -> StripeEvent:
    """Process a stored event again (one that failed, or was left started or received)."""
    row = find_event(ref)
    if row is None:
        raise ValidationFailed({"event": _("There is no such webhook event.")})
    if row.status == "succeeded":
        raise ValidationFailed({"event": _("This event was handled already.")})
    return process(row.id)
