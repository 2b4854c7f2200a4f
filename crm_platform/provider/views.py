"""The provider console's blueprint at ``/provider/``: dashboard, tenants, impersonation.

Every view is ``@require_staff`` (404 for anyone else); actions need their staff role, a
CSRF token (Flask-WTF) and, where they change a tenant, a reason; each is recorded with
``record_staff_action``. The plugin, failed-job and activity pages are in ``views_ops``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..identity import ROLE_LABELS, Tenant, User
from ..ids import parse_uuid
from ..metrics import tenant_usage
from ..modules import installed_modules
from ..provisioning import ValidationFailed, set_tenant_status
from ..reauth import require_recent_auth
from ..web import value_label
from .access import is_staff, require_staff
from .actions import record_staff_action
from .dashboard import billing_facts, churn, dashboard_period, signups, tenants_by_status
from .forms import ButtonForm, ImpersonateForm, ReasonForm
from .hooks import console_navigation, dashboard_widgets, format_money, tenant_panels
from .impersonation import (
    current_impersonation,
    end_impersonation,
    impersonation_minutes,
    start_impersonation,
)
from .impersonation import init_app as init_impersonation
from .tenants import STATUSES, TenantQuery, list_tenants, tenant_detail, tenant_members

bp = Blueprint("provider", __name__, url_prefix="/provider")


@bp.record_once
def _install(state: Any) -> None:
    app: Flask = state.app
    init_impersonation(app)
    app.jinja_env.globals["provider_navigation"] = console_navigation
    app.jinja_env.globals["provider_staff"] = is_staff
    app.jinja_env.filters["money"] = format_money


def actor() -> str:
    """How the provider scope's access log names the signed-in staff member."""
    return f"staff:{current_user.email}"


def tenant_or_404(tenant_id: str) -> Tenant:
    """The tenant with ``tenant_id`` (any tenant: this is the console), else 404."""
    tenant = db.session.get(Tenant, parse_uuid(tenant_id)) if parse_uuid(tenant_id) else None
    if tenant is None:
        abort(404)
    return tenant


def _flash_errors(errors: dict[str, Any]) -> None:
    for message in errors.values():
        for text in message if isinstance(message, list) else [message]:
            flash(str(text), "error")


# --------------------------------------------------------------------------- dashboard


@bp.get("/")
@require_staff
def dashboard() -> Any:
    """Tenants by status, plan and state; sign-ups and churn; plugins' widgets (MRR)."""
    period = dashboard_period()
    by_status = tenants_by_status()
    return render_template(
        "provider/dashboard.html",
        period=period,
        by_status=by_status,
        status_labels=[str(value_label("status", s)) for s in by_status],
        signups=signups(period),
        churn=churn(period, actor()),
        facts=billing_facts(),
        widgets=dashboard_widgets(period),
    )


# --------------------------------------------------------------------------- tenants


