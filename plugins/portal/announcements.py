"""Channel announcements: channel managers post short plain-text news for the partners (all
of them, or one tier's); partners see those for their tier on their home page, newest first."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm_platform.sdk import ValidationFailed, audit_record, clean_text, db, parse_uuid

from . import channel_feed
from .partner_models import TIERS, Announcement, PartnerOrg

SHOWN = 20


def clean(data: Any) -> dict[str, Any]:
    """Title (required, 200 characters), body (plain text, 5000) and tier (blank: every
    partner); ``ValidationFailed`` with every problem at once."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        values["title"] = clean_text(data.get("title"), 200)
    except ValueError as exc:
        errors["title"] = str(exc)
    else:
        if not values["title"]:
            errors["title"] = _("Enter a title.")
    try:
        values["body"] = clean_text(data.get("body"), 5000, multiline=True) or ""
    except ValueError as exc:
        errors["body"] = str(exc)
    tier = (data.get("tier") or "").strip() or None
    if tier is not None and tier not in TIERS:
        errors["tier"] = _("Choose one of the listed options.")
    values["tier"] = tier
    if errors:
        raise ValidationFailed(errors)
    return values


def post(data: Any, *, actor: Any) -> Announcement:
    """Post an announcement; audited. Caller commits."""
    row = Announcement(**clean(data), created_by_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    channel_feed.record("announcement", None, tier=row.tier, ref_id=row.id, title=row.title)
    audit_record(
        "portal.announcement_posted",
        target=str(row.id),
        details={"title": row.title, "tier": row.tier},
    )
    return row


def recent(limit: int = 100) -> list[Announcement]:
    """The workspace's announcements, newest first (for channel managers)."""
    stmt = select(Announcement).order_by(Announcement.created_at.desc(), Announcement.id.desc())
    return list(db.session.scalars(stmt.limit(limit)))


def get(announcement_id: Any) -> Announcement | None:
    """One announcement of the workspace, or ``None``."""
    aid = parse_uuid(str(announcement_id))
    if aid is None:
        return None
    return db.session.scalars(select(Announcement).where(Announcement.id == aid)).first()


def remove(row: Announcement) -> None:
    """Delete an announcement; audited. Caller commits."""
    audit_record("portal.announcement_deleted", target=str(row.id), details={"title": row.title})
    channel_feed.forget(row.id)
    db.session.delete(row)
    db.session.flush()


def for_partner(org: PartnerOrg | None, limit: int = SHOWN) -> list[Announcement]:
    """The announcements a partner organisation sees: for every partner or for its tier,
    newest first."""
    if org is None:
        return []
    stmt = (
        select(Announcement)
        .where(or_(Announcement.tier.is_(None), Announcement.tier == org.tier))
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
