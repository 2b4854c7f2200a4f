"""Account security: the second sign-in step, two-factor enrolment, password change, re-auth.

* **Second step.** When two-factor is on, a right password does not sign in: the session
  only remembers who passed the password (``crm_2fa_pending``: user id, session version,
  time, "keep me signed in", the way back) for :data:`PENDING_SECONDS`. No page treats that
  as signed in (Flask-Login knows nobody yet); ``/login/two-factor`` asks for a code or a
  recovery code, rate-limited per user and per address, and only then signs in.
* **Enrolment** at ``/profile/two-factor``: a QR code (inline SVG made here) and the secret
  as text, confirmed with a code; ten recovery codes are shown once. Turning it off needs the
  password and a code.
* **Password change** at ``/profile/password``: current password, new password twice; every
  other session of the user ends (``session_version``).
* **Re-authentication** at ``/reauth`` (see :mod:`crm_platform.reauth`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import two_factor
from ..extensions import db, limiter
from ..identity import User
from ..ids import parse_uuid
from ..passwords import hash_password, password_problem, verify_password
from ..reauth import mark_authenticated, require_recent_auth
from ..web import safe_next
from .forms import (
    ButtonForm,
    ChangePasswordForm,
    DisableTwoFactorForm,
    EnableTwoFactorForm,
    ReauthForm,
    TwoFactorForm,
)
from .views import _audit_in_user_tenants, _limit, bp, sign_in

PENDING_KEY = "crm_2fa_pending"
PENDING_SECONDS = 5 * 60


def _wrong_code() -> str:
    return _("That code is not valid. Check your device's clock, or use a recovery code.")


def _user() -> User:
    return current_user._get_current_object()


# --------------------------------------------------------------------------- second step


def start_second_step(user: User, remember: bool, next_url: str | None) -> None:
    """The password was right and ``user`` has two-factor: remember only that (not signed in)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session[PENDING_KEY] = {
        "u": str(user.id),
        "v": user.session_version,
        "at": int(time.time()),
        "r": bool(remember),
        "n": next_url or "",
    }


def _pending_user() -> User | None:
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - float(data.get("at") or 0) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, parse_uuid(data.get("u")) or uuid.UUID(int=0))
    if user is None or not user.is_active or user.session_version != data.get("v"):
        session.pop(PENDING_KEY, None)
        return None
    return user


def _pending_key() -> str:
    data = session.get(PENDING_KEY)
    return "2fa:" + (str(data.get("u")) if isinstance(data, dict) else "-")


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_2FA"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_2FA"), methods=["POST"], key_func=_pending_key)
def two_factor_step() -> Any:
    """The second sign-in step: a code (or a recovery code) after the right password."""
    user = _pending_user()
    if user is None:
        flash(_("Please sign in."), "info")
        return redirect(url_for("auth.login"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        used = two_factor.verify_second_factor(user, form.code.data)
        if used:
            data = session[PENDING_KEY]
            sign_in(user, bool(data.get("r")))
            _audit_in_user_tenants(user, "auth.login", second_factor=used)
            db.session.commit()
            if used == "recovery":
                flash(
                    _(
                        "You used a recovery code; %(left)d are left.",
                        left=two_factor.recovery_codes_left(user),
                    ),
                    "warning",
                )
            return redirect(safe_next(data.get("n")) or url_for("web.index"))
        _audit_in_user_tenants(user, "auth.2fa_failed")
        db.session.commit()
        form.code.errors = [_wrong_code()]
    return render_template("auth/two_factor_step.html", form=form), 400 if form.errors else 200


# --------------------------------------------------------------------------- security page


@bp.get("/profile/security")
@login_required
def security() -> Any:
    """Password and two-factor sign-in of the signed-in user."""
    user = _user()
    enabled = two_factor.is_enabled(user)
    return render_template(
        "auth/security.html",
        enabled=enabled,
        codes_left=two_factor.recovery_codes_left(user) if enabled else 0,
        disable_form=DisableTwoFactorForm(prefix="disable"),
        button_form=ButtonForm(),
    )


@bp.route("/profile/two-factor", methods=["GET", "POST"])
@login_required
@require_recent_auth
def two_factor_setup() -> Any:
    """Turn two-factor on: scan the QR code (or type the secret), confirm with a code."""
    user = _user()
    if two_factor.is_enabled(user):
        return redirect(url_for("auth.security"))
    row = two_factor.start_enrolment(user)
    secret = two_factor.secret_of(row) or ""
    form = EnableTwoFactorForm()
    if form.validate_on_submit():
        codes = two_factor.confirm_enrolment(user, form.code.data)
        if codes is not None:
            user.session_version += 1  # other sessions signed in without the second factor
            _audit_in_user_tenants(user, "auth.2fa_enabled")
            sign_in(user)
            db.session.commit()
            flash(_("Two-factor sign-in is on."), "success")
            return render_template("auth/recovery_codes.html", codes=codes)
        form.code.errors = [_wrong_code()]
    db.session.commit()  # the pending secret
    uri = two_factor.provisioning_uri(secret, user.email)
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        secret=secret,
        qr=two_factor.qr_svg(uri),
        required=_required_reason(),
    ), 400 if form.errors else 200


def _required_reason() -> str | None:
    reason = request.args.get("required")
    if reason == "staff":
        return _("Platform staff must use two-factor sign-in to open the provider console.")
    if reason == "workspace":
        return _("This workspace requires two-factor sign-in for every member.")
    return None


@bp.post("/profile/two-factor/disable")
@login_required
@require_recent_auth
def two_factor_disable() -> Any:
    """Turn two-factor off (password and a code needed)."""
    user = _user()
    form = DisableTwoFactorForm(prefix="disable")
    if not two_factor.is_enabled(user):
        return redirect(url_for("auth.security"), 303)
    if form.validate_on_submit():
        ok = verify_password(user.password_hash, form.password.data)
        if ok and two_factor.verify_second_factor(user, form.code.data):
            two_factor.disable(user)
            _audit_in_user_tenants(user, "auth.2fa_disabled")
            db.session.commit()
            flash(_("Two-factor sign-in is off."), "success")
            return redirect(url_for("auth.security"), 303)
        db.session.commit()  # a code tried here is used up all the same
        if not ok:
            form.password.errors = [_("Wrong password.")]
        else:
            form.code.errors = [_wrong_code()]
    return render_template(
        "auth/security.html",
        enabled=True,
        codes_left=two_factor.recovery_codes_left(user),
        disable_form=form,
        button_form=ButtonForm(),
    ), 400


@bp.post("/profile/two-factor/recovery-codes")
@login_required
@require_recent_auth
def two_factor_recovery_codes() -> Any:
    """Replace the recovery codes with ten new ones (the old ones stop working)."""
    user = _user()
    if not ButtonForm().validate_on_submit() or not two_factor.is_enabled(user):
        return redirect(url_for("auth.security"), 303)
    codes = two_factor.new_recovery_codes(user)
    _audit_in_user_tenants(user, "auth.2fa_recovery_codes_renewed")
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes)


