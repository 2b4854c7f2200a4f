"""Impersonation: a staff member acts as one member of one tenant, for a limited time.

Started from the console with a reason (required) for ``IMPERSONATION_MINUTES`` (default
30); read-only unless an admin asks for write access. The browser session keeps only the
impersonation's id; the ``impersonations`` row is the truth and is checked on every request:

* expired, ended, or the staff role gone → the impersonation ends (audited) and the session
  forgets it, before any page is served;
* only pages of *that* tenant are served as the member (``act_in_tenant``, called by the web
  shell while resolving the tenant): the signed-in user stays the staff member everywhere
  else, so the member's other workspaces stay closed (404) and ``/provider/`` still sees staff;
* read-only impersonations refuse every write (any method but GET, HEAD, OPTIONS) with 403;
* every audit entry written while impersonating names the staff member and the impersonation;
* start and end (ended, expired, signed out, replaced) are in the staff log and the tenant's
  own audit log; ``base.html`` shows a banner with "End impersonation" meanwhile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    render_template,
    request,
    session,
)
from flask_babel import gettext as _
from flask_login import current_user, user_logged_out
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..audit import AuditEvent
from ..extensions import db
from ..identity import Membership, Tenant, User
from ..ids import parse_uuid
from ..provisioning import ValidationFailed
from ..tenancy import utcnow
from .access import signed_in_user_id, staff_record
from .actions import record_staff_action
from .models import Impersonation

SESSION_KEY = "crm_impersonation"
_CACHE = "crm_impersonation_row"
_ACTIVE = "crm_impersonation"  # set on g while a tenant page is served as the member
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REASON_MAX = 500


def impersonation_minutes(app: Flask | None = None) -> int:
    """How long an impersonation lasts (``CRM_IMPERSONATION_MINUTES``, default 30)."""
    app = app or current_app
    return int(app.config.get("IMPERSONATION_MINUTES") or 30)


# --------------------------------------------------------------------------- start and end


def start_impersonation(
    tenant: Tenant,
    member: User,
    *,
    reason: str,
    read_only: bool,
    staff: User,
    is_member: bool,
) -> Impersonation:
    """Begin acting as ``member`` in ``tenant``; caller commits. Raises ``ValidationFailed``.

    ``is_member`` is the caller's cross-tenant check (inside the provider scope) that
    ``member`` belongs to ``tenant``. Any impersonation this session had is ended first.
    """
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Say why you need to act as this member.")
    elif len(reason) > REASON_MAX:
        errors["reason"] = _("Use at most %(num)d characters.", num=REASON_MAX)
    if not is_member or not member.is_active:
        errors["member"] = _("Choose an active member of this workspace.")
    if not tenant.is_active:
        errors["tenant"] = _("The workspace is suspended: resume it first.")
    record = staff_record(staff.id)
    if record is None:
        errors["staff"] = _("Only platform staff may impersonate.")
    elif not read_only and not record.can("admin"):
        errors["read_only"] = _("Only admins may act with write access; choose read-only.")
    if errors:
        raise ValidationFailed(errors)
    previous = current_impersonation()
    if previous is not None:
        end_impersonation(previous, "replaced")
    minutes, now = impersonation_minutes(), utcnow()
    row = Impersonation(
        staff_user_id=staff.id,
        staff_email=staff.email,
        target_tenant_id=tenant.id,
        member_user_id=member.id,
        member_email=member.email,
        read_only=read_only,
        reason=reason,
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    db.session.add(row)
    db.session.flush()
    record_staff_action(
        "impersonation.started",
        tenant=tenant,
        target=member.email,
        reason=reason,
        details={"impersonation": str(row.id), "read_only": read_only, "minutes": minutes},
        tenant_log=True,
        actor=staff,
    )
    session[SESSION_KEY] = str(row.id)
    g.pop(_CACHE, None)
    return row


def end_impersonation(row: Impersonation, end_reason: str) -> None:
    """End ``row`` (``ended``, ``expired``, ``signed_out``, ``replaced`` ...); caller commits."""
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), end_reason
        tenant = db.session.get(Tenant, row.target_tenant_id)
        staff = db.session.get(User, row.staff_user_id)
        record_staff_action(
            "impersonation.ended",
            tenant=tenant,
            target=row.member_email,
            details={"impersonation": str(row.id), "end_reason": end_reason},
            tenant_log=tenant is not None,
            actor=staff or row.staff_email,
        )
    if has_request_context():
        if session.get(SESSION_KEY) == str(row.id):
            session.pop(SESSION_KEY, None)
        g.pop(_CACHE, None)


# --------------------------------------------------------------------------- every request


def current_impersonation() -> Impersonation | None:
    """This session's live impersonation, or ``None``; ends it when it may not go on.

    Checked once per request (cached on ``g``): an expired impersonation, or one whose staff
    member lost the staff role, is ended and committed here, and the session forgets it.
    """
    if not has_request_context() or SESSION_KEY not in session:
        return None
    if _CACHE in g:
        return g.get(_CACHE)
    row = db.session.get(Impersonation, parse_uuid(session.get(SESSION_KEY)) or uuid.UUID(int=0))
    user_id = signed_in_user_id()
    if row is None or row.staff_user_id != user_id or row.ended_at is not None:
        session.pop(SESSION_KEY, None)
        row = None
    elif not row.is_live or staff_record(user_id) is None:
        expired = not row.is_live
        end_impersonation(row, "expired" if expired else "staff_removed")
        db.session.commit()
        flash(
            _("The impersonation ended: its time ran out.")
            if expired
            else _("The impersonation ended."),
            "info",
        )
        row = None
    g.setdefault(_CACHE, row)
    return row


def act_in_tenant(tenant: Tenant) -> Any:
    """Serve this page of ``tenant`` as the impersonated member, if this session has one.

    Called by the web shell after the tenant context is entered and before the membership
    is looked up. Returns a response to send instead (a read-only refusal), else ``None``.
    """
    row = current_impersonation()
    if row is None or row.target_tenant_id != tenant.id:
        return None
    member = db.session.get(User, row.member_user_id) if row.member_user_id else None
    membership = None
    if member is not None and member.is_active:
        membership = db.session.execute(
            select(Membership).where(Membership.user_id == member.id)
        ).scalar_one_or_none()
    if membership is None:
        end_impersonation(row, "member_gone")
        db.session.commit()
        flash(_("The impersonation ended: the member left the workspace."), "info")
        return None
    g.crm_real_user = current_user._get_current_object()
    g._login_user = member  # Flask-Login's current user, for this request only
    g.crm_workspaces = [(membership, tenant)]
    setattr(g, _ACTIVE, row)
    if row.read_only and request.method not in SAFE_METHODS:
        return render_template("provider/read_only.html", impersonation=row), 403
    return None


def impersonating() -> Impersonation | None:
    """The impersonation this request is served under (a tenant page as the member)."""
    return g.get(_ACTIVE) if has_request_context() else None


# --------------------------------------------------------------------------- banner, audit


@dataclass(frozen=True)
class Banner:
    """What the impersonation banner shows."""

    tenant_name: str
    tenant_slug: str
    member_email: str
    read_only: bool
    expires_at: datetime


def banner() -> Banner | None:
    """The banner of this session's live impersonation, or ``None``."""
    row = current_impersonation()
    if row is None:
        return None
    tenant = db.session.get(Tenant, row.target_tenant_id)
    if tenant is None:
        return None
    return Banner(tenant.name, tenant.slug, row.member_email, row.read_only, row.expires_at)


