"""The staff side of the portal: its settings (branding, self sign-up), the list of portal
users, and inviting a contact from the contact page. Ordinary tenant pages: staff sign-in,
permissions ``portal.manage`` and ``portal.invite``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    audit_record,
    current_user,
    db,
    get_or_404,
    require_permission,
    visible_clause,
)

from . import accounts, branding
from .models import PortalUser

bp = Blueprint(
    "portal_admin",
    __name__,
    url_prefix="/t/<tenant_slug>/portal-settings",
    template_folder="templates",
)


@bp.route("/", methods=["GET", "POST"])
@require_permission("portal.manage")
def settings() -> Any:
    """Branding of the portal and whether customers may sign up by themselves."""
    current = branding.Branding.load()
    errors: dict[str, str] = {}
    values: Any = {
        "title": current.title,
        "welcome": current.welcome,
        "colour": current.colour,
        "allow_signup": current.allow_signup,
    }
    if request.method == "POST":
        try:
            cleaned = branding.clean(request.form)
            upload = request.files.get("logo")
            data = upload.read(branding.MAX_LOGO_BYTES + 1) if upload and upload.filename else b""
            if data:
                branding.save_logo(data)
            elif request.form.get("remove_logo"):
                branding.remove_logo()
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
            values = request.form
        else:
            fresh = branding.Branding.load()
            for key, value in cleaned.items():
                setattr(fresh, key, value)
            fresh.save()
            audit_record("portal.settings_changed", details=cleaned)
            db.session.commit()
            flash(_("Portal settings saved."), "success")
            return redirect(url_for("portal_admin.settings"), 303)
    users = db.session.scalars(select(PortalUser).order_by(PortalUser.email).limit(500)).all()
    page = render_template(
        "portal/admin_settings.html",
        values=values,
        errors=errors,
        brand=current,
        has_logo=branding.logo() is not None,
        users=users,
        portal_url=url_for("portal.home"),
    )
    return page, 400 if errors else 200


@bp.post("/invite/<contact_id>")
@require_permission("portal.invite")
def invite(contact_id: str) -> Any:
    """Invite a contact to the portal (from the contact page's Portal panel)."""
    contact = get_or_404(Contact, contact_id)
    rule = visible_clause(Contact, g.membership)
    if rule is not None and not db.session.scalar(
        select(Contact.id).where(Contact.id == contact.id, rule)
    ):
        abort(404)  # a contact this member may not see
    scope = request.form.get("scope") or "contact"
    try:
        user = accounts.invite(
            contact,
            actor=current_user,
            scope=scope,
            workspace=branding.Branding.load().title or g.tenant.name,
        )
    except ValidationFailed as exc:
        db.session.rollback()
        flash("; ".join(str(v) for v in exc.errors.values()), "error")
    else:
        audit_record("portal.invited", target=str(user.id), details={"email": user.email})
        db.session.commit()
        flash(_("Invitation sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("workspace.contact", contact_id=contact.id), 303)


@bp.post("/users/<user_id>/<action>")
@require_permission("portal.manage")
def set_status(user_id: str, action: str) -> Any:
    """Disable (signs them out everywhere) or enable a portal user."""
    if action not in ("disable", "enable"):
        abort(404)
    user = get_or_404(PortalUser, user_id)
    accounts.set_status(user, "disabled" if action == "disable" else "enabled")
    audit_record(f"portal.user_{action}d", target=str(user.id), details={"email": user.email})
    db.session.commit()
    flash(_("Portal access updated for %(email)s.", email=user.email), "success")
    back = request.form.get("back") or ""
    if back.startswith("/t/") and "//" not in back:
        return redirect(back, 303)
    return redirect(url_for("portal_admin.settings"), 303)
