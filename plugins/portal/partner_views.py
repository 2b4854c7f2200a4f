"""The partner (channel) portal's pages under ``/t/<slug>/portal/partner/``.

The same session cookie, CSRF check, branding and layout as the customer portal (the cookie's
path covers these pages). Only signed-in ``partner`` users of an active organisation get in:
signed-out visitors and staff sessions get the portal sign-in form, customers get 404, and
every record is looked up by id AND the partner's organisation (404 otherwise).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)

from crm_platform.sdk import ValidationFailed, db

from . import announcements, branding, partner_leads, partners, performance
from . import registration as regs
from . import session as portal_session
from .models import PortalUser
from .views import enter_portal, error_page, portal_view, write_cookie

bp = Blueprint(
    "portal_partner",
    __name__,
    url_prefix="/t/<tenant_slug>/portal/partner",
    template_folder="templates",
)


@bp.before_request
def _enter() -> None:
    enter_portal()
    user = g.get("portal_partner")
    g.partner_org = partners.organisation_of(user) if user is not None else None


@bp.after_request
def _write_cookie(response: Any) -> Any:
    return write_cookie(response)


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(429)
def _error(exc: Any) -> Any:
    return error_page(exc)


@bp.app_context_processor
def _partner_context() -> dict[str, Any]:
    if not has_request_context() or request.blueprint != "portal_partner":
        return {}
    if g.get("portal_session") is None:
        return {}
    return {
        "portal_user": None,
        "partner_user": g.get("portal_partner") if g.get("partner_org") else None,
        "partner_org": g.get("partner_org"),
        "portal_csrf": portal_session.csrf_token(),
        "brand": branding.Branding.load(),
        "sections": {},
        "partner_sections": {"leads": partner_leads.sales_on()},
    }


def partner_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for signed-in partner users of an active organisation. Customers get 404;
    anyone else (signed out, staff session) the sign-in form, or 404 on a record's page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("portal_user") is not None:
            abort(404)  # customers never see partner pages
        if g.get("portal_partner") is None or g.get("partner_org") is None:
            if any(name.endswith("_id") for name in kwargs) or g.get("portal_partner"):
                abort(404)
            return render_template("portal/sign_in.html", next=request.path, email="")
        return view(*args, **kwargs)

    return portal_view(wrapped)


def me() -> PortalUser:
    """The signed-in partner user."""
    return g.portal_partner


@bp.get("/")
@partner_only
def home() -> Any:
    """The channel announcements for the organisation's tier and its deal registrations."""
    rows = regs.of_partner(me())
    return render_template(
        "portal/partner_home.html",
        registrations=rows,
        summaries={r.id: regs.conflict_summary(r) for r in rows},
        announcements=announcements.for_partner(g.partner_org),
    )


@bp.route("/registrations/new", methods=["GET", "POST"])
@partner_only
def new_registration() -> Any:
    """Register a deal."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            row = regs.register(me(), request.form)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            return redirect(url_for("portal_partner.registration", registration_id=row.id), 303)
    status = 400 if errors else 200
    page = render_template("portal/partner_register.html", errors=errors, form=request.form)
    return page, status


@bp.get("/registrations/<registration_id>")
@partner_only
def registration(registration_id: str) -> Any:
    """One registration: status, conflict summary, the shared fields of its deal."""
    row = regs.one_of_partner(me(), registration_id)
    if row is None:
        abort(404)
    return render_template(
        "portal/partner_registration.html",
        reg=row,
        summary=regs.conflict_summary(row),
        deal=regs.shared_deal(row),
    )


@bp.get("/performance")
@partner_only
def performance_page() -> Any:
    """The organisation's own registrations, wins, won revenue and commission statement for
    a month, quarter or year."""
    period, errors = performance.parse_period(request.args)
    rows = performance.figures(period, org_id=g.partner_org.id)
    page = render_template(
        "portal/partner_performance.html",
        row=rows[0],
        period=period,
        periods=performance.PERIODS,
        errors=errors,
    )
    return page, 400 if errors else 200


@bp.get("/leads")
@partner_only
def leads() -> Any:
    """The leads handed to the organisation: waiting for an answer, and accepted ones."""
    if not partner_leads.sales_on():
        abort(404)
    return _leads_page()


def _leads_page(error: str = "", status: int = 200) -> Any:
    page = render_template(
        "portal/partner_leads.html",
        leads=partner_leads.of_partner(me()),
        error=error,
        done=request.args.get("done") if not error else None,
    )
    return page, status


@bp.post("/leads/<decision>")
@partner_only
def answer_lead(decision: str) -> Any:
    """Accept or decline a handed lead (its id in the form): only the organisation's own."""
    if decision not in ("accept", "decline") or not partner_leads.sales_on():
        abort(404)
    handoff = partner_leads.one_of_partner(me(), request.form.get("handoff_id"), lock=True)
    if handoff is None:
        abort(404)
    try:
        partner_leads.respond(me(), handoff, decision)
    except ValidationFailed as exc:
        db.session.commit()  # a lead Sales took meanwhile stays withdrawn
        return _leads_page("; ".join(str(v) for v in exc.errors.values()), 409)
    db.session.commit()
    return redirect(url_for("portal_partner.leads", done=handoff.status), 303)
