"""The partner (channel) portal's pages under ``/t/<slug>/portal/partner/``.

The same session cookie, CSRF check, branding and layout as the customer portal (the cookie's
path covers these pages). Only signed-in ``partner`` users of an active organisation get in:
signed-out visitors and staff sessions get the portal sign-in form, customers get 404, and
every record is looked up by id AND the partner's organisation (404 otherwise).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
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

from . import (
    announcements,
    branding,
    channel_feed,
    ordering,
    partner_leads,
    partners,
    performance,
    shared_deals,
)
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
        "partner_sections": {
            "leads": partner_leads.sales_on(),
            "opportunities": shared_deals.sales_on(),
            "ordering": ordering.sales_on(),
        },
        "feed_message": channel_feed.message,
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
        feed=channel_feed.for_partner(g.partner_org),
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


# --------------------------------------------------------------------------- opportunities


@bp.get("/opportunities")
@partner_only
def opportunities() -> Any:
    """The deals the workspace shares with the organisation (only the exposed fields)."""
    return render_template("portal/partner_opportunities.html", deals=shared_deals.of_partner(me()))


@bp.get("/opportunities/<share_id>")
@partner_only
def opportunity(share_id: str) -> Any:
    """One shared deal: its name and the fields the workspace exposes."""
    deal = shared_deals.one_of_partner(me(), share_id)
    if deal is None:
        abort(404)
    return render_template("portal/partner_opportunity.html", deal=deal)


# --------------------------------------------------------------------------- ordering


def _order_page(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    org = g.partner_org
    query = (request.args.get("q") or "").strip()[:100]
    reason = ordering.not_ready(org)
    offers = [] if reason else ordering.catalogue(org, query)
    chosen, problems = None, {}
    if request.method == "POST" and not reason:
        chosen, problems = ordering.basket(org, request.form)
    page = render_template(
        "portal/partner_order.html",
        offers=offers,
        basket=chosen,
        book=None if reason else ordering.price_book(org),
        not_ready=reason,
        query=query,
        form=request.form,
        errors={**problems, **(errors or {})},
        max_quantity=ordering.MAX_QUANTITY,
    )
    return page, status


@bp.get("/order")
@partner_only
def order_form() -> Any:
    """The configurator: the catalogue at the partner's prices, quantities and totals."""
    return _order_page()


@bp.post("/order/totals")
@partner_only
def order_totals() -> Any:
    """The totals of the quantities entered so far (the configurator's live summary)."""
    org = g.partner_org
    if ordering.not_ready(org):
        abort(404)
    chosen, errors = ordering.basket(org, request.form)
    if request.headers.get("HX-Request"):
        return render_template("portal/_order_totals.html", basket=chosen, errors=errors)
    return _order_page(errors, 400 if errors else 200)


@bp.post("/order")
@partner_only
def send_order() -> Any:
    """Send the order request: it becomes a draft quote in Sales."""
    try:
        row = ordering.submit(me(), request.form)
    except ValidationFailed as exc:
        db.session.rollback()
        return _order_page(exc.errors, 400)
    db.session.commit()
    return redirect(url_for("portal_partner.order_request", order_id=row.id), 303)


@bp.get("/orders")
@partner_only
def order_requests() -> Any:
    """The organisation's order requests and their quotes' progress."""
    rows = ordering.of_partner(me())
    return render_template(
        "portal/partner_orders.html",
        orders=rows,
        quotes={r.id: ordering.quote_of(r) for r in rows},
    )


def _order_or_404(order_id: str) -> Any:
    row = ordering.one_of_partner(me(), order_id)
    if row is None:
        abort(404)
    return row


@bp.get("/orders/<order_id>")
@partner_only
def order_request(order_id: str) -> Any:
    """One order request: the lines as ordered and the quote it became."""
    row = _order_or_404(order_id)
    return _order_request_page(row)


def _order_request_page(row: Any, error: str = "", status: int = 200) -> Any:
    page = render_template(
        "portal/partner_order_request.html",
        order=row,
        quote=ordering.quote_of(row),
        error=error,
        today=date.today(),
    )
    return page, status


@bp.post("/orders/<order_id>/accept")
@partner_only
def accept_order_quote(order_id: str) -> Any:
    """Accept the quote Sales sent for the order (the deal is won)."""
    row = _order_or_404(order_id)
    try:
        ordering.accept(me(), row)
    except ValidationFailed as exc:
        db.session.rollback()
        return _order_request_page(row, "; ".join(str(v) for v in exc.errors.values()), 409)
    db.session.commit()
    return redirect(url_for("portal_partner.order_request", order_id=row.id), 303)
