"""The channel activity feed: what happened between the workspace and its partners.

The portal's own services call :func:`record` as things happen (a registration sent, approved,
rejected, expired or won; a lead handed, accepted, declined or expired; an order request
quoted; a deal shared; an announcement posted). Partners see their organisation's entries and
the announcements for their tier; channel managers see everyone's.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import and_, delete, or_, select

from crm_platform.sdk import db

from .partner_models import ChannelEvent, PartnerOrg

SHOWN = 30

#: The message of each kind; ``%(name)s`` placeholders are filled from the entry's data.
MESSAGES: dict[str, Any] = {
    "registration_sent": _l("Deal registration sent for %(company)s."),
    "registration_approved": _l("Deal registration for %(company)s approved."),
    "registration_rejected": _l("Deal registration for %(company)s rejected."),
    "registration_expired": _l("Deal registration for %(company)s expired."),
    "registration_won": _l("The deal registered for %(company)s was won."),
    "lead_handed": _l("Lead %(name)s handed to the partner."),
    "lead_accepted": _l("Lead %(name)s accepted."),
    "lead_declined": _l("Lead %(name)s declined."),
    "lead_expired": _l("Lead %(name)s returned to the pool (no answer in time)."),
    "order_requested": _l("Order request %(reference)s became quote %(quote)s."),
    "deal_shared": _l("Opportunity %(name)s shared with the partner."),
    "deal_unshared": _l("Opportunity %(name)s no longer shared."),
    "announcement": _l("Announcement: %(title)s"),
}


def record(
    kind: str,
    partner_id: uuid.UUID | None,
    *,
    tier: str | None = None,
    ref_id: uuid.UUID | None = None,
    **data: Any,
) -> None:
    """Add an entry to the feed (in the caller's transaction). ``kind`` is one of
    :data:`MESSAGES`; ``data`` the plain values its message names; ``ref_id`` the row it is
    about, when the entry must go with it (:func:`forget`)."""
    if kind not in MESSAGES:
        raise ValueError(f"unknown channel event {kind!r}")
    clean = {k: ("" if v is None else str(v))[:200] for k, v in data.items()}
    db.session.add(
        ChannelEvent(partner_id=partner_id, kind=kind, data=clean, tier=tier, ref_id=ref_id)
    )


def forget(ref_id: uuid.UUID) -> None:
    """Remove the entries about a row that is gone (a deleted announcement)."""
    db.session.execute(delete(ChannelEvent).where(ChannelEvent.ref_id == ref_id))


def message(entry: ChannelEvent) -> Markup:
    """The entry's message in the reader's language, its values escaped."""
    values = {k: escape(v) for k, v in (entry.data or {}).items()}
    try:
        return Markup(str(MESSAGES[entry.kind]) % values)  # noqa: S704 - values escaped above
    except (KeyError, TypeError, ValueError):
        return Markup(escape(entry.kind))


def for_partner(org: PartnerOrg | None, limit: int = SHOWN) -> list[ChannelEvent]:
    """The organisation's own entries and announcements for everyone or its tier, newest
    first (nothing without an organisation: fail closed)."""
    if org is None:
        return []
    everyone = and_(
        ChannelEvent.partner_id.is_(None),
        or_(ChannelEvent.tier.is_(None), ChannelEvent.tier == org.tier),
    )
    stmt = (
        select(ChannelEvent)
        .where(or_(ChannelEvent.partner_id == org.id, everyone))
        .order_by(ChannelEvent.created_at.desc(), ChannelEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def recent(partner_id: uuid.UUID | None = None, limit: int = 100) -> list[ChannelEvent]:
    """Every partner's entries (or one organisation's) for channel managers, newest first."""
    stmt = select(ChannelEvent)
    if partner_id is not None:
        stmt = stmt.where(ChannelEvent.partner_id == partner_id)
    stmt = stmt.order_by(ChannelEvent.created_at.desc(), ChannelEvent.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def partner_names(entries: list[ChannelEvent]) -> dict[uuid.UUID, str]:
    """The names of the organisations the entries are about (for the staff feed)."""
    ids = {e.partner_id for e in entries if e.partner_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(PartnerOrg.id, PartnerOrg.name).where(PartnerOrg.id.in_(ids)))
    return {row.id: row.name for row in rows}
