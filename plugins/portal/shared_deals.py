"""Sales deals shared with partner organisations, showing partners only the exposed fields.

A deal is shared with a partner when its registration is approved with a deal, when the
partner's order request becomes a quote, or when a channel manager shares it from the
partner's page. The workspace chooses which deal fields partners see (the deal's name always
identifies it); everything else of the deal (notes, competitors, other quotes, history) stays
with the staff.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm_platform.sdk import (
    ValidationFailed,
    audit_record,
    db,
    module_enabled,
    module_settings,
    parse_uuid,
    save_module_settings,
)

from . import channel_feed, partners
from .models import PortalUser
from .partner_models import DealShare

KEY = "portal"
#: The deal fields a workspace may expose to partners, in the order they are shown.
FIELDS: dict[str, Any] = {
    "stage": _l("Stage"),
    "status": _l("Status"),
    "amount": _l("Amount"),
    "expected_close": _l("Expected close"),
    "owner": _l("Sales rep"),
}
DEFAULT_FIELDS = ("stage", "amount", "expected_close")
DEAL_STATUS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
SEARCH_LIMIT = 20


def sales_on() -> bool:
    """Deals can be shared only while Sales is on."""
    return module_enabled("sfa")


def exposed_fields() -> tuple[str, ...]:
    """The deal fields the workspace shows partners (its setting, or the defaults)."""
    value = module_settings(KEY).get("shared_deal_fields")
    if isinstance(value, list):
        return tuple(f for f in FIELDS if f in value)
    return DEFAULT_FIELDS


def save_exposed_fields(chosen: list[str]) -> tuple[str, ...]:
    """Store the exposed fields; ``ValidationFailed`` on a field that cannot be shared.
    Caller commits."""
    unknown = [c for c in chosen if c not in FIELDS]
    if unknown:
        raise ValidationFailed({"fields": _("Choose among the listed fields.")})
    fields = [f for f in FIELDS if f in chosen]
    save_module_settings(KEY, {**module_settings(KEY), "shared_deal_fields": fields})
    return tuple(fields)


def _deal_model() -> Any:
    from plugins.sfa.models import Deal

    return Deal


def _money(amount: Any, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def shown(deal: Any, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """What a partner sees of ``deal``: its name and the exposed fields, as labelled text."""
    fields = exposed_fields() if fields is None else fields
    values = {
        "stage": lambda: deal.stage.name,
        "status": lambda: str(DEAL_STATUS.get(deal.status, deal.status)),
        "amount": lambda: _money(deal.amount, deal.currency),
        "expected_close": lambda: deal.expected_close.isoformat() if deal.expected_close else "",
        "owner": lambda: deal.owner.name if deal.owner else "",
    }
    return {
        "name": deal.name,
        "fields": [(str(FIELDS[f]), values[f]()) for f in fields],
    }


# --------------------------------------------------------------------------- staff side


def share(
    deal_id: uuid.UUID, partner_id: uuid.UUID, *, actor: Any = None, feed: bool = True
) -> DealShare:
    """Share a deal with a partner organisation (once; sharing again changes nothing).
    Caller commits."""
    existing = db.session.scalars(
        select(DealShare).where(DealShare.deal_id == deal_id, DealShare.partner_id == partner_id)
    ).first()
    if existing is not None:
        return existing
    row = DealShare(deal_id=deal_id, partner_id=partner_id, shared_by_id=getattr(actor, "id", None))
    db.session.add(row)
    db.session.flush()
    if feed:
        name = db.session.scalar(select(_deal_model().name).where(_deal_model().id == deal_id))
        channel_feed.record("deal_shared", partner_id, name=name or "")
    return row


def share_by_form(org: Any, data: Any, *, actor: Any) -> DealShare:
    """A channel manager shares one of the workspace's deals (chosen by id) with ``org``;
    audited. ``ValidationFailed`` without Sales or on an unknown deal. Caller commits."""
    if not sales_on():
        raise ValidationFailed({"deal_id": _("Switch Sales on to share deals with partners.")})
    deal_id = parse_uuid(str(data.get("deal_id") or ""))
    deal = None
    if deal_id is not None:
        deal = db.session.scalars(select(_deal_model()).where(_deal_model().id == deal_id)).first()
    if deal is None:
        raise ValidationFailed({"deal_id": _("Choose one of the deals found.")})
    row = share(deal.id, org.id, actor=actor)
    audit_record(
        "portal.deal_shared",
        target=str(row.id),
        details={"deal": deal.name, "deal_id": str(deal.id), "partner": org.name},
    )
    return row


def unshare(org: Any, share_id: Any) -> bool:
    """Stop sharing a deal with ``org``; audited. ``False``: no such share. Caller commits."""
    sid = parse_uuid(str(share_id or ""))
    row = None
    if sid is not None:
        row = db.session.scalars(
            select(DealShare).where(DealShare.id == sid, DealShare.partner_id == org.id)
        ).first()
    if row is None:
        return False
    name = ""
    if sales_on():
        name = db.session.scalar(select(_deal_model().name).where(_deal_model().id == row.deal_id))
    channel_feed.record("deal_unshared", org.id, name=name or "")
    audit_record(
        "portal.deal_unshared",
        target=str(row.id),
        details={"deal_id": str(row.deal_id), "partner": org.name},
    )
    db.session.delete(row)
    db.session.flush()
    return True


def shares_of(org: Any) -> list[tuple[DealShare, Any]]:
    """The deals shared with ``org`` (staff view): (share, deal), newest first."""
    if not sales_on():
        return []
    deal = _deal_model()
    stmt = (
        select(DealShare, deal)
        .join(deal, deal.id == DealShare.deal_id)
        .where(DealShare.partner_id == org.id)
        .order_by(DealShare.created_at.desc())
        .limit(500)
    )
    return [(s, d) for s, d in db.session.execute(stmt).unique()]


def search_deals(query: str, org: Any) -> list[Any]:
    """Open deals whose name contains ``query`` and that are not shared with ``org`` yet (at
    most :data:`SEARCH_LIMIT`, by name)."""
    text = (query or "").strip().lower()[:100]
    if not text or not sales_on():
        return []
    deal = _deal_model()
    taken = select(DealShare.deal_id).where(DealShare.partner_id == org.id)
    stmt = (
        select(deal)
        .where(
            func.lower(deal.name).contains(text, autoescape=True),
            deal.status == "open",
            deal.id.not_in(taken),
        )
        .order_by(deal.name)
        .limit(SEARCH_LIMIT)
    )
    return list(db.session.scalars(stmt).unique())


# --------------------------------------------------------------------------- partner side


def of_partner(user: PortalUser) -> list[dict[str, Any]]:
    """What the partner user's organisation sees of the deals shared with it, newest first."""
    if not sales_on():
        return []
    deal = _deal_model()
    fields = exposed_fields()
    stmt = (
        select(DealShare, deal)
        .join(deal, deal.id == DealShare.deal_id)
        .where(partners.own(DealShare, user))
        .order_by(DealShare.created_at.desc())
        .limit(500)
    )
    return [{"share_id": s.id, **shown(d, fields)} for s, d in db.session.execute(stmt).unique()]


