"""Portal users: invitations, self sign-up, sign-in, password reset, disabling.

Links are signed, expiring tokens (``sdk.make_token``) bound to the user's
``session_version``: using one (or changing the password, or disabling the user) moves the
version, so every earlier link and session is void.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from crm_platform.sdk import (
    Contact,
    TokenError,
    ValidationFailed,
    db,
    make_token,
    normalise_email,
    parse_uuid,
    password_problem,
    read_token,
    require_tenant,
    send_mail,
    utcnow,
)

from .models import SCOPES, PortalUser

INVITE_DAYS = 7
LINK_HOURS = 24
PURPOSES = {"invite": "portal.invite", "signup": "portal.signup", "reset": "portal.reset"}
ENDPOINTS = {"invite": "portal.accept_invite", "signup": "portal.confirm", "reset": "portal.reset"}


def _method() -> str:
    return str(current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt")


def _max_age(kind: str) -> int:
    return INVITE_DAYS * 86400 if kind == "invite" else LINK_HOURS * 3600


def by_email(email: str) -> PortalUser | None:
    """The workspace's portal user with ``email`` (case-insensitive)."""
    address = (email or "").strip().lower()
    if not address:
        return None
    stmt = select(PortalUser).where(func.lower(PortalUser.email) == address)
    return db.session.scalars(stmt).first()


def of_contact(contact_id: Any) -> PortalUser | None:
    """The portal user linked to a contact."""
    stmt = select(PortalUser).where(PortalUser.contact_id == contact_id)
    return db.session.scalars(stmt).first()


def _link(kind: str, user: PortalUser) -> str:
    token = make_token(
        PURPOSES[kind],
        {"t": str(require_tenant().id), "u": str(user.id), "v": user.session_version},
    )
    endpoint = {
        "invite": "portal.accept_invite",
        "signup": "portal.confirm",
        "reset": "portal.reset",
    }
    path = url_for(endpoint[kind], token=token, tenant_slug=require_tenant().slug)
    return current_app.config["BASE_URL"] + path


def _contact_name(contact: Contact) -> str:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p).strip()


def _for_contact(contact: Contact, scope: str) -> PortalUser:
    """The contact's portal user, made (status invited) when missing."""
    if scope not in SCOPES:
        raise ValidationFailed({"scope": _("Choose one of the listed options.")})
    if contact.deleted_at is not None:
        raise ValidationFailed({"contact": _("This contact was deleted.")})
    try:
        email = normalise_email(contact.email or "")
    except Exception:  # noqa: BLE001 - any malformed address is refused the same way
        email = ""
    if not email or "@" not in email:
        raise ValidationFailed({"email": _("Add an e-mail address to the contact first.")})
    user = of_contact(contact.id)
    other = by_email(email)
    if other is not None and (user is None or other.id != user.id):
        raise ValidationFailed(
            {"email": _("Another customer already uses this e-mail address in the portal.")}
        )
    if user is None:
        user = PortalUser(email=email, contact_id=contact.id, status="invited")
        db.session.add(user)
    if user.status == "active":
        raise ValidationFailed({"status": _("This customer already has portal access.")})
    if user.status == "disabled":
        raise ValidationFailed({"status": _("Portal access is disabled: enable it first.")})
    user.email = email
    user.name = _contact_name(contact)[:200]
    user.account_id = contact.account_id
    user.scope = scope
    user.session_version = (user.session_version or 0) + 1  # earlier links die
    db.session.flush()
    return user


def invite(
    contact: Contact, *, actor: Any, scope: str = "contact", workspace: str = ""
) -> PortalUser:
    """Invite a contact to the portal: mails a link valid for 7 days. Caller commits."""
    user = _for_contact(contact, scope)
    user.invited_by_id = getattr(actor, "id", None)
    user.invited_at = utcnow()
    db.session.flush()
    send_mail(
        user.email,
        _("You are invited to the %(name)s customer portal", name=workspace),
        _(
            "Hello %(name)s,\n\n%(workspace)s invites you to its customer portal, where you can "
            "follow your requests, orders and quotes.\n\nChoose your password here (the link "
            "works for %(days)d days):\n%(link)s\n",
            name=user.name or user.email,
            workspace=workspace,
            days=INVITE_DAYS,
            link=_link("invite", user),
        ),
    )
    return user


