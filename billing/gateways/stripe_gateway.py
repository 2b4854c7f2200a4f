"""Stripe through the official SDK, with a pinned API version.

A customer per tenant; Checkout for the first subscription (a seat-quantity item for the
plan's price, one item per paid add-on, one per metered price); the Customer Portal for cards
and invoices; seat, plan and add-on changes pushed with proration; usage sent as meter
events. Every request that changes something carries an idempotency key derived from our own
rows (the ledger entry, the customer, the usage record), so a retried job never doubles it.
Subscription state and invoices come back by webhook (``billing.stripe_events``).
"""

from __future__ import annotations

from typing import Any

import stripe
from flask import current_app
from flask_babel import gettext as _

from crm_platform.sdk import db

from ..models import BillingCustomer, LedgerEntry, Plan, Subscription, UsageRecord, aware
from .base import CheckoutRequest, Gateway, GatewayError

#: The Stripe API version requests are made with and webhook events must carry.
API_VERSION = "2026-10-28.endive"
PRORATE = "create_prorations"


def client() -> stripe.StripeClient:
    """A Stripe client for the configured key (``CRM_STRIPE_API_BASE`` points it elsewhere,
    e.g. at the tests' local Stripe server)."""
    config = current_app.config
    base = config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        config["STRIPE_SECRET_KEY"],
        stripe_version=API_VERSION,
        base_addresses={"api": base} if base else None,
        max_network_retries=int(config.get("STRIPE_MAX_NETWORK_RETRIES", 2)),
    )


def _options(key: str) -> dict[str, Any]:
    return {"idempotency_key": key}


class StripeGateway(Gateway):
    """Stripe keeps the subscription; we keep the ledger and mirror its state."""

    name = "stripe"
    remote = True

    def __init__(self) -> None:
        self.client = client()

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except stripe.StripeError as exc:
            message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
            raise GatewayError(_("Stripe refused the request: %(error)s", error=message)) from exc

    def ensure_customer(self, customer: BillingCustomer, tenant: Any) -> str:
        """The tenant's Stripe customer id, created once (keyed by our customer's id)."""
        if customer.stripe_customer_id:
            return customer.stripe_customer_id
        created = self._call(
            self.client.v1.customers.create,
            {"name": tenant.name, "metadata": {"tenant_id": str(tenant.id), "slug": tenant.slug}},
            _options(f"crm-customer-{customer.id}"),
        )
        customer.stripe_customer_id = created.id
        db.session.flush()
        return created.id

    def checkout(self, request: CheckoutRequest) -> str | None:
        """A Checkout session for the plan's seats, the paid add-ons and metered prices."""
        plan = request.plan
        if not plan.stripe_price_id:
            raise GatewayError(_("%(plan)s cannot be bought online yet.", plan=plan.name))
        customer = request.subscription.customer
        customer_id = self.ensure_customer(customer, request.tenant)
        items: list[dict[str, Any]] = [{"price": plan.stripe_price_id, "quantity": request.seats}]
        for module in request.addons:
            price = plan.stripe_addon_price_ids.get(module)
            if not price:
                raise GatewayError(_("The add-on %(module)s has no Stripe price.", module=module))
            items.append({"price": price, "quantity": 1})
        items += [{"price": price} for price in plan.stripe_usage_price_ids.values()]
        metadata = {"tenant_id": str(request.tenant.id), "plan": plan.key}
        session = self._call(
            self.client.v1.checkout.sessions.create,
            {
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(request.tenant.id),
                "line_items": items,
                "success_url": request.return_url + "?checkout=done",
                "cancel_url": request.return_url + "?checkout=canceled",
                "metadata": {**metadata, "ledger_entry": str(request.entry.id)},
                "subscription_data": {"metadata": metadata},
            },
            _options(request.entry.idempotency_key),
        )
        request.subscription.synced_through_id = request.entry.id
        return session.url

    def portal_url(self, customer: BillingCustomer, return_url: str) -> str | None:
        """A Customer Portal session (cards, invoices, cancellation)."""
        if not customer.stripe_customer_id:
            return None
        session = self._call(
            self.client.v1.billing_portal.sessions.create,
            {"customer": customer.stripe_customer_id, "return_url": return_url},
        )
        return session.url

    def push(self, subscription: Subscription, entry: LedgerEntry) -> None:
        """Apply a seats, plan or add-on entry to the Stripe subscription, prorated."""
        items = subscription.stripe_items
        options = _options(entry.idempotency_key)
        if entry.kind == "seats":
            self._call(
                self.client.v1.subscription_items.update,
                self._item(items, "seats"),
                {"quantity": entry.seats, "proration_behavior": PRORATE},
                options,
            )
        elif entry.kind == "plan":
            plan = db.session.get(Plan, entry.plan_id)
            if plan is None or not plan.stripe_price_id:
                raise GatewayError(_("The plan has no Stripe price."))
            self._call(
                self.client.v1.subscriptions.update,
                subscription.stripe_subscription_id,
                {
                    "items": [
                        {
                            "id": self._item(items, "seats"),
                            "price": plan.stripe_price_id,
                            "quantity": entry.seats,
                        }
                    ],
                    "proration_behavior": PRORATE,
                    "metadata": {"plan": plan.key},
                },
                options,
            )
        elif entry.kind == "addon_on":
            price = subscription.plan.stripe_addon_price_ids.get(entry.module or "")
            if not price:
                raise GatewayError(
                    _("The add-on %(module)s has no Stripe price.", module=entry.module)
                )
            item = self._call(
                self.client.v1.subscription_items.create,
                {
                    "subscription": subscription.stripe_subscription_id,
                    "price": price,
                    "quantity": 1,
                    "proration_behavior": PRORATE,
                    "metadata": {"module": entry.module},
                },
                options,
            )
            subscription.stripe_items = {**items, f"addon:{entry.module}": item.id}
        elif entry.kind == "addon_off":
            item_id = items.get(f"addon:{entry.module}")
            if item_id:
                self._call(
                    self.client.v1.subscription_items.delete,
                    item_id,
                    {"proration_behavior": PRORATE},
                    options,
                )
                subscription.stripe_items = {
                    k: v for k, v in items.items() if k != f"addon:{entry.module}"
                }

    @staticmethod
    def _item(items: dict[str, str], key: str) -> str:
        item = items.get(key)
        if not item:
            raise GatewayError(_("The Stripe subscription is not linked yet."))
        return item

    def report_usage(self, customer: BillingCustomer, record: UsageRecord) -> None:
        """One meter event per usage record (its id is Stripe's de-duplication identifier)."""
        if not customer.stripe_customer_id:
            raise GatewayError(_("The customer is not linked to Stripe yet."))
        self._call(
            self.client.v1.billing.meter_events.create,
            {
                "event_name": record.metric,
                "payload": {
                    "stripe_customer_id": customer.stripe_customer_id,
                    "value": str(record.quantity),
                },
                "identifier": str(record.id),
                "timestamp": int(aware(record.at).timestamp()),  # type: ignore[union-attr]
            },
            _options(f"crm-usage-{record.id}"),
        )
