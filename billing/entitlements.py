"""The one place that answers "may this tenant do X?" from its subscription and plan.

:func:`entitlements_for` reads a tenant's live subscription and plan once (cached per request
or job) and says: which state applies (a past-due subscription past its grace period, or a
local trial past its end, counts as read-only at once, before any job notices), whether the
tenant is read-only and why, the banner to show, the seats, record and API limits, and which
modules the plan allows. ``crm_tenant_policy`` and ``crm_module_allowed`` (``plugin.py``)
only translate this answer for the core.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import g, has_app_context, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import TenantPolicy, db, forget_policy, utcnow

from .formatting import day, money
from .models import READ_ONLY_STATES, Invoice, Plan, Subscription, aware

#: A banner warns this many days before a trial ends.
TRIAL_WARNING_DAYS = 7
_CACHE = "billing_entitlements"


@dataclass(frozen=True)
class Entitlements:
    """What a tenant may do now, and why not (plain values, safe to cache)."""

    plan_key: str
    plan_name: str
    included_modules: tuple[str, ...]
    addon_modules: dict[str, int]
    currency: str
    subscription_id: uuid.UUID | None
    state: str  # a subscription state, or "none"
    read_only: str | None = None
    banner: str | None = None
    overdue_since: datetime | None = None
    grace_ends_at: datetime | None = None
    max_seats: int | None = None
    record_limits: dict[str, int] = field(default_factory=dict)
    api_rate_limit: str | None = None

    def includes(self, feature: str) -> bool:
        """True when the plan includes module ``feature`` at no extra cost."""
        return "*" in self.included_modules or feature in self.included_modules

    def module_allowed(self, feature: str) -> bool:
        """True when the plan includes ``feature`` or sells it as an add-on."""
        return self.includes(feature) or feature in self.addon_modules

    def addon_price(self, feature: str) -> int | None:
        """The monthly price of ``feature`` as a paid add-on, or ``None``."""
        return None if self.includes(feature) else self.addon_modules.get(feature)


def live_subscription(tenant_id: uuid.UUID) -> Subscription | None:
    """The tenant's live subscription, or ``None``."""
    return db.session.scalar(
        select(Subscription).where(
            Subscription.customer_id == tenant_id, Subscription.live.is_(True)
        )
    )


def default_plan() -> Plan | None:
    """The plan new tenants start on (the first active plan when none is marked)."""
    return db.session.scalars(
        select(Plan).where(Plan.active.is_(True)).order_by(Plan.is_default.desc(), Plan.position)
    ).first()


def overdue_since(subscription: Subscription) -> datetime | None:
    """When the oldest unpaid invoice of ``subscription`` fell due, or ``None``.

    Derived from the invoices (not from the order events arrived in), so replaying webhooks
    in any order gives the same grace period.
    """
    rows = db.session.scalars(
        select(Invoice).where(Invoice.subscription_id == subscription.id, Invoice.status == "open")
    ).all()
    times = [aware(i.due_at or i.issued_at) for i in rows]
    return min((t for t in times if t is not None), default=None)


def _date(value: datetime) -> str:
    return day(value) if has_request_context() else value.date().isoformat()


def effective_state(subscription: Subscription, now: datetime) -> tuple[str, str | None]:
    """The state that applies now and, when it differs from the stored one, why."""
    status = subscription.status
    trial_end = aware(subscription.trial_ends_at)
    if (
        status == "trialing"
        and subscription.stripe_subscription_id is None
        and trial_end is not None
        and trial_end <= now
    ):
        return "canceled", "trial_ended"
    if status == "past_due":
        since = overdue_since(subscription)
        if since is not None and since + timedelta(days=subscription.plan.grace_days) <= now:
            return "unpaid", "grace_ended"
    return status, None


def _read_only_reason(state: str, why: str | None, subscription: Subscription) -> str | None:
    if state not in READ_ONLY_STATES:
        return None
    if state == "canceled" and (
        why == "trial_ended" or subscription.plan.price_per_seat_cents == 0
    ):
        return _(
            "Your trial has ended: choose a plan to keep working. Your data is kept and you "
            "can still read and export it."
        )
    if state == "canceled":
        return _(
            "The subscription is canceled: subscribe again to keep working. Your data is kept "
            "and you can still read and export it."
        )
    if state == "suspended":
        return _(
            "Billing for this workspace is suspended by the provider: it is read-only until "
            "support resumes it."
        )
    return _(
        "Payment is overdue: the workspace is read-only until the open invoices are paid. "
        "Your data is kept and you can still read and export it."
    )