# --------------------------------------------------------------------------- password


@bp.route("/profile/password", methods=["GET", "POST"])
@login_required
@require_recent_auth
def change_password() -> Any:
    """Change the password (the current one is asked for); every other session ends."""
    user = _user()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current.data):
            form.current.errors = [_("Wrong password.")]
        else:
            problem = password_problem(form.password.data, email=user.email, name=user.name)
            if problem:
                form.password.errors = [problem]
            else:
                user.password_hash = hash_password(form.password.data)
                user.session_version += 1  # signs out every other session
                _audit_in_user_tenants(user, "auth.password_changed")
                sign_in(user)
                db.session.commit()
                flash(_("Your password was changed."), "success")
                return redirect(url_for("auth.security"))
    return render_template("auth/change_password.html", form=form), 400 if form.errors else 200


# --------------------------------------------------------------------------- re-auth


def _reauth_key() -> str:
    return "reauth:" + (str(current_user.id) if current_user.is_authenticated else "-")


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"], key_func=_reauth_key)
def reauth() -> Any:
    """Confirm it's you (password, and a code with two-factor), then go back to ``next``."""
    user = _user()
    needs_code = two_factor.is_enabled(user)
    next_url = safe_next(request.args.get("next")) or url_for("web.index")
    form = ReauthForm()
    if form.validate_on_submit():
        ok = verify_password(user.password_hash, form.password.data)
        used = None
        if ok and needs_code:
            used = two_factor.verify_second_factor(user, form.code.data or "")
        if ok and (used or not needs_code):
            mark_authenticated()
            _audit_in_user_tenants(user, "auth.reauthenticated")
            db.session.commit()
            return redirect(next_url, 303)
        _audit_in_user_tenants(user, "auth.reauth_failed")
        db.session.commit()
        if not ok:
            form.password.errors = [_("Wrong password.")]
        else:
            form.code.errors = [_wrong_code()]
    return render_template(
        "auth/reauth.html", form=form, needs_code=needs_code, next=next_url
    ), 400 if form.errors else 200


# --------------------------------------------------------------------------- requirements


def enrolment_redirect(reason: str) -> Any:
    """Send a user who must have two-factor (``reason``: staff, workspace) to enrolment."""
    flash(_("Turn on two-factor sign-in to continue."), "info")
    return redirect(url_for("auth.two_factor_setup", required=reason))


def workspace_gate(tenant: Any) -> Any:
    """Called by the web shell for a member's request in ``tenant``: when the workspace
    requires two-factor and the member has none, a redirect to enrolment (else ``None``).
    Staff impersonating a member are not asked (their own sign-in is the staff one)."""
    if g.get("crm_real_user") is not None or not two_factor.required_by_tenant(tenant):
        return None
    if two_factor.is_enabled(_user()):
        return None
    return enrolment_redirect("workspace")


def staff_gate() -> Any:
    """Called by ``require_staff``: a redirect to enrolment when ``CRM_STAFF_REQUIRE_2FA``
    is on and the staff member has no two-factor (else ``None``)."""
    if not current_app.config.get("STAFF_REQUIRE_2FA"):
        return None
    from ..provider.access import signed_in_user_id

    user = db.session.get(User, signed_in_user_id())
    if two_factor.is_enabled(user):
        return None
    return enrolment_redirect("staff")