def request_signup(email: str, *, workspace: str = "") -> bool:
    """Self sign-up: when ``email`` is a live contact's (and only one), mail a confirmation
    link. Returns whether a mail was sent; the page says the same either way."""
    address = (email or "").strip().lower()
    if not address or "@" not in address:
        raise ValidationFailed({"email": _("Enter a valid e-mail address.")})
    contacts = db.session.scalars(
        select(Contact)
        .where(func.lower(Contact.email) == address, Contact.deleted_at.is_(None))
        .limit(2)
    ).all()
    if len(contacts) != 1:
        return False
    existing = by_email(address)
    if existing is not None and existing.status != "invited":
        return False  # active: they should sign in or reset; disabled: no way back alone
    try:
        user = _for_contact(contacts[0], existing.scope if existing else "contact")
    except ValidationFailed:
        return False
    send_mail(
        user.email,
        _("Confirm your access to the %(name)s customer portal", name=workspace),
        _(
            "Hello %(name)s,\n\nConfirm your e-mail address and choose your password here "
            "(the link works for %(hours)d hours):\n%(link)s\n\nIf you did not ask for this, "
            "ignore this message.\n",
            name=user.name or user.email,
            hours=LINK_HOURS,
            link=_link("signup", user),
        ),
    )
    return True


def request_reset(email: str, *, workspace: str = "") -> bool:
    """Mail a password reset link to an active portal user (the page says the same either
    way)."""
    user = by_email(email)
    if user is None or user.status != "active":
        return False
    send_mail(
        user.email,
        _("Reset your %(name)s portal password", name=workspace),
        _(
            "Choose a new password here (the link works for %(hours)d hours):\n%(link)s\n\n"
            "If you did not ask for this, ignore this message.\n",
            hours=LINK_HOURS,
            link=_link("reset", user),
        ),
    )
    return True


def user_from_token(kind: str, token: str) -> PortalUser:
    """The portal user a link is for; raises ``TokenError`` (tampered, expired, used)."""
    data = read_token(PURPOSES[kind], token, _max_age(kind))
    if data.get("t") != str(require_tenant().id):
        raise TokenError(_("This link is not valid."))
    stmt = select(PortalUser).where(PortalUser.id == _uuid(data.get("u")))
    user = db.session.scalars(stmt).first()
    if user is None or user.session_version != data.get("v") or user.status == "disabled":
        raise TokenError(_("This link was already used or replaced by a newer one."))
    if kind in ("invite", "signup") and user.status != "invited":
        raise TokenError(_("This link was already used or replaced by a newer one."))
    return user


def _uuid(value: Any) -> Any:
    return parse_uuid(str(value or ""))


def set_password(user: PortalUser, password: str, confirm: str) -> None:
    """Check and set a password; activates an invited user and voids older sessions/links."""
    problem = password_problem(password or "", email=user.email, name=user.name)
    if problem:
        raise ValidationFailed({"password": problem})
    if password != confirm:
        raise ValidationFailed({"confirm": _("The two passwords differ.")})
    user.password_hash = generate_password_hash(password, method=_method())
    if user.status == "invited":
        user.status = "active"
        user.activated_at = utcnow()
    user.session_version = (user.session_version or 0) + 1
    db.session.flush()


_DUMMY: dict[str, str] = {}


def authenticate(email: str, password: str) -> PortalUser | None:
    """The active portal user with these credentials, else ``None`` (same time either way)."""
    user = by_email(email)
    hashed = user.password_hash if user is not None else None
    if not hashed:
        method = _method()
        dummy = _DUMMY.setdefault(method, generate_password_hash("not-a-password", method=method))
        check_password_hash(dummy, password or "")
        return None
    if not check_password_hash(hashed, password or ""):
        return None
    return user if user.status == "active" and user.kind in ("customer", "partner") else None


def set_status(user: PortalUser, status: str) -> None:
    """Disable (every session ends) or enable a portal user. Caller commits."""
    if status == "disabled":
        user.status = "disabled"
        user.session_version = (user.session_version or 0) + 1
    elif status == "enabled":
        user.status = "active" if user.password_hash else "invited"
    else:
        raise ValidationFailed({"status": _("Choose one of the listed options.")})
    db.session.flush()


def current() -> PortalUser | None:
    """The signed-in portal user of this request."""
    return g.get("portal_user")
