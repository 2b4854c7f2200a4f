"""Billing's pages in the provider console (staff only): the plans editor, Stripe webhook
events with their status and a retry button, and the actions of a tenant's billing panel.

Every view is ``require_staff``; changing plans and tenants needs the ``admin`` staff role,
retrying an event does not. Each action is logged with ``record_staff_action``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select, update
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from crm_platform.sdk import (
    Tenant,
    ValidationFailed,
    db,
    parse_uuid,
    record_staff_action,
    require_recent_auth,
    require_staff,
)

from .models import EVENT_STATES, Plan, StripeEvent
from .service import change_plan, extend_trial, resume, suspend
from .stripe_events import retry_event

bp = Blueprint("billing_provider", __name__, url_prefix="/provider/billing")
EVENTS_SHOWN = 100
_KEY = r"^[a-z][a-z0-9_]{1,39}$"


class PlanForm(FlaskForm):
    """A plan as the provider edits it (maps are one ``key = value`` per line)."""

    key = StringField(_l("Key"), validators=[DataRequired(), Regexp(_KEY)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    position = IntegerField(_l("Position"), default=0, validators=[Optional()])
    active = BooleanField(_l("Offered to tenants"), default=True)
    is_default = BooleanField(_l("New tenants start their trial on this plan"))
    currency = StringField(_l("Currency"), default="usd", validators=[Regexp(r"^[a-zA-Z]{3}$")])
    price_per_seat = StringField(_l("Price per seat and month"), default="0")
    max_seats = IntegerField(_l("Most seats (empty: unlimited)"), validators=[Optional()])
    trial_days = IntegerField(_l("Trial days"), default=0, validators=[NumberRange(0, 365)])
    grace_days = IntegerField(
        _l("Grace days when past due"), default=14, validators=[NumberRange(0, 90)]
    )
    api_rate_limit = StringField(
        _l("API rate limit (empty: platform default)"), validators=[Length(max=100)]
    )
    storage_mb = IntegerField(_l("Storage in MB"), validators=[Optional()])
    included_modules = StringField(_l("Included modules (comma-separated, * for all)"))
    addon_modules = TextAreaField(_l("Paid add-ons: module = monthly price"))
    record_limits = TextAreaField(_l("Record limits: kind = most records"))
    usage_prices = TextAreaField(_l("Metered usage: metric = included / price per 1000"))
    stripe_price_id = StringField(_l("Stripe price of a seat"), validators=[Length(max=100)])
    stripe_addon_price_ids = TextAreaField(_l("Stripe prices of add-ons: module = price id"))
    stripe_usage_price_ids = TextAreaField(_l("Stripe metered prices: metric = price id"))


def _cents(text: str) -> int:
    value = (text or "").strip().replace(",", "")
    if not re.match(r"^\d+(\.\d{1,2})?$", value):
        raise ValueError(_("Enter an amount like 15 or 15.50."))
    return round(float(value) * 100)


def _pairs(text: str, parse: Any) -> dict[str, Any]:
    out = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.match(_KEY, key):
            raise ValueError(_("Line %(num)d: write key = value.", num=number))
        try:
            out[key] = parse(value.strip())
        except ValueError:
            raise ValueError(_("Line %(num)d: the value is not valid.", num=number)) from None
    return out


def _usage(value: str) -> dict[str, int]:
    included, _sep, price = value.partition("/")
    return {"included": int(included.strip()), "per_1000_cents": _cents(price or "0")}


def _price_id(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9_]{3,100}$", value):
        raise ValueError(value)
    return value


def _text(mapping: dict[str, Any], show: Any = str) -> str:
    return "\n".join(f"{k} = {show(v)}" for k, v in sorted(mapping.items()))


def _fill(form: PlanForm, plan: Plan) -> None:
    form.price_per_seat.data = f"{plan.price_per_seat_cents / 100:.2f}"
    form.included_modules.data = ", ".join(plan.included_modules)
    form.addon_modules.data = _text(plan.addon_modules, lambda c: f"{c / 100:.2f}")
    form.record_limits.data = _text(plan.record_limits)
    form.usage_prices.data = _text(
        plan.usage_prices,
        lambda u: f"{u.get('included', 0)} / {u.get('per_1000_cents', 0) / 100:.2f}",
    )
    form.stripe_addon_price_ids.data = _text(plan.stripe_addon_price_ids)
    form.stripe_usage_price_ids.data = _text(plan.stripe_usage_price_ids)


def _read(form: PlanForm, plan: Plan) -> dict[str, str]:
    """Copy the form into ``plan``; field errors by name (nothing copied when any)."""
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    parsers = {
        "price_per_seat_cents": ("price_per_seat", _cents),
        "addon_modules": ("addon_modules", lambda t: _pairs(t, _cents)),
        "record_limits": ("record_limits", lambda t: _pairs(t, int)),
        "usage_prices": ("usage_prices", lambda t: _pairs(t, _usage)),
        "stripe_addon_price_ids": ("stripe_addon_price_ids", lambda t: _pairs(t, _price_id)),
        "stripe_usage_price_ids": ("stripe_usage_price_ids", lambda t: _pairs(t, _price_id)),
    }
    for attr, (name, parse) in parsers.items():
        try:
            parsed[attr] = parse(getattr(form, name).data or "")
        except ValueError as exc:
            errors[name] = str(exc)
    modules = [m.strip() for m in (form.included_modules.data or "").split(",") if m.strip()]
    if any(m != "*" and not re.match(_KEY, m) for m in modules):
        errors["included_modules"] = _("Name modules by their keys, separated by commas.")
    taken = db.session.scalar(select(Plan.id).where(Plan.key == form.key.data, Plan.id != plan.id))
    if taken:
        errors["key"] = _("Another plan has this key.")
    if errors:
        return errors
    plan.key, plan.name = form.key.data, form.name.data.strip()
    plan.description = (form.description.data or "").strip()
    plan.position, plan.active = form.position.data or 0, bool(form.active.data)
    plan.currency = form.currency.data.lower()
    plan.max_seats, plan.storage_mb = form.max_seats.data, form.storage_mb.data
    plan.trial_days, plan.grace_days = form.trial_days.data or 0, form.grace_days.data or 0
    plan.api_rate_limit = (form.api_rate_limit.data or "").strip() or None
    plan.stripe_price_id = (form.stripe_price_id.data or "").strip() or None
    plan.included_modules = modules
    for attr, value in parsed.items():
        setattr(plan, attr, value)
    if form.is_default.data:
        db.session.execute(update(Plan).where(Plan.id != plan.id).values(is_default=False))
    plan.is_default = bool(form.is_default.data)
    return {}


@bp.get("/plans")
@require_staff
def plans() -> Any:
    """Every plan, offered or not."""
    rows = db.session.scalars(select(Plan).order_by(Plan.position, Plan.name)).all()
    return render_template("billing/provider_plans.html", plans=rows)


@bp.route("/plans/new", methods=["GET", "POST"])
@require_staff("admin")
def plan_new() -> Any:
    """Create a plan."""
    return _edit(Plan(included_modules=[], addon_modules={}, record_limits={}), new=True)


@bp.route("/plans/<plan_id>", methods=["GET", "POST"])
@require_staff("admin")
def plan_edit(plan_id: str) -> Any:
    """Edit a plan: prices, modules, limits, Stripe prices."""
    pid = parse_uuid(plan_id)
    plan = db.session.get(Plan, pid) if pid else None
    if plan is None:
        abort(404)
    return _edit(plan, new=False)


def _edit(plan: Plan, *, new: bool) -> Any:
    form = PlanForm(obj=None if new else plan)
    if request.method == "GET" and not new:
        _fill(form, plan)
    status = 200
    if form.validate_on_submit():
        errors = _read(form, plan)
        if not errors:
            if new:
                db.session.add(plan)
            db.session.flush()
            record_staff_action(
                "billing.plan_saved", target=plan.key, details={"new": new, "plan": plan.name}
            )
            db.session.commit()
            flash(_("Plan %(name)s saved.", name=plan.name), "success")
            return redirect(url_for("billing_provider.plans")), 303
        db.session.rollback()
        for name, message in errors.items():
            getattr(form, name).errors = [message]
        status = 400
    elif form.is_submitted():
        status = 400
    return render_template("billing/provider_plan.html", form=form, plan=plan, new=new), status


@bp.get("/events")
@require_staff
def events() -> Any:
    """Stripe webhook events, newest first (``?status=failed`` filters)."""
    status = request.args.get("status", "")
    stmt = select(StripeEvent).order_by(StripeEvent.received_at.desc()).limit(EVENTS_SHOWN)
    if status in EVENT_STATES:
        stmt = stmt.where(StripeEvent.status == status)
    return render_template(
        "billing/provider_events.html",
        events=db.session.scalars(stmt).all(),
        status=status,
        states=EVENT_STATES,
    )


@bp.post("/events/<event_id>/retry")
@require_staff
def event_retry(event_id: str) -> Any:
    """Process an event again."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        row = retry_event(event_id)
    except ValidationFailed as exc:
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("billing_provider.events")), 303
    record_staff_action(
        "billing.event_retried", target=row.stripe_event_id, details={"status": row.status}
    )
    db.session.commit()
    kind = "success" if row.status == "succeeded" else "error"
    flash(_("Event %(id)s: %(status)s.", id=row.stripe_event_id, status=row.status), kind)
    return redirect(url_for("billing_provider.events")), 303


