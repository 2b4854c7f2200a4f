"""Members, invitations, workspace settings and the audit log of one tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from crm_platform.sdk import (
    ROLE_LABELS,
    AuditEvent,
    Invitation,
    Membership,
    TokenError,
    ValidationFailed,
    add_member,
    audit_record,
    check_seats,
    create_user,
    db,
    find_user,
    get_or_404,
    has_permission,
    make_token,
    normalise_email,
    parse_uuid,
    public_tenant_view,
    read_token,
    require_permission,
    require_recent_auth,
    send_mail,
    sign_in,
    two_factor_enabled,
    utcnow,
)

from .forms import AcceptInvitationForm, EmptyForm, InviteForm, RoleForm, SettingsForm

bp = Blueprint("tenants", __name__, url_prefix="/t/<tenant_slug>", template_folder="templates")


def _owners() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.role == "owner")
    )


def _check_role_change(target: Membership, new_role: str | None) -> str | None:
    """Why the signed-in member may not change ``target`` to ``new_role`` (None = remove)."""
    actor_is_owner = g.membership.role == "owner"
    if (target.role == "owner" or new_role == "owner") and not actor_is_owner:
        return _("Only an owner can grant or take away the owner role.")
    if target.role == "owner" and new_role != "owner" and _owners() <= 1:
        return _("A workspace needs at least one owner.")
    return None


@bp.get("/members")
@require_permission("members.read")
def members() -> Any:
    """Members with their roles, and pending invitations."""
    rows = db.session.scalars(select(Membership).order_by(Membership.created_at)).all()
    invitations = db.session.scalars(
        select(Invitation)
        .where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc())
    ).all()
    return render_template(
        "tenants/members.html",
        members=rows,
        invitations=invitations,
        invite_form=InviteForm(),
        can_manage=has_permission("members.manage"),
        button_form=EmptyForm(),
        role_labels=ROLE_LABELS,
    )


@bp.post("/members/invite")
@require_permission("members.manage")
def invite() -> Any:
    """Invite someone by e-mail with a role; they get a signed, expiring, single-use link."""
    form = InviteForm()
    errors: dict[str, str] = {}
    email = ""
    if not form.validate_on_submit():
        errors = {k: v[0] for k, v in form.errors.items()}
    else:
        try:
            email = normalise_email(form.email.data)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        if form.role.data == "owner" and g.membership.role != "owner":
            errors["role"] = _("Only an owner can invite another owner.")
        user = find_user(email) if email else None
        if user and db.session.scalar(select(Membership.id).where(Membership.user_id == user.id)):
            errors["email"] = _("This person is already a member.")
        pending = db.session.scalars(
            select(Invitation).where(func.lower(Invitation.email) == email)
        ).all()
        if any(i.status == "pending" for i in pending):
            errors["email"] = _("This address already has a pending invitation.")
        try:
            check_seats()
        except ValidationFailed as exc:
            errors["email"] = exc.errors["seats"]
    if errors:
        for key, message in errors.items():
            getattr(form, key, form.email).errors = [message]
        return _members_with(form), 400
    invitation = Invitation(
        email=email,
        role=form.role.data,
        invited_by_id=current_user.id,
        expires_at=utcnow() + timedelta(seconds=current_app.config["TOKEN_MAX_AGE_INVITE"]),
    )
    db.session.add(invitation)
    db.session.flush()
    token = make_token("invite", {"tid": str(g.tenant.id), "iid": str(invitation.id)})
    link = current_app.config["BASE_URL"] + url_for("tenants.accept_invitation", token=token)
    send_mail(
        email,
        _("%(name)s invited you to %(workspace)s", name=current_user.name, workspace=g.tenant.name),
        _(
            "%(name)s invited you to join the workspace %(workspace)s as %(role)s.\n\n"
            "Accept the invitation here:\n%(link)s\n\nThe link works once and expires in "
            "7 days.",
            name=current_user.name,
            workspace=g.tenant.name,
            role=ROLE_LABELS.get(invitation.role, invitation.role),
            link=link,
        ),
    )
    audit_record("member.invited", target=email, details={"role": invitation.role})
    db.session.commit()
    flash(_("Invitation sent to %(email)s.", email=email), "success")
    return redirect(url_for("tenants.members"))


def _members_with(form: InviteForm) -> str:
    rows = db.session.scalars(select(Membership).order_by(Membership.created_at)).all()
    invitations = db.session.scalars(
        select(Invitation).where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
    ).all()
    return render_template(
        "tenants/members.html",
        members=rows,
        invitations=invitations,
        invite_form=form,
        can_manage=True,
        button_form=EmptyForm(),
        role_labels=ROLE_LABELS,
    )


@bp.post("/members/<member_id>/role")
@require_permission("members.manage")
@require_recent_auth
def change_role(member_id: str) -> Any:
    """Change a member's role (owner rules apply; the last owner stays an owner)."""
    target = get_or_404(Membership, member_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose a valid role."), "error")
        return redirect(url_for("tenants.members")), 303
    problem = _check_role_change(target, form.role.data)
    if problem:
        flash(problem, "error")
        return redirect(url_for("tenants.members")), 303
    old = target.role
    if old != form.role.data:
        target.role = form.role.data
        audit_record(
            "member.role_changed",
            target=target.user.email,
            details={"from": old, "to": target.role},
        )
        db.session.commit()
        flash(_("%(email)s is now %(role)s.", email=target.user.email, role=target.role), "success")
    return redirect(url_for("tenants.members")), 303


@bp.post("/members/<member_id>/remove")
@require_permission("members.manage")
@require_recent_auth
def remove_member(member_id: str) -> Any:
    """Remove a member from the workspace (their user account and other workspaces stay)."""
    target = get_or_404(Membership, member_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    problem = _check_role_change(target, None)
    if problem:
        flash(problem, "error")
        return redirect(url_for("tenants.members")), 303
    email = target.user.email
    db.session.delete(target)
    audit_record("member.removed", target=email, details={"role": target.role})
    db.session.commit()
    flash(_("%(email)s was removed.", email=email), "success")
    return redirect(url_for("tenants.members")), 303


@bp.post("/invitations/<invitation_id>/revoke")
@require_permission("members.manage")
def revoke_invitation(invitation_id: str) -> Any:
    """Revoke a pending invitation: its link stops working."""
    invitation = get_or_404(Invitation, invitation_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if invitation.status == "pending":
        invitation.revoked_at = utcnow()
        audit_record("invitation.revoked", target=invitation.email)
        db.session.commit()
        flash(_("Invitation to %(email)s revoked.", email=invitation.email), "success")
    return redirect(url_for("tenants.members")), 303


def _invitation_from_token(token: str) -> Invitation:
    try:
        data = read_token("invite", token, max_age=current_app.config["TOKEN_MAX_AGE_INVITE"])
    except TokenError as exc:
        raise _LinkProblem(str(exc)) from exc
    if data.get("tid") != str(g.tenant.id):
        abort(404)
    invitation = get_or_404(Invitation, data.get("iid"))
    status = invitation.status
    if status != "pending":
        messages = {
            "accepted": _("This invitation was already used."),
            "revoked": _("This invitation was revoked."),
            "expired": _("This link has expired."),
        }
        raise _LinkProblem(messages[status])
    return invitation


class _LinkProblem(Exception):
    pass


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@public_tenant_view
def accept_invitation(token: str) -> Any:
    """Join the workspace from an invitation link (new users choose a name and password)."""
    try:
        invitation = _invitation_from_token(token)
    except _LinkProblem as exc:
        return render_template("auth/link_problem.html", message=str(exc)), 400
    existing = find_user(invitation.email)
    form = AcceptInvitationForm() if existing is None else EmptyForm()
    if existing is not None and (
        not current_user.is_authenticated or current_user.id != existing.id
    ):
        return render_template(
            "tenants/accept_invitation.html",
            invitation=invitation,
            form=None,
            must_sign_in=not current_user.is_authenticated,
            wrong_user=current_user.is_authenticated,
        )
    if form.validate_on_submit():
        try:
            check_seats()  # the plan's seats, before an account is made
            user = existing or create_user(invitation.email, form.name.data, form.password.data)
        except ValidationFailed as exc:
            for key, message in exc.errors.items():
                target = getattr(form, key, None) or getattr(form, "password", None)
                if target is None:
                    flash(message, "error")
                else:
                    target.errors = [message]
        else:
            add_member(g.tenant, user, invitation.role)
            invitation.accepted_at = utcnow()
            audit_record(
                "member.joined", target=user.email, actor=user, details={"role": invitation.role}
            )
            if existing is None:
                sign_in(user)
            db.session.commit()
            flash(_("Welcome to %(workspace)s.", workspace=g.tenant.name), "success")
            return redirect(url_for("workspace.home"))
    return render_template(
        "tenants/accept_invitation.html",
        invitation=invitation,
        form=form,
        must_sign_in=False,
        wrong_user=False,
    )


@bp.route("/settings", methods=["GET", "POST"])
@require_permission("settings.manage")
def settings() -> Any:
    """Workspace name, industry, default language and time zone."""
    tenant = g.tenant
    is_owner = g.membership.role == "owner"
    required = bool((tenant.settings or {}).get("require_2fa"))
    form = SettingsForm(obj=tenant, require_2fa=required)
    if form.validate_on_submit():
        wants_2fa = bool(form.require_2fa.data) if is_owner else required
        try:
            ZoneInfo(form.timezone.data.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Asia' is a folder
            form.timezone.errors = [_("Unknown time zone, e.g. Asia/Shanghai or Europe/Paris.")]
        else:
            if wants_2fa and not required and not two_factor_enabled(current_user):
                form.require_2fa.errors = [_("Turn on two-factor sign-in for yourself first.")]
                return render_template("tenants/settings.html", form=form, is_owner=is_owner), 400
            changes = {}
            for field in ("name", "industry", "locale", "timezone"):
                new = getattr(form, field).data.strip()
                if getattr(tenant, field) != new:
                    changes[field] = {"from": getattr(tenant, field), "to": new}
                    setattr(tenant, field, new)
            if wants_2fa != required:
                changes["require_2fa"] = {"from": required, "to": wants_2fa}
                tenant.settings = {**(tenant.settings or {}), "require_2fa": wants_2fa}
            if changes:
                audit_record("settings.changed", target="workspace", details=changes)
                db.session.commit()
                flash(_("Settings saved."), "success")
            return redirect(url_for("tenants.settings"))
    return render_template(
        "tenants/settings.html", form=form, is_owner=is_owner
    ), 400 if form.errors else 200


AUDIT_PAGE = 50


@bp.get("/audit")
@require_permission("audit.read")
def audit_log() -> Any:
    """The audit log, newest first, filterable by action, 50 a page."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE + 1)
    action = request.args.get("action", "").strip()
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    before = request.args.get("before", "")
    if before:
        cursor = parse_uuid(before)
        if cursor is None:
            abort(400, description=_("Bad page cursor."))
        stmt = stmt.where(AuditEvent.id < cursor)
    rows = db.session.scalars(stmt).all()
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    actions = db.session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()
    return render_template(
        "tenants/audit.html",
        events=rows,
        actions=actions,
        action=action,
        next_cursor=str(rows[-1].id) if more else None,
    )
