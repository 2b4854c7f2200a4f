"""The local gateway: subscriptions and invoices kept in our database, paid on the billing
page. It is the default when no Stripe key is configured, so a self-hosted install and the
demo work end to end without any payment provider."""

from __future__ import annotations

from crm_platform.sdk import db, utcnow

from ..invoicing import add_months, issue_invoice, subscription_lines
from ..models import BillingCustomer, LedgerEntry, Subscription, UsageRecord
from .base import CheckoutRequest, Gateway


class LocalGateway(Gateway):
    """Activates at once with an open first invoice; changes apply from the next invoice."""

    name = "local"
    remote = False

    def checkout(self, request: CheckoutRequest) -> str | None:
        """Start the paid subscription now; its first month's invoice is open."""
        now = utcnow()
        subscription = request.subscription
        subscription.plan_id, subscription.plan = request.plan.id, request.plan
        subscription.seats = request.seats
        subscription.addons = list(request.addons)
        subscription.status = "active"
        subscription.trial_ends_at = None
        subscription.canceled_at = None
        subscription.cancel_at_period_end = False
        subscription.current_period_start = now
        subscription.current_period_end = add_months(now)
        subscription.synced_through_id = request.entry.id
        lines = subscription_lines(subscription, request.plan)
        issue_invoice(subscription, lines, start=now, end=subscription.current_period_end, now=now)
        db.session.flush()
        return None

    def push(self, subscription: Subscription, entry: LedgerEntry) -> None:
        """Nothing to send: the next invoice reads the subscription as it is then."""

    def report_usage(self, customer: BillingCustomer, record: UsageRecord) -> None:
        """Nothing to send: local invoices add the period's usage themselves."""