def _tenant(tenant_id: str) -> Tenant:
    tid = parse_uuid(tenant_id)
    tenant = db.session.get(Tenant, tid) if tid else None
    if tenant is None:
        abort(404)
    return tenant


def _act(tenant: Tenant, action: str, run: Any, details: dict[str, Any]) -> Any:
    reason = (request.form.get("reason") or "").strip()
    if not FlaskForm().validate_on_submit():
        abort(400)
    if not reason:
        flash(_("Give a reason: it is kept in the staff log."), "error")
        return redirect(url_for("provider.tenant", tenant_id=tenant.id)), 303
    try:
        run()
    except ValidationFailed as exc:
        db.session.rollback()
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("provider.tenant", tenant_id=tenant.id)), 303
    record_staff_action(
        action, tenant=tenant, target=tenant.slug, reason=reason, details=details, tenant_log=True
    )
    db.session.commit()
    flash(_("Billing of %(name)s updated.", name=tenant.name), "success")
    return redirect(url_for("provider.tenant", tenant_id=tenant.id)), 303


@bp.post("/tenants/<tenant_id>/plan")
@require_staff("admin")
@require_recent_auth
def tenant_plan(tenant_id: str) -> Any:
    """Move a tenant to another plan."""
    tenant = _tenant(tenant_id)
    key = request.form.get("plan", "")
    return _act(
        tenant,
        "billing.plan_changed",
        lambda: change_plan(tenant, key, actor="provider", source="provider"),
        {"plan": key},
    )


@bp.post("/tenants/<tenant_id>/trial")
@require_staff("admin")
@require_recent_auth
def tenant_trial(tenant_id: str) -> Any:
    """Extend a tenant's trial."""
    tenant = _tenant(tenant_id)
    try:
        days = int(request.form.get("days", ""))
    except ValueError:
        days = 0
    return _act(
        tenant,
        "billing.trial_extended",
        lambda: extend_trial(tenant, days, actor="provider"),
        {"days": days},
    )


@bp.post("/tenants/<tenant_id>/suspension")
@require_staff("admin")
@require_recent_auth
def tenant_suspension(tenant_id: str) -> Any:
    """Suspend or resume a tenant's billing (suspended: read-only, data kept)."""
    tenant = _tenant(tenant_id)
    if request.form.get("action") == "resume":
        return _act(tenant, "billing.resumed", lambda: resume(tenant, actor="provider"), {})
    return _act(tenant, "billing.suspended", lambda: suspend(tenant, actor="provider"), {})