def _banner(state: str, subscription: Subscription, now: datetime, grace_end: Any) -> str | None:
    if state == "past_due":
        if grace_end is not None:
            return _(
                "Your last payment failed. Pay by %(date)s to keep full access.",
                date=_date(grace_end),
            )
        return _("Your last payment failed: update your payment details.")
    trial_end = aware(subscription.trial_ends_at)
    if state == "trialing" and trial_end is not None and subscription.stripe_subscription_id:
        return None  # Stripe bills at the end of the trial
    if state == "trialing" and trial_end is not None:
        days = (trial_end - now).days
        if days < TRIAL_WARNING_DAYS:
            return _(
                "Your trial ends on %(date)s: choose a plan to keep working.",
                date=_date(trial_end),
            )
    if subscription.cancel_at_period_end and subscription.current_period_end is not None:
        return _(
            "The subscription ends on %(date)s.", date=_date(aware(subscription.current_period_end))
        )
    return None


def _terms(plan: Plan) -> tuple[str, str, tuple[str, ...], dict[str, int], str]:
    return (
        plan.key,
        plan.name,
        tuple(plan.included_modules),
        dict(plan.addon_modules),
        plan.currency,
    )


def compute(subscription: Subscription | None, now: datetime | None = None) -> Entitlements:
    """The entitlements of a subscription (``None``: a tenant without one gets the default
    plan's limits and no restriction)."""
    now = now or utcnow()
    if subscription is None:
        plan = default_plan()
        if plan is None:
            return Entitlements("", "", ("*",), {}, "usd", None, "none")
        return Entitlements(
            *_terms(plan),
            subscription_id=None,
            state="none",
            max_seats=plan.max_seats,
            record_limits=dict(plan.record_limits),
            api_rate_limit=plan.api_rate_limit,
        )
    plan = subscription.plan
    state, why = effective_state(subscription, now)
    since = overdue_since(subscription) if state in ("past_due", "unpaid") else None
    grace_end = since + timedelta(days=plan.grace_days) if since is not None else None
    read_only = _read_only_reason(state, why, subscription)
    seats = plan.max_seats if state == "trialing" else subscription.seats
    return Entitlements(
        *_terms(plan),
        subscription_id=subscription.id,
        state=state,
        read_only=read_only,
        banner=read_only or _banner(state, subscription, now, grace_end),
        overdue_since=since,
        grace_ends_at=grace_end,
        max_seats=seats,
        record_limits=dict(plan.record_limits),
        api_rate_limit=plan.api_rate_limit,
    )


def entitlements_for(tenant_id: uuid.UUID) -> Entitlements:
    """The entitlements of a tenant now (cached per request or job; see :func:`forget`)."""
    cache: dict[uuid.UUID, Entitlements] | None = None
    if has_app_context():
        cache = g.setdefault(_CACHE, {})
        if tenant_id in cache:
            return cache[tenant_id]
    with db.session.no_autoflush:
        found = compute(live_subscription(tenant_id))
    if cache is not None:
        cache[tenant_id] = found
    return found


def forget() -> None:
    """Forget cached entitlements and policies (after a subscription changed)."""
    if has_app_context():
        g.pop(_CACHE, None)
    forget_policy()


def policy_for(tenant: Any) -> TenantPolicy:
    """The core's ``TenantPolicy`` of ``tenant`` (``crm_tenant_policy``), read afresh: the
    core caches it and forgets it when it must (e.g. before each job)."""
    with db.session.no_autoflush:
        ent = compute(live_subscription(tenant.id))
    url = None
    if ent.banner and has_request_context():
        url = url_for("billing.page", tenant_slug=tenant.slug)
    addons = {
        feature: _("%(price)s a month", price=money(price, ent.currency))
        for feature, price in ent.addon_modules.items()
        if ent.addon_price(feature)
    }
    return TenantPolicy(
        plan=ent.plan_name,
        state=ent.state,
        read_only=ent.read_only,
        banner=ent.banner,
        banner_url=url,
        api_rate_limit=ent.api_rate_limit,
        max_seats=ent.max_seats,
        record_limits=ent.record_limits,
        addons=addons,
    )
