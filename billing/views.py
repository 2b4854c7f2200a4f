"""The tenant's billing page: plan, state, seats, invoices, usage, and the actions on them.

Owners and admins (``settings.manage``) only. Its forms stay usable while the workspace is
read-only (``allowed_while_read_only``): paying is how a tenant gets out of that state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.fields import SelectChoice

from crm_platform.sdk import (
    ValidationFailed,
    allowed_while_read_only,
    current_user,
    db,
    installed_modules,
    module_enabled,
    parse_uuid,
    require_permission,
    require_recent_auth,
    utcnow,
)

from .entitlements import entitlements_for, live_subscription
from .formatting import day, money
from .forms import ButtonForm, PlanForm, SeatsForm, SubscribeForm
from .gateways import GatewayError, default_gateway, gateway_for
from .invoicing import next_invoice_cents, usage_totals
from .models import PAID_STATES, BillingCustomer, Invoice, Plan, aware
from .service import (
    change_plan,
    members_count,
    offered_plans,
    pay_invoice,
    set_seats,
    subscribe,
)

bp = Blueprint(
    "billing", __name__, url_prefix="/t/<tenant_slug>/settings/billing", template_folder="templates"
)

STATE_LABELS = {
    "none": _l("no subscription"),
    "trialing": _l("trial"),
    "active": _l("active"),
    "past_due": _l("past due"),
    "unpaid": _l("unpaid"),
    "canceled": _l("canceled"),
    "suspended": _l("suspended"),
}
INVOICE_LABELS = {
    "draft": _l("draft"),
    "open": _l("open"),
    "paid": _l("paid"),
    "void": _l("void"),
    "uncollectible": _l("uncollectible"),
}
HISTORY = 24


def _plan_choices(plans: list[Plan]) -> list[SelectChoice]:
    return [
        SelectChoice(p.key, f"{p.name} · {money(p.price_per_seat_cents, p.currency)}")
        for p in plans
    ]


def _addons(plan: Plan | None) -> list[dict[str, Any]]:
    """The plan's paid add-ons among the installed modules, with price and switch state."""
    if plan is None:
        return []
    out = []
    for key, descriptor in sorted(installed_modules().items()):
        price = plan.addon_price(descriptor.feature)
        if price:
            out.append(
                {"name": descriptor.name, "price": price, "on": module_enabled(key), "key": key}
            )
    return out


def _usage(customer_id: uuid.UUID, plan: Plan | None, since: datetime | None) -> list[dict]:
    now = utcnow()
    start = since if since is not None and since <= now else now.replace(day=1)
    totals = usage_totals(customer_id, start, now)
    metrics = sorted(set(totals) | set((plan.usage_prices if plan else {}) or {}))
    return [
        {
            "metric": m,
            "used": totals.get(m, 0),
            "included": ((plan.usage_prices.get(m) or {}).get("included") if plan else None),
        }
        for m in metrics
    ]


def _page(
    subscribe_form: SubscribeForm | None = None,
    plan_form: PlanForm | None = None,
    seats_form: SeatsForm | None = None,
    status: int = 200,
) -> Any:
    tenant = g.tenant
    subscription = live_subscription(tenant.id)
    ent = entitlements_for(tenant.id)
    plans = offered_plans()
    plan = subscription.plan if subscription else None
    paid = subscription is not None and subscription.status in PAID_STATES
    customer = db.session.get(BillingCustomer, tenant.id)
    used = members_count(tenant)
    if subscribe_form is None:
        subscribe_form = SubscribeForm(seats=max(used, 1))
    subscribe_form.plan.choices = _plan_choices(plans)
    if plan_form is None:
        plan_form = PlanForm(plan=plan.key if plan else None)
    plan_form.plan.choices = _plan_choices(plans)
    if seats_form is None:
        seats_form = SeatsForm(seats=subscription.seats if subscription else max(used, 1))
    invoices = db.session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == tenant.id)
        .order_by(Invoice.issued_at.desc())
        .limit(HISTORY)
    ).all()
    gateway = gateway_for(subscription) if subscription else default_gateway()
    period_start = aware(subscription.current_period_start) if subscription else None
    return (
        render_template(
            "billing/billing.html",
            subscription=subscription,
            plan=plan,
            ent=ent,
            paid=paid,
            plans=plans,
            used=used,
            invoices=invoices,
            next_invoice=next_invoice_cents(subscription) if paid else None,
            addons=_addons(plan),
            usage=_usage(tenant.id, plan, period_start),
            gateway=gateway,
            new_gateway=default_gateway(),
            portal=bool(customer and customer.stripe_customer_id and gateway.remote),
            subscribe_form=subscribe_form,
            plan_form=plan_form,
            seats_form=seats_form,
            button_form=ButtonForm(),
            money=money,
            state_labels=STATE_LABELS,
            invoice_labels=INVOICE_LABELS,
            day=day,
        ),
        status,
    )


