"""The customer portal's pages under ``/t/<slug>/portal/``.

Every view is a ``public_tenant_view``: the core resolves the workspace and enters its
context but does not ask for a staff sign-in. The blueprint then answers 404 while the
Portal module is off, loads the portal session from its own cookie (never the staff
session), checks its own CSRF token on every POST, and sends signed-out visitors of private
pages to the portal sign-in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    TokenError,
    ValidationFailed,
    allowed_while_read_only,
    audit_record,
    csrf_exempt,
    db,
    module_enabled,
    over_rate_limit,
    parse_uuid,
    public_tenant_view,
    tenant_policy,
    utcnow,
)

from . import accounts, branding, customer
from . import session as portal_session
from .models import PortalUser

bp = Blueprint(
    "portal", __name__, url_prefix="/t/<tenant_slug>/portal", template_folder="templates"
)
SIGN_IN_LIMIT = "10 per minute;50 per hour"
MAIL_LIMIT = "5 per minute;20 per hour"
STATIC = Path(__file__).parent / "static"


def portal_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """A portal page: public for the core (own session and CSRF), 404 when the module is off."""
    return public_tenant_view(csrf_exempt(view))


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for signed-in portal users only. Anyone else (signed out, or with only a staff
    session) gets the portal's sign-in form in its place, or 404 on a record's page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("portal_user") is None and g.get("portal_partner") is not None:
            if request.endpoint == "portal.home":
                return redirect(url_for("portal_partner.home"))
            abort(404)  # partners never see customers' pages
        if g.get("portal_user") is None:
            if any(name.endswith("_id") for name in kwargs):
                abort(404)  # a record's page: never say whether it exists
            return render_template("portal/sign_in.html", next=request.path, email="")
        return view(*args, **kwargs)

    return portal_view(wrapped)


def enter_portal() -> None:
    """Load the portal session of this request: ``g.portal_user`` (a customer) or
    ``g.portal_partner`` (a partner user), a void session replaced by a clean one; then the
    portal's CSRF check on POST. 404 while the module is off."""
    if not module_enabled(branding.KEY):
        abort(404)
    data = portal_session.load(g.tenant.id)
    g.portal_user = g.portal_partner = None
    uid = data.get("u")
    if uid:
        user = db.session.scalars(
            select(PortalUser).where(PortalUser.id == parse_uuid(uid))
        ).first()
        if (
            user is not None
            and user.is_active
            and user.kind in ("customer", "partner")
            and user.session_version == data.get("v")
        ):
            if user.kind == "customer":
                g.portal_user = user
            else:  # partner users get the partner portal, not this one
                g.portal_partner = user
        else:
            portal_session.new_session(g.tenant.id)  # void session: start a clean one
    if request.method == "POST":
        portal_session.check_csrf()


@bp.before_request
def _enter_portal() -> None:
    enter_portal()


@bp.after_request
def _write_cookie(response: Any) -> Any:
    return write_cookie(response)


