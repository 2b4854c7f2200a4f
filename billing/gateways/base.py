"""The one interface every payment gateway implements (local, Stripe).

Our database is the ledger: a change of seats, plan or add-ons is first written as an
append-only ``LedgerEntry``, then *pushed* to the gateway by a job with an idempotency key
derived from the entry's id, so a retried push never charges twice. Invoices and the state of
a gateway-managed subscription come back into our tables (the local gateway writes them
itself; Stripe's arrive by webhook).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ..models import BillingCustomer, LedgerEntry, Plan, Subscription, UsageRecord


@dataclass(frozen=True)
class CheckoutRequest:
    """What a tenant asked to buy: the plan, seats and paid add-ons, and where to return."""

    tenant: Any
    subscription: Subscription
    plan: Plan
    seats: int
    addons: tuple[str, ...]
    entry: LedgerEntry
    return_url: str
    actor: str


class GatewayError(RuntimeError):
    """The gateway refused or failed a request; the message is safe to show."""


class Gateway(ABC):
    """A payment gateway. ``name`` is stored on customers and invoices."""

    name: str = ""
    #: True when the gateway keeps the subscription itself (state arrives by webhook).
    remote: bool = False

    @abstractmethod
    def checkout(self, request: CheckoutRequest) -> str | None:
        """Start the first paid subscription; return a URL to send the member to (a hosted
        payment page), or ``None`` when it is done here and now."""

    def portal_url(self, customer: BillingCustomer, return_url: str) -> str | None:
        """A link where the customer manages cards and invoices, or ``None`` (none exists)."""
        return None

    @abstractmethod
    def push(self, subscription: Subscription, entry: LedgerEntry) -> None:
        """Apply the ledger ``entry`` (seats, plan, add-on on/off) at the gateway."""

    @abstractmethod
    def report_usage(self, customer: BillingCustomer, record: UsageRecord) -> None:
        """Report one metered usage record to the gateway."""