@event.listens_for(Session, "before_flush")
def _name_the_staff_member(session: Session, flush_context: Any, instances: Any) -> None:
    """Audit entries written while impersonating name the staff member and the session."""
    row = impersonating()
    if row is None:
        return
    for obj in session.new:
        if isinstance(obj, AuditEvent) and "impersonation" not in (obj.details or {}):
            obj.details = {
                **(obj.details or {}),
                "impersonation": str(row.id),
                "as": row.member_email,
            }
            obj.actor_id = row.staff_user_id
            obj.actor_label = f"{row.staff_email} (provider, as {row.member_email})"[:254]


def _end_on_sign_out(sender: Any, user: Any = None, **extra: Any) -> None:
    """Signing out ends the session's impersonation (Flask-Login's ``user_logged_out``)."""
    rid = parse_uuid(session.get(SESSION_KEY)) if has_request_context() else None
    row = db.session.get(Impersonation, rid) if rid else None
    if row is not None and row.staff_user_id == getattr(user, "id", None):
        end_impersonation(row, "signed_out")
        db.session.commit()


def _check_every_request() -> None:
    current_impersonation()


def init_app(app: Flask) -> None:
    """Check the impersonation on every request and end it when its user signs out."""
    app.before_request(_check_every_request)
    user_logged_out.connect(_end_on_sign_out, app)

    @app.context_processor
    def _impersonation_banner() -> dict[str, Any]:
        return {"impersonation_banner": banner()}