def write_cookie(response: Any) -> Any:
    """Portal headers (no framing, no caching of private pages) and the session cookie."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint not in ("portal.stylesheet", "portal.logo"):
        response.headers["Cache-Control"] = "no-store"  # customers' data stays off caches
    tenant = g.get("tenant")
    return portal_session.save(response, tenant.slug) if tenant is not None else response


@bp.app_context_processor
def _portal_context() -> dict[str, Any]:
    if not has_request_context() or request.blueprint != "portal":
        return {}
    if g.get("portal_session") is None:
        return {}
    return {
        "portal_user": g.get("portal_user"),
        "portal_csrf": portal_session.csrf_token(),
        "brand": branding.Branding.load(),
        "sections": customer.sections() if g.get("portal_user") else {},
    }


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(429)
def _error(exc: Any) -> Any:
    return error_page(exc)


def error_page(exc: Any) -> Any:
    """Errors of portal pages in the portal's own layout (the core's page while it is off)."""
    code = getattr(exc, "code", 500) or 500
    template = "portal/error.html" if g.get("portal_session") else "errors/error.html"
    return render_template(template, code=code, error=exc), code


def _safe_next(target: str | None) -> str:
    prefix = portal_session.cookie_path(g.tenant.slug) + "/"
    if target and target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return url_for("portal.home")


def _wait_page(template: str, seconds: int, **context: Any) -> Any:
    error = _("Too many attempts: try again in %(num)d seconds.", num=seconds)
    return render_template(template, error=error, **context), 429, {"Retry-After": str(seconds)}


# --------------------------------------------------------------------------- assets


@bp.get("/portal.css")
@portal_view
def stylesheet() -> Any:
    """The portal's own small stylesheet (vendored, no CDN)."""
    response = send_from_directory(STATIC, "portal.css", mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/logo")
@portal_view
def logo() -> Any:
    """The workspace's logo."""
    row = branding.logo()
    if row is None:
        abort(404)
    response = Response(row.data, mimetype=row.mimetype)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --------------------------------------------------------------------------- sign-in


@bp.route("/sign-in", methods=["GET", "POST"])
@portal_view
@allowed_while_read_only
def sign_in() -> Any:
    """Sign in with e-mail and password (rate-limited, audited)."""
    context = {"next": request.values.get("next", ""), "email": request.form.get("email", "")}
    if request.method == "GET" and (g.get("portal_user") or g.get("portal_partner")):
        return redirect(_safe_next(context["next"]))
    if request.method == "GET":
        return render_template("portal/sign_in.html", **context)
    email = (request.form.get("email") or "").strip().lower()
    wait = over_rate_limit(SIGN_IN_LIMIT, "portal-sign-in", request.remote_addr or "-")
    wait = wait or over_rate_limit(SIGN_IN_LIMIT, "portal-sign-in-email", email or "-")
    if wait is not None:
        return _wait_page("portal/sign_in.html", wait, **context)
    user = accounts.authenticate(email, request.form.get("password") or "")
    if user is None:
        audit_record(
            "portal.sign_in_failed", details={"email": email[:254]}, actor_label=f"portal:{email}"
        )
        db.session.commit()
        error = _("Wrong e-mail address or password.")
        return render_template("portal/sign_in.html", error=error, **context), 401
    if not tenant_policy(g.tenant).read_only:  # a read-only workspace still lets them read
        user.last_login_at = utcnow()
    audit_record(
        "portal.sign_in",
        target=str(user.id),
        actor=customer.actor_of(user),
        actor_label=f"portal:{user.email}",
    )
    db.session.commit()
    portal_session.new_session(g.tenant.id, user)  # rotated: a new nonce and CSRF token
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.post("/sign-out")
@portal_view
@allowed_while_read_only
def sign_out() -> Any:
    """End the portal session."""
    portal_session.new_session(g.tenant.id)
    return redirect(url_for("portal.sign_in"), 303)


def _password_page(kind: str, token: str) -> Any:
    template = "portal/set_password.html"
    try:
        user = accounts.user_from_token(kind, token)
    except TokenError as exc:
        return render_template(template, problem=str(exc), kind=kind), 400
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            accounts.set_password(
                user, request.form.get("password") or "", request.form.get("confirm") or ""
            )
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            user.last_login_at = utcnow()
            audit_record(
                f"portal.{kind}_completed",
                target=str(user.id),
                actor=customer.actor_of(user),
                actor_label=f"portal:{user.email}",
            )
            db.session.commit()
            portal_session.new_session(g.tenant.id, user)
            return redirect(url_for("portal.home"), 303)
    status = 400 if errors else 200
    return render_template(template, user=user, errors=errors, kind=kind), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
@portal_view
def accept_invite(token: str) -> Any:
    """Accept an invitation: choose a password, then you are signed in."""
    return _password_page("invite", token)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@portal_view
def confirm(token: str) -> Any:
    """Confirm a self sign-up: choose a password."""
    return _password_page("signup", token)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@portal_view
def reset(token: str) -> Any:
    """Choose a new password from a reset link (every other session ends)."""
    return _password_page("reset", token)


def _mail_form(template: str, send: Callable[[str], bool]) -> Any:
    if request.method == "GET":
        return render_template(template)
    email = (request.form.get("email") or "").strip()
    wait = over_rate_limit(MAIL_LIMIT, "portal-mail", request.remote_addr or "-")
    if wait is not None:
        return _wait_page(template, wait, email=email)
    try:
        send(email)
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template(template, errors=exc.errors, email=email), 400
    db.session.commit()
    return render_template(template, sent=True)


@bp.route("/sign-up", methods=["GET", "POST"])
@portal_view
def sign_up() -> Any:
    """Self sign-up, when the workspace allows it: a known customer's address gets a link."""
    if not branding.Branding.load().allow_signup:
        abort(404)
    return _mail_form(
        "portal/sign_up.html", lambda e: accounts.request_signup(e, workspace=_workspace())
    )


@bp.route("/forgot", methods=["GET", "POST"])
@portal_view
def forgot() -> Any:
    """Ask for a password reset link."""
    return _mail_form(
        "portal/forgot.html", lambda e: accounts.request_reset(e, workspace=_workspace())
    )


def _workspace() -> str:
    return branding.Branding.load().title or g.tenant.name


# --------------------------------------------------------------------------- home


def me() -> PortalUser:
    """The signed-in portal user."""
    return g.portal_user


@bp.get("/")
@signed_in
def home() -> Any:
    """The customer's start page: what is open and what waits for them."""
    on = customer.sections()
    return render_template(
        "portal/home.html",
        tickets=customer.tickets_of(me())[:5] if on["tickets"] else [],
        quotes=[q for q in customer.quotes_of(me()) if q.status == "sent"] if on["quotes"] else [],
        orders=customer.orders_of(me())[:5],
    )


# --------------------------------------------------------------------------- tickets


@bp.get("/tickets")
@signed_in
def tickets() -> Any:
    """The customer's requests."""
    customer.require_section("tickets")
    return render_template("portal/tickets.html", tickets=customer.tickets_of(me()))


@bp.route("/tickets/new", methods=["GET", "POST"])
@signed_in
def new_ticket() -> Any:
    """Open a new request."""
    customer.require_section("tickets")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            ticket = customer.open_ticket(me(), request.form)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            return redirect(url_for("portal.ticket", ticket_id=ticket.id), 303)
    status = 400 if errors else 200
    return render_template("portal/ticket_new.html", errors=errors, form=request.form), status


def _ticket_or_404(ticket_id: str) -> Any:
    customer.require_section("tickets")
    row = customer.ticket_of(me(), ticket_id)
    if row is None:
        abort(404)
    return row


@bp.get("/tickets/<ticket_id>")
@signed_in
def ticket(ticket_id: str) -> Any:
    """One request and its conversation (internal notes are never shown)."""
    row = _ticket_or_404(ticket_id)
    return render_template("portal/ticket.html", ticket=row, thread=customer.thread(row), errors={})


@bp.post("/tickets/<ticket_id>/reply")
@signed_in
def reply(ticket_id: str) -> Any:
    """Answer on a request."""
    row = _ticket_or_404(ticket_id)
    try:
        customer.reply(me(), row, request.form.get("body"))
    except ValidationFailed as exc:
        db.session.rollback()
        row = _ticket_or_404(ticket_id)
        page = render_template(
            "portal/ticket.html", ticket=row, thread=customer.thread(row), errors=exc.errors
        )
        return page, 400
    db.session.commit()
    return redirect(url_for("portal.ticket", ticket_id=row.id, _anchor="thread"), 303)


# --------------------------------------------------------------------------- help


@bp.get("/help")
@signed_in
def help_articles() -> Any:
    """The public knowledge base."""
    customer.require_section("help")
    query = request.args.get("q", "")[:200]
    return render_template("portal/help.html", query=query, articles=customer.articles(query))


@bp.get("/help/<article_id>")
@signed_in
def help_article(article_id: str) -> Any:
    """One public article."""
    customer.require_section("help")
    row = customer.article(article_id)
    if row is None:
        abort(404)
    return render_template("portal/article.html", article=row)


# --------------------------------------------------------------------------- orders


@bp.get("/orders")
@signed_in
def orders() -> Any:
    """The customer's orders and their payment status."""
    return render_template("portal/orders.html", orders=customer.orders_of(me()))


@bp.get("/orders/<order_id>")
@signed_in
def order(order_id: str) -> Any:
    """One order with its lines."""
    row = customer.order_of(me(), order_id)
    if row is None:
        abort(404)
    return render_template("portal/order.html", order=row)


# --------------------------------------------------------------------------- quotes


def _quote_or_404(quote_id: str, *, lock: bool = False) -> Any:
    customer.require_section("quotes")
    row = customer.quote_of(me(), quote_id, lock=lock)
    if row is None:
        abort(404)
    return row


@bp.get("/quotes")
@signed_in
def quotes() -> Any:
    """The customer's quotes."""
    customer.require_section("quotes")
    return render_template("portal/quotes.html", quotes=customer.quotes_of(me()))


@bp.get("/quotes/<quote_id>")
@signed_in
def quote(quote_id: str) -> Any:
    """One quote: lines, totals, and the button to accept it."""
    row = _quote_or_404(quote_id)
    return render_template(
        "portal/quote.html", quote=row, error=None, **customer.quote_details(row)
    )


@bp.get("/quotes/<quote_id>/pdf")
@signed_in
def quote_pdf(quote_id: str) -> Any:
    """The quote as a PDF."""
    row = _quote_or_404(quote_id)
    name = f"{row.label}-{date.today().isoformat()}.pdf"
    return Response(
        customer.quote_pdf(row, g.tenant.name),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/quotes/<quote_id>/accept")
@signed_in
def accept_quote(quote_id: str) -> Any:
    """Accept a quote online: the deal is won (once; a decided quote is refused)."""
    row = _quote_or_404(quote_id, lock=True)
    if request.form.get("agree") != "1":
        error = _("Tick the box to confirm that you accept the quote.")
    else:
        try:
            customer.accept(me(), row)
        except ValidationFailed as exc:
            db.session.rollback()
            error = "; ".join(str(v) for v in exc.errors.values())
        else:
            db.session.commit()
            return redirect(url_for("portal.quote", quote_id=row.id, accepted=1), 303)
    row = _quote_or_404(quote_id)
    page = render_template(
        "portal/quote.html", quote=row, error=error, **customer.quote_details(row)
    )
    return page, 409 if row.status != "sent" else 400


# --------------------------------------------------------------------------- details


@bp.route("/profile", methods=["GET", "POST"])
@signed_in
def profile() -> Any:
    """The customer's own details (name, phone, address)."""
    contact = customer.contact_of(me())
    if contact is None:
        abort(404)
    errors: dict[str, str] = {}
    saved = False
    if request.method == "POST":
        try:
            customer.update_details(me(), request.form)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
            contact = customer.contact_of(me())
        else:
            db.session.commit()
            saved = True
    values = (
        request.form if errors else {k: getattr(contact, k) or "" for k in customer.DETAIL_FIELDS}
    )
    status = 400 if errors else 200
    return (
        render_template("portal/profile.html", values=values, errors=errors, saved=saved),
        status,
    )


@bp.route("/preferences", methods=["GET", "POST"])
@signed_in
def preferences() -> Any:
    """Which mail the customer wants from the workspace (Marketing's topics)."""
    customer.require_section("preferences")
    saved = False
    if request.method == "POST":
        wanted = set(request.form.getlist("topic"))
        customer.save_preferences(me(), wanted, bool(request.form.get("none")))
        db.session.commit()
        saved = True
    return render_template("portal/preferences.html", saved=saved, **customer.preferences(me()))
