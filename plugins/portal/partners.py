"""Partner organisations and their portal users (kind ``partner``), and the partner twin of
``customer.own()``: every partner query is scoped to the workspace (tenant context and RLS)
AND to the signed-in partner user's own organisation."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import false, func, select

from crm_platform.sdk import (
    Account,
    ValidationFailed,
    clean_email,
    clean_text,
    db,
    parse_uuid,
    send_mail,
    utcnow,
)

from . import accounts
from .models import PortalUser
from .partner_models import PARTNER_STATUSES, TIERS, PartnerOrg


def own(model: Any, user: PortalUser | None) -> Any:
    """SQL: rows of ``model`` (with ``partner_id``) of ``user``'s partner organisation.

    Anything but an active partner user of an organisation sees nothing (fail closed)."""
    if user is None or user.kind != "partner" or user.partner_id is None:
        return false()
    return model.partner_id == user.partner_id


def organisation_of(user: PortalUser | None) -> PartnerOrg | None:
    """The active organisation of a partner user (``None``: no partner access)."""
    if user is None or user.kind != "partner" or user.partner_id is None:
        return None
    stmt = select(PartnerOrg).where(PartnerOrg.id == user.partner_id, PartnerOrg.status == "active")
    return db.session.scalars(stmt).first()


# --------------------------------------------------------------------------- staff side


def all_partners() -> list[PartnerOrg]:
    """The workspace's partner organisations by name."""
    return list(db.session.scalars(select(PartnerOrg).order_by(PartnerOrg.name).limit(1000)))


def get(partner_id: Any) -> PartnerOrg | None:
    """One partner organisation of the workspace, or ``None``."""
    pid = parse_uuid(str(partner_id))
    if pid is None:
        return None
    return db.session.scalars(select(PartnerOrg).where(PartnerOrg.id == pid)).first()


def users_of(org: PartnerOrg) -> list[PortalUser]:
    """The portal users of an organisation."""
    stmt = select(PortalUser).where(PortalUser.partner_id == org.id).order_by(PortalUser.email)
    return list(db.session.scalars(stmt))


def clean(data: Any, org: PartnerOrg | None = None) -> dict[str, Any]:
    """Cleaned name, tier, status and linked account; ``ValidationFailed`` with every problem."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        name = clean_text(data.get("name"), 200)
    except ValueError as exc:
        errors["name"] = str(exc)
    else:
        if not name:
            errors["name"] = _("Enter the partner's name.")
        else:
            same = select(PartnerOrg.id).where(func.lower(PartnerOrg.name) == name.lower())
            if org is not None:
                same = same.where(PartnerOrg.id != org.id)
            if db.session.scalar(same) is not None:
                errors["name"] = _("Another partner has this name.")
            values["name"] = name
    tier = data.get("tier") or "registered"
    if tier not in TIERS:
        errors["tier"] = _("Choose one of the listed options.")
    values["tier"] = tier
    status = data.get("status") or "active"
    if status not in PARTNER_STATUSES:
        errors["status"] = _("Choose one of the listed options.")
    values["status"] = status
    account_id = None
    raw = (data.get("account_id") or "").strip()
    if raw:
        account_id = parse_uuid(raw)
        found = account_id and db.session.scalar(
            select(Account.id).where(Account.id == account_id, Account.deleted_at.is_(None))
        )
        if not found:
            errors["account_id"] = _("Choose one of the workspace's accounts.")
    values["account_id"] = account_id
    if "price_book_id" in data:
        book_id = None
        raw_book = (data.get("price_book_id") or "").strip()
        if raw_book:
            book_id = parse_uuid(raw_book)
            if book_id is None or not any(b.id == book_id for b in _price_books()):
                errors["price_book_id"] = _("Choose one of the active price books.")
        values["price_book_id"] = book_id
    if errors:
        raise ValidationFailed(errors)
    return values


def _price_books() -> list[Any]:
    from .ordering import price_books

    return price_books()


def search_accounts(query: str, limit: int = 20) -> list[Account]:
    """Accounts of the workspace whose name contains ``query`` (not in the trash), by name."""
    text = (query or "").strip().lower()[:100]
    if not text:
        return []
    stmt = (
        select(Account)
        .where(
            func.lower(Account.name).contains(text, autoescape=True),
            Account.deleted_at.is_(None),
        )
        .order_by(Account.name)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def account_name(account_id: Any) -> str:
    """The name of a linked account (empty when there is none)."""
    if account_id is None:
        return ""
    return db.session.scalar(select(Account.name).where(Account.id == account_id)) or ""


def save(data: Any, org: PartnerOrg | None = None) -> PartnerOrg:
    """Create or update a partner organisation. Caller commits."""
    values = clean(data, org)
    if org is None:
        org = PartnerOrg(**values)
        db.session.add(org)
    else:
        for key, value in values.items():
            setattr(org, key, value)
    db.session.flush()
    return org


def invite_user(
    org: PartnerOrg, data: Any, *, actor: Any = None, workspace: str = ""
) -> PortalUser:
    """Invite someone of a partner organisation: a ``partner`` portal user, mailed a link
    valid for 7 days (the customers' invitation flow). Caller commits."""
    errors: dict[str, str] = {}
    try:
        email = clean_email(data.get("email"))
    except ValueError as exc:
        email, errors["email"] = None, str(exc)
    else:
        if not email:
            errors["email"] = _("Enter an e-mail address.")
    try:
        name = clean_text(data.get("name"), 200) or ""
    except ValueError as exc:
        name, errors["name"] = "", str(exc)
    if org.status != "active":
        errors["status"] = _("This partner is inactive: activate it first.")
    user = accounts.by_email(email or "") if email else None
    if user is not None and (user.kind != "partner" or user.partner_id != org.id):
        errors["email"] = _("Someone else already uses this e-mail address in the portal.")
    elif user is not None and user.status != "invited":
        errors["email"] = _("This person already has portal access.")
    if errors:
        raise ValidationFailed(errors)
    if user is None:
        user = PortalUser(email=email, kind="partner", partner_id=org.id, status="invited")
        db.session.add(user)
    user.name = name or user.name or ""
    user.scope = "contact"
    user.session_version = (user.session_version or 0) + 1  # earlier links die
    user.invited_by_id = getattr(actor, "id", None)
    user.invited_at = utcnow()
    db.session.flush()
    send_mail(
        user.email,
        _("You are invited to the %(name)s partner portal", name=workspace),
        _(
            "Hello %(name)s,\n\n%(workspace)s invites you to its partner portal, where "
            "%(partner)s registers deals and follows them.\n\nChoose your password here (the "
            "link works for %(days)d days):\n%(link)s\n",
            name=user.name or user.email,
            workspace=workspace,
            partner=org.name,
            days=accounts.INVITE_DAYS,
            link=accounts._link("invite", user),
        ),
    )
    return user
