"""Views of sign-up, sign-in, sign-out, password reset and the workspace switcher.

No account enumeration: sign-in failures read the same whether the address exists or not,
sign-up and reset always answer "check your inbox", and the mail says what happened.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import (
    current_user,
    login_required,
    login_user,
    logout_user,
    user_loaded_from_cookie,
)
from sqlalchemy import DateTime, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from .. import audit, two_factor
from ..extensions import Base, db, limiter
from ..identity import User, memberships_of_user
from ..ids import parse_uuid, uuid7
from ..mail import send_mail
from ..passwords import fingerprint, hash_password, password_problem, verify_password
from ..provisioning import (
    ValidationFailed,
    check_new_tenant,
    create_tenant,
    create_user,
    find_user,
    normalise_email,
)
from ..reauth import mark_authenticated
from ..tenancy import tenant_context, utcnow
from ..tokens import TokenError, make_token, read_token
from ..web import safe_next
from .forms import (
    ForgotPasswordForm,
    LoginForm,
    NewWorkspaceForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
)

bp = Blueprint("auth", __name__)


class PendingSignup(Base):
    """A self-service sign-up waiting for its e-mail confirmation (platform table)."""

    __tablename__ = "pending_signups"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    company_name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(40))
    industry: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _limit(key: str) -> Any:
    return lambda: current_app.config[key]


def _email_key() -> str:
    return "email:" + (request.form.get("email") or "").strip().lower()


def _apply_field_errors(form: Any, errors: dict[str, str], mapping: dict[str, str]) -> None:
    for key, message in errors.items():
        field = getattr(form, mapping.get(key, key), None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")


def _audit_in_user_tenants(user: User, action: str, **details: Any) -> None:
    for _membership, tenant in memberships_of_user(user.id):
        with tenant_context(tenant):
            audit.record(action, actor=user, actor_label=user.email, details=details or None)
            db.session.flush()


def sign_in(user: User, remember: bool = False) -> None:
    """Sign ``user`` in with a fresh session (the old one is dropped: no fixation).

    Only the language a visitor picked on the sign-in page survives.
    """
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user, remember=remember)
    mark_authenticated()
    user.last_login_at = utcnow()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"])
@limiter.limit(_limit("RATELIMIT_LOGIN"), methods=["POST"], key_func=_email_key)
def login() -> Any:
    """Sign in with e-mail and password."""
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = find_user(email)
        ok = verify_password(user.password_hash if user else None, form.password.data)
        if user and ok and user.is_active and two_factor.is_enabled(user):
            start_second_step(user, bool(form.remember.data), next_url)
            db.session.commit()
            return redirect(url_for("auth.two_factor_step"))
        if user and ok and user.is_active:
            sign_in(user, bool(form.remember.data))
            _audit_in_user_tenants(user, "auth.login")
            db.session.commit()
            return redirect(next_url or url_for("web.index"))
        if user:
            _audit_in_user_tenants(user, "auth.login_failed")
            db.session.commit()
        form.password.errors = [_("Wrong e-mail address or password.")]
    return render_template("auth/login.html", form=form, next=next_url)


@bp.post("/logout")
@login_required
def logout() -> Any:
    """Sign out and forget the session.

    The user's ``session_version`` moves on, so a copy of this session's cookie (or of a
    "keep me signed in" cookie) taken before is dead too: signing out signs out every
    browser of this user.
    """
    user = current_user._get_current_object()
    _audit_in_user_tenants(user, "auth.logout")
    user.session_version += 1
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_SIGNUP"), methods=["POST"])
def signup() -> Any:
    """Self-service sign-up: validate, then confirm by e-mail before anything is created."""
    form = SignupForm()
    if form.validate_on_submit():
        slug = form.slug.data.strip().lower()
        errors = check_new_tenant(form.company_name.data, slug, form.industry.data)
        try:
            email = normalise_email(form.email.data)
        except ValidationFailed as exc:
            errors.update(exc.errors)
            email = ""
        problem = password_problem(form.password.data, email=email, name=form.name.data)
        if problem:
            errors["password"] = problem
        if errors:
            _apply_field_errors(form, errors, {"name": "company_name"})
        else:
            _start_signup(form, email, slug)
            db.session.commit()
            return render_template("auth/check_inbox.html", email=email, purpose="signup")
    return render_template("auth/signup.html", form=form)


def _start_signup(form: SignupForm, email: str, slug: str) -> None:
    password_hash = hash_password(form.password.data)  # also for known addresses: same time
    if find_user(email):
        send_mail(
            email,
            _("You already have an account"),
            _(
                "Someone (probably you) tried to sign up with this address, which already "
                "has an account.\n\nSign in at %(login)s and choose 'New workspace', or reset "
                "your password at %(reset)s.",
                login=_abs("auth.login"),
                reset=_abs("auth.forgot_password"),
            ),
        )
        return
    pending = PendingSignup(
        email=email,
        name=form.name.data.strip(),
        company_name=form.company_name.data.strip(),
        slug=slug,
        industry=form.industry.data,
        password_hash=password_hash,
    )
    db.session.add(pending)
    db.session.flush()
    link = _abs("auth.confirm_signup", token=make_token("signup", {"sid": str(pending.id)}))
    send_mail(
        email,
        _("Confirm your new workspace"),
        _(
            "Open this link to create the workspace %(name)s:\n\n%(link)s\n\n"
            "The link works once, for 24 hours.",
            name=pending.company_name,
            link=link,
        ),
    )


def _abs(endpoint: str, **values: Any) -> str:
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm_signup(token: str) -> Any:
    """Create the tenant and its owner from a confirmed sign-up (POST; GET shows a button)."""
    try:
        data = read_token("signup", token, max_age=24 * 3600)
    except TokenError as exc:
        return render_template("auth/link_problem.html", message=str(exc)), 400
    pending = db.session.get(PendingSignup, parse_uuid(data.get("sid")) or uuid.UUID(int=0))
    if pending is None or pending.used_at is not None:
        return render_template(
            "auth/link_problem.html", message=_("This link was already used.")
        ), 400
    if request.method == "GET":
        return render_template("auth/confirm_signup.html", pending=pending)
    try:
        user = create_user(pending.email, pending.name, password_hash=pending.password_hash)
        tenant = create_tenant(pending.company_name, pending.slug, user, industry=pending.industry)
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("auth/link_problem.html", message=str(exc)), 400
    pending.used_at = utcnow()
    sign_in(user)
    db.session.commit()
    flash(_("Welcome! Your workspace is ready."), "success")
    return redirect(url_for("workspace.home", tenant_slug=tenant.slug))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_limit("RATELIMIT_RESET"), methods=["POST"])
def forgot_password() -> Any:
    """Ask for a reset link; the answer is the same whether the address exists or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = find_user(form.email.data)
        if user and user.is_active:
            payload = {"uid": str(user.id), "fp": fingerprint(user.password_hash)}
            link = _abs("auth.reset_password", token=make_token("reset", payload))
            send_mail(
                user.email,
                _("Reset your password"),
                _(
                    "Open this link to choose a new password:\n\n%(link)s\n\n"
                    "The link works once, for an hour. If you did not ask for it, ignore "
                    "this message.",
                    link=link,
                ),
            )
            db.session.commit()
        return render_template("auth/check_inbox.html", email=form.email.data, purpose="reset")
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Any:
    """Choose a new password through a signed, expiring, single-use link."""
    try:
        data = read_token("reset", token, max_age=current_app.config["TOKEN_MAX_AGE_RESET"])
    except TokenError as exc:
        return render_template("auth/link_problem.html", message=str(exc)), 400
    user = db.session.get(User, parse_uuid(data.get("uid")) or uuid.UUID(int=0))
    if user is None or data.get("fp") != fingerprint(user.password_hash):
        return render_template(
            "auth/link_problem.html", message=_("This link was already used.")
        ), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        problem = password_problem(form.password.data, email=user.email, name=user.name)
        if problem:
            form.password.errors = [problem]
        else:
            user.password_hash = hash_password(form.password.data)
            user.session_version += 1  # signs out every other session
            _audit_in_user_tenants(user, "auth.password_reset")
            if two_factor.is_enabled(user):  # the link proves the mailbox, not the second factor
                db.session.commit()
                logout_user()
                session.clear()
                flash(_("Your password was changed. Sign in with it and your code."), "success")
                return redirect(url_for("auth.login"))
            sign_in(user)
            db.session.commit()
            flash(_("Your password was changed."), "success")
            return redirect(url_for("web.index"))
    return render_template("auth/reset.html", form=form)


