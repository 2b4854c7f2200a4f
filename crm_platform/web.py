"""The web shell: tenant resolution from ``/t/<slug>/``, the layout's context, error pages.

Every URL rule under ``/t/<tenant_slug>/`` passes through :func:`_enter_tenant_for_request`:
unknown slug → 404, suspended tenant → 403, signed-out visitor → sign-in page, signed-in
non-member → 404 (the same answer as an unknown slug). Then the tenant context is entered
for the rest of the request. Platform staff impersonating a member of that tenant are served
as the member (``provider.impersonation.act_in_tenant``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .config import LANGUAGE_NAMES
from .extensions import db
from .identity import ROLE_LABELS, Membership, Tenant, memberships_of_user
from .mail import OutboxMessage
from .modules import module_enabled
from .plugins import NavItem, collect, module_registry
from .policy import init_app as init_policy
from .provider.access import is_staff
from .provider.impersonation import act_in_tenant
from .tenancy import enter_tenant, leave_tenant

bp = Blueprint("web", __name__)
tenant_bp = Blueprint("workspace", __name__, url_prefix="/t/<tenant_slug>")


#: Labels of stored values the pages show, by kind (unknown values show as they are).
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "role": ROLE_LABELS,
    "status": {
        "active": _l("active"),
        "suspended": _l("suspended"),
        "pending": _l("pending"),
        "accepted": _l("accepted"),
        "revoked": _l("revoked"),
        "expired": _l("expired"),
    },
    "stage": {
        "prospect": _l("prospect"),
        "lead": _l("lead"),
        "customer": _l("customer"),
        "loyal": _l("loyal"),
        "churned": _l("churned"),
    },
    "mail": {
        "outbox": _l("outbox"),
        "queued": _l("queued"),
        "sent": _l("sent"),
        "failed": _l("failed"),
    },
}


def value_label(kind: str, value: str | None) -> Any:
    """The translated label of a stored ``value`` of ``kind`` (role, status, stage, mail)."""
    if value is None:
        return ""
    return VALUE_LABELS.get(kind, {}).get(value, value)


def _visitor_language() -> None:
    """``?lang=<code>`` on any page remembers a language for this session (signed out too)."""
    lang = request.args.get("lang")
    if lang is not None and lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang


def _lang_url(code: str) -> str:
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return request.path + "?" + urlencode(args, doseq=True)


def _html_lang() -> str:
    locale = get_locale()
    return str(locale).replace("_", "-") if locale else "en"


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a local path (no open redirects), else ``None``.

    Control characters are refused too: browsers drop tabs and newlines from a URL, so
    ``/<tab>/evil.example`` would become ``//evil.example``, and a newline cannot be sent in
    a ``Location`` header at all.
    """
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _enter_tenant_for_request() -> Any:
    slug = g.pop("tenant_slug", None)
    if slug is None:
        return None
    tenant = db.session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        abort(404)
    g.tenant = tenant
    if tenant.deletion_requested_at is not None:  # locked until erased or canceled
        from .tenant_lifecycle_views import deletion_page

        return deletion_page(tenant)
    if not tenant.is_active:
        return render_template("errors/suspended.html", tenant=tenant), 403
    g.crm_tenant_token = enter_tenant(tenant)
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "crm_public", False):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    refused = act_in_tenant(tenant)  # staff impersonating a member of this tenant
    if refused is not None:
        return refused
    membership = db.session.execute(
        select(Membership).where(Membership.user_id == current_user.id)
    ).scalar_one_or_none()
    if membership is None:
        abort(404)
    g.membership = membership
    module = module_registry().blueprint_module.get(request.blueprint or "")
    if module is not None and not module_enabled(module):
        abort(404)
    from .auth.security_views import workspace_gate  # the workspace may require 2FA

    enrol = workspace_gate(tenant)
    if enrol is not None:
        return enrol
    session["last_tenant"] = tenant.slug
    return None


def _leave_tenant(exc: BaseException | None) -> None:
    token = g.pop("crm_tenant_token", None)
    if token is not None:
        db.session.close()  # the request is over: end its transaction before leaving
        leave_tenant(token)


def init_app(app: Flask) -> None:
    """Install tenant resolution, the layout context and error pages on ``app``."""

    @app.url_value_preprocessor
    def _pull_slug(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and "tenant_slug" in values:
            g.tenant_slug = values.pop("tenant_slug")

    @app.url_defaults
    def _add_slug(endpoint: str, values: dict[str, Any]) -> None:
        if "tenant_slug" in values or "tenant" not in g:
            return
        if app.url_map.is_endpoint_expecting(endpoint, "tenant_slug"):
            values["tenant_slug"] = g.tenant.slug

    app.before_request(_visitor_language)
    app.before_request(_enter_tenant_for_request)
    app.teardown_request(_leave_tenant)
    init_policy(app)  # after the tenant is resolved: read-only writes refused, the banner

    @app.context_processor
    def _layout() -> dict[str, Any]:
        nav: list[NavItem] = []
        workspaces: list[tuple[Membership, Tenant]] = []
        membership = g.get("membership")
        if membership is not None:
            nav = sorted(collect("crm_navigation", membership=membership), key=lambda i: i.order)
        if current_user.is_authenticated:
            workspaces = g.get("crm_workspaces") or memberships_of_user(current_user.id)
            g.crm_workspaces = workspaces
        return {
            "tenant": g.get("tenant"),
            "membership": membership,
            "nav_items": nav,
            "workspaces": workspaces,
            "outbox_page": app.config["OUTBOX_PAGE"],
            "get_locale": get_locale,
            "html_lang": _html_lang,
            "languages": LANGUAGE_NAMES,
            "lang_url": _lang_url,
            "value_label": value_label,
        }

    for code in (400, 403, 404, 405, 429, 500):
        app.register_error_handler(code, _error_page)


def _error_page(exc: Any) -> Any:
    code = getattr(exc, "code", 500) or 500
    if request.path.startswith("/api/"):
        from .api.errors import error_response

        return error_response(exc)
    if request.accept_mimetypes.best == "application/json":
        return {"error": {"code": code, "message": getattr(exc, "description", "Error")}}, code
    return render_template("errors/error.html", code=code, error=exc), code


@bp.get("/")
def index() -> Any:
    """Send visitors to sign in, and members to their last or only workspace."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    workspaces = memberships_of_user(current_user.id)
    slugs = [t.slug for _, t in workspaces]
    last = session.get("last_tenant")
    if last in slugs:
        return redirect(url_for("workspace.home", tenant_slug=last))
    if len(slugs) == 1:
        return redirect(url_for("workspace.home", tenant_slug=slugs[0]))
    if not slugs and is_staff():
        return redirect(url_for("provider.dashboard"))
    return redirect(url_for("auth.workspaces"))


@bp.get("/outbox")
def outbox() -> Any:
    """Mail the platform sent, for installs with no SMTP server (``CRM_OUTBOX_PAGE``)."""
    if not current_app.config["OUTBOX_PAGE"]:
        abort(404)
    messages = db.session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(50)
    ).all()
    return render_template("outbox.html", messages=messages)


# The workspace home, the customer database and the import/export pages register on
# ``tenant_bp``.
from .dataio import views as dataio_views  # noqa: E402,F401
from .records import (  # noqa: E402,F401
    views,
    views_activities,
    views_admin,
    views_data,
    views_home,
    views_orders,
)