def _back() -> Any:
    return redirect(url_for("billing.page")), 303


@bp.get("")
@require_permission("settings.manage")
@allowed_while_read_only
def page() -> Any:
    """Plan, state, seats used and paid, next invoice, invoices, usage and the actions."""
    outcome = request.args.get("checkout")
    if outcome == "done":
        flash(
            _("Thank you! The subscription starts as soon as the payment is confirmed."), "success"
        )
    elif outcome == "canceled":
        flash(_("The payment was canceled; nothing changed."), "error")
    return _page()


@bp.post("/subscribe")
@require_permission("settings.manage")
@allowed_while_read_only
def subscribe_view() -> Any:
    """Buy a plan: Stripe Checkout, or the local gateway's first invoice."""
    form = SubscribeForm()
    form.plan.choices = _plan_choices(offered_plans())
    if not form.validate_on_submit():
        return _page(subscribe_form=form, status=400)
    return_url = current_app.config["BASE_URL"] + url_for("billing.page")
    try:
        url = subscribe(
            g.tenant, form.plan.data, form.seats.data, actor=current_user, return_url=return_url
        )
    except ValidationFailed as exc:
        db.session.rollback()
        form.plan.errors = [exc.errors["plan"]] if "plan" in exc.errors else []
        form.seats.errors = [exc.errors["seats"]] if "seats" in exc.errors else []
        return _page(subscribe_form=form, status=400)
    except GatewayError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back()
    db.session.commit()
    if url:
        return redirect(url), 303
    flash(_("Subscribed. The first invoice is open below: pay it within a week."), "success")
    return _back()


@bp.post("/plan")
@require_permission("settings.manage")
@allowed_while_read_only
@require_recent_auth
def change_plan_view() -> Any:
    """Upgrade or downgrade."""
    form = PlanForm()
    form.plan.choices = _plan_choices(offered_plans())
    if not form.validate_on_submit():
        return _page(plan_form=form, status=400)
    try:
        subscription = change_plan(g.tenant, form.plan.data, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        form.plan.errors = [next(iter(exc.errors.values()))]
        return _page(plan_form=form, status=400)
    db.session.commit()
    flash(_("The workspace is now on %(plan)s.", plan=subscription.plan.name), "success")
    return _back()


@bp.post("/seats")
@require_permission("settings.manage")
@allowed_while_read_only
def seats_view() -> Any:
    """Buy or release seats."""
    form = SeatsForm()
    if not form.validate_on_submit():
        return _page(seats_form=form, status=400)
    try:
        subscription = set_seats(g.tenant, form.seats.data, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        form.seats.errors = [next(iter(exc.errors.values()))]
        return _page(seats_form=form, status=400)
    db.session.commit()
    flash(_("The subscription now has %(num)d seats.", num=subscription.seats), "success")
    return _back()


@bp.post("/invoices/<invoice_id>/pay")
@require_permission("settings.manage")
@allowed_while_read_only
def pay(invoice_id: str) -> Any:
    """Pay an open invoice of the local gateway."""
    iid = parse_uuid(invoice_id)
    invoice = (
        db.session.scalar(
            select(Invoice).where(Invoice.id == iid, Invoice.customer_id == g.tenant.id)
        )
        if iid
        else None
    )
    if invoice is None:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        pay_invoice(g.tenant, invoice, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(next(iter(exc.errors.values())), "error")
        return _back()
    db.session.commit()
    flash(_("Invoice %(number)s is paid. Thank you!", number=invoice.number), "success")
    return _back()


@bp.post("/portal")
@require_permission("settings.manage")
@allowed_while_read_only
@require_recent_auth
def portal() -> Any:
    """Open Stripe's Customer Portal (cards, invoices, cancellation)."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    customer = db.session.get(BillingCustomer, g.tenant.id)
    subscription = live_subscription(g.tenant.id)
    url = None
    if customer is not None and subscription is not None:
        return_url = current_app.config["BASE_URL"] + url_for("billing.page")
        try:
            url = gateway_for(subscription).portal_url(customer, return_url)
        except GatewayError as exc:
            flash(str(exc), "error")
            return _back()
    if not url:
        flash(_("Payment details are managed on this page."), "error")
        return _back()
    return redirect(url), 303