def one_of_partner(user: PortalUser, share_id: Any) -> dict[str, Any] | None:
    """One shared deal of the partner user's organisation (exposed fields only), or ``None``
    (missing, another partner's and another workspace's alike)."""
    sid = parse_uuid(str(share_id or ""))
    if sid is None or not sales_on():
        return None
    deal = _deal_model()
    stmt = (
        select(DealShare, deal)
        .join(deal, deal.id == DealShare.deal_id)
        .where(DealShare.id == sid, partners.own(DealShare, user))
    )
    row = db.session.execute(stmt).unique().first()
    if row is None:
        return None
    return {"share_id": row[0].id, "shared_at": row[0].created_at, **shown(row[1])}


def shared_deal_of(deal_id: uuid.UUID | None, partner_id: uuid.UUID) -> dict[str, Any] | None:
    """What a partner sees of one deal shared with it (a registration's deal), or ``None``."""
    if deal_id is None or not sales_on():
        return None
    deal = _deal_model()
    stmt = (
        select(DealShare, deal)
        .join(deal, deal.id == DealShare.deal_id)
        .where(DealShare.deal_id == deal_id, DealShare.partner_id == partner_id)
    )
    row = db.session.execute(stmt).unique().first()
    return None if row is None else {"share_id": row[0].id, **shown(row[1])}