@bp.route("/workspaces", methods=["GET", "POST"])
@login_required
def workspaces() -> Any:
    """The workspaces of the signed-in user, and a form to create another one."""
    form = NewWorkspaceForm()
    if form.validate_on_submit():
        try:
            tenant = create_tenant(
                form.company_name.data,
                form.slug.data,
                current_user._get_current_object(),
                industry=form.industry.data,
            )
        except ValidationFailed as exc:
            db.session.rollback()
            _apply_field_errors(form, exc.errors, {"name": "company_name"})
        else:
            db.session.commit()
            flash(_("Workspace %(name)s created.", name=tenant.name), "success")
            return redirect(url_for("workspace.home", tenant_slug=tenant.slug))
    rows = memberships_of_user(current_user.id)
    return render_template("auth/workspaces.html", form=form, rows=rows)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    """The signed-in user's own name and language (empty language: follow the browser)."""
    user = current_user._get_current_object()
    form = ProfileForm(name=user.name, locale=user.locale or "")
    if form.validate_on_submit():
        name = form.name.data.strip()
        if name != user.name:
            _audit_in_user_tenants(user, "user.renamed", **{"from": user.name, "to": name})
            user.name = name
        user.locale = form.locale.data or None
        if user.locale is None:
            session.pop("lang", None)
        db.session.commit()
        refresh()  # the confirmation below already speaks the chosen language
        flash(_("Your profile was saved."), "success")
        return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form), 400 if form.errors else 200


@user_loaded_from_cookie.connect
def _bind_restored_session(sender: Any, user: Any = None, **extra: Any) -> None:
    """A session restored from "keep me signed in" gets the identifier ``login_user`` gives
    a fresh one; without it, strong session protection drops the session (and the cookie)
    on the very next request. It is not a recent sign-in (no ``crm_auth_at``)."""
    session["_id"] = current_app.login_manager._session_identifier_generator()


def load_user(identity: str) -> User | None:
    """Flask-Login loader: ``<user id>.<session version>``; a stale version signs out."""
    user_part, _, version = identity.partition(".")
    uid = parse_uuid(user_part)
    if uid is None or not version.isdigit():
        return None
    user = db.session.get(User, uid)
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    return user


from .security_views import start_second_step  # noqa: E402 - second step, 2FA, re-auth