@bp.get("/tenants")
@require_staff
def tenants() -> Any:
    """Tenants with search, status and module filters, newest first, a page at a time."""
    query = TenantQuery.from_args(request.args)
    rows, next_after = list_tenants(query, parse_uuid(request.args.get("after")), actor())
    context = {
        "rows": rows,
        "query": query,
        "next_after": next_after,
        "paged": bool(request.args.get("after")),
        "statuses": STATUSES,
        "modules": installed_modules(),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
        return render_template("provider/_tenant_rows.html", **context)
    return render_template("provider/tenants.html", **context)


def _impersonate_form(detail_members: list[Any]) -> ImpersonateForm:
    form = ImpersonateForm(prefix="impersonate")
    form.member.choices = [
        (str(m.user_id), f"{m.name} <{m.email}> · {ROLE_LABELS.get(m.role, m.role)}")
        for m in detail_members
        if m.active
    ]
    return form


@bp.get("/tenants/<tenant_id>")
@require_staff
def tenant(tenant_id: str) -> Any:
    """One tenant: facts, usage, members, modules, panels (billing), audit, actions."""
    row = tenant_or_404(tenant_id)
    detail = tenant_detail(row, actor())
    usage = tenant_usage(row.id)
    return render_template(
        "provider/tenant.html",
        detail=detail,
        usage=usage,
        usage_totals={
            "web_today": usage[-1][1],
            "api_today": usage[-1][2],
            "web": sum(day[1] for day in usage),
            "api": sum(day[2] for day in usage),
            "labels": [day[0].strftime("%m-%d") for day in usage],
        },
        modules=installed_modules(),
        panels=tenant_panels(row),
        impersonate_form=_impersonate_form(detail.members),
        reason_form=ReasonForm(prefix="status"),
        minutes=impersonation_minutes(),
    )


def _set_status(tenant_id: str, status: str) -> Any:
    row = tenant_or_404(tenant_id)
    form = ReasonForm(prefix="status")
    if not form.validate_on_submit():
        flash(_("Give a reason (at most 500 characters)."), "error")
        return redirect(url_for("provider.tenant", tenant_id=row.id))
    if row.status == status:
        flash(_("Nothing changed: %(name)s is already in that state.", name=row.name), "info")
        return redirect(url_for("provider.tenant", tenant_id=row.id))
    set_tenant_status(row, status, actor_label=f"{current_user.email} (provider)")
    action = "tenant.suspended" if status == "suspended" else "tenant.resumed"
    record_staff_action(action, tenant=row, target=row.slug, reason=form.reason.data.strip())
    db.session.commit()
    if status == "suspended":
        flash(_("%(name)s is suspended; its data is kept.", name=row.name), "success")
    else:
        flash(_("%(name)s is active again.", name=row.name), "success")
    return redirect(url_for("provider.tenant", tenant_id=row.id))


@bp.post("/tenants/<tenant_id>/suspend")
@require_staff("admin")
@require_recent_auth
def suspend(tenant_id: str) -> Any:
    """Suspend a tenant: its pages answer 403 and its data is kept."""
    return _set_status(tenant_id, "suspended")


@bp.post("/tenants/<tenant_id>/resume")
@require_staff("admin")
@require_recent_auth
def resume(tenant_id: str) -> Any:
    """Resume a suspended tenant."""
    return _set_status(tenant_id, "active")


# --------------------------------------------------------------------------- impersonation


@bp.post("/tenants/<tenant_id>/impersonate")
@require_staff
@require_recent_auth
def impersonate(tenant_id: str) -> Any:
    """Start acting as a member of this tenant (time-limited, reason required, audited)."""
    row = tenant_or_404(tenant_id)
    form = _impersonate_form(tenant_members(row, actor()))
    back = redirect(url_for("provider.tenant", tenant_id=row.id))
    if not form.validate_on_submit():
        _flash_errors(form.errors)
        return back
    member = db.session.get(User, parse_uuid(form.member.data))
    if member is None:
        abort(404)
    try:
        start_impersonation(
            row,
            member,
            reason=form.reason.data,
            read_only=bool(form.read_only.data),
            staff=current_user._get_current_object(),
            is_member=True,  # the choices are this tenant's active members
        )
    except ValidationFailed as exc:
        db.session.rollback()
        _flash_errors(exc.errors)
        return back
    db.session.commit()
    return redirect(url_for("workspace.home", tenant_slug=row.slug))


@bp.post("/impersonation/end")
@require_staff
def end_impersonation_view() -> Any:
    """End this session's impersonation and go back to the tenant's console page."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    row = current_impersonation()
    if row is None:
        return redirect(url_for("provider.dashboard"))
    end_impersonation(row, "ended")
    db.session.commit()
    flash(_("Impersonation ended."), "success")
    return redirect(url_for("provider.tenant", tenant_id=row.target_tenant_id))


# plugins, failed jobs, staff activity; export and deletion of a tenant's data
from . import views_lifecycle, views_ops  # noqa: E402,F401
