"""Leads handed to partners: a channel manager hands an open, unowned Sales lead to a partner
organisation with an acceptance deadline; the partner accepts it (it stays with them, noted
on the lead's activity log) or declines it; declined and overdue handoffs (the hourly job)
put the lead back in the pool the channel manager hands from.

Sales' leads are read through its public models and written through its own service
(``leads.log_activity``), only while Sales is on, as :mod:`.registration` does for deals.
The partner sees only the lead's company, contact name, e-mail, phone and source.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    ValidationFailed,
    audit_record,
    db,
    job,
    module_enabled,
    parse_uuid,
    send_mail,
    utcnow,
)

from . import channel_feed, partners
from .models import PortalUser
from .partner_models import HANDED, LeadHandoff, PartnerOrg

DEFAULT_DAYS = 3
DAYS_RANGE = (1, 30)
#: What a partner may see of a handed lead.
SHARED_FIELDS = ("company", "name", "email", "phone", "source")


def sales_on() -> bool:
    """Leads can be handed only while Sales is on."""
    return module_enabled("sfa")


def _handed_lead_ids() -> Any:
    return select(LeadHandoff.lead_id).where(LeadHandoff.status.in_(HANDED))


def open_leads(limit: int = 200) -> list[Any]:
    """Sales' pool (open leads nobody owns) without the leads handed to a partner now."""
    from plugins.sfa.leads import pool_condition
    from plugins.sfa.models import Lead

    stmt = (
        select(Lead)
        .where(*pool_condition(), Lead.id.not_in(_handed_lead_ids()))
        .order_by(Lead.created_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt).unique())


def _pool_lead(lead_id: Any, *, lock: bool = False) -> Any:
    """An open, unowned lead of the pool (row-locked with ``lock``), or ``None``."""
    from plugins.sfa.leads import pool_condition
    from plugins.sfa.models import Lead

    lid = parse_uuid(str(lead_id or ""))
    if lid is None:
        return None
    stmt = select(Lead).where(Lead.id == lid, *pool_condition())
    if lock:
        stmt = stmt.with_for_update(of=Lead)
    return db.session.scalars(stmt).unique().first()


def clean_days(raw: Any) -> int:
    """Days the partner has to accept (blank: 3); ``ValueError`` outside 1–30."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return DEFAULT_DAYS
    try:
        days = int(text)
    except ValueError:
        days = 0
    low, high = DAYS_RANGE
    if not low <= days <= high:
        raise ValueError(_("Enter a number of days from %(a)d to %(b)d.", a=low, b=high))
    return days


def hand_off(data: Any, *, actor: Any, workspace: str = "") -> LeadHandoff:
    """Hand a pool lead to an active partner organisation; audited, the partner's users are
    mailed. ``ValidationFailed`` with every problem, nothing written. Caller commits."""
    if not sales_on():
        raise ValidationFailed({"lead_id": _("Switch Sales on to hand leads to partners.")})
    errors: dict[str, str] = {}
    lead = None
    if not data.get("lead_id"):
        errors["lead_id"] = _("Choose a lead.")
    else:
        lead = _pool_lead(data.get("lead_id"), lock=True)
        handed = lead is not None and db.session.scalar(
            select(LeadHandoff.id).where(
                LeadHandoff.lead_id == lead.id, LeadHandoff.status.in_(HANDED)
            )
        )
        if lead is None or handed:
            errors["lead_id"] = _("This lead is no longer in the pool.")
    org = partners.get(data.get("partner_id") or "")
    if org is None or org.status != "active":
        errors["partner_id"] = _("Choose one of the active partners.")
    try:
        days = clean_days(data.get("days"))
    except ValueError as exc:
        errors["days"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    handoff = LeadHandoff(
        lead_id=lead.id,
        partner_id=org.id,
        status="pending",
        deadline_at=utcnow() + timedelta(days=days),
        handed_by_id=getattr(actor, "id", None),
    )
    db.session.add(handoff)
    db.session.flush()
    channel_feed.record("lead_handed", org.id, name=_company(lead))
    audit_record(
        "portal.lead_handed",
        target=str(handoff.id),
        details={"lead_id": str(lead.id), "lead": lead.name, "partner": org.name, "days": days},
    )
    for user in _active_users(org):
        send_mail(
            user.email,
            _("A lead for %(partner)s: %(company)s", partner=org.name, company=_company(lead)),
            _(
                "Hello %(name)s,\n\n%(workspace)s hands a lead to %(partner)s: %(company)s "
                "(%(contact)s). Accept or decline it in the partner portal within %(days)d "
                "days; after that it goes back to %(workspace)s.\n",
                name=user.name or user.email,
                workspace=workspace,
                partner=org.name,
                company=_company(lead),
                contact=lead.name,
                days=days,
            ),
        )
    return handoff


def _company(lead: Any) -> str:
    return lead.company or lead.name


def _active_users(org: PartnerOrg) -> list[PortalUser]:
    stmt = select(PortalUser).where(PortalUser.partner_id == org.id, PortalUser.status == "active")
    return list(db.session.scalars(stmt.order_by(PortalUser.email)))


def recent_handoffs(limit: int = 200) -> list[tuple[LeadHandoff, Any, str]]:
    """Handoffs for the channel manager, newest first: (handoff, lead or ``None``, partner)."""
    from plugins.sfa.models import Lead

    stmt = (
        select(LeadHandoff, Lead, PartnerOrg.name)
        .join(PartnerOrg, PartnerOrg.id == LeadHandoff.partner_id)
        .outerjoin(Lead, Lead.id == LeadHandoff.lead_id)
        .order_by(LeadHandoff.created_at.desc())
        .limit(limit)
    )
    return [(h, lead, name) for h, lead, name in db.session.execute(stmt).unique()]


# --------------------------------------------------------------------------- partner side


def of_partner(user: PortalUser) -> list[dict[str, Any]]:
    """The pending and accepted leads of the partner user's organisation, newest first, with
    only the shared fields of each lead."""
    from plugins.sfa.models import Lead

    stmt = (
        select(LeadHandoff, Lead)
        .join(Lead, Lead.id == LeadHandoff.lead_id)
        .where(partners.own(LeadHandoff, user), LeadHandoff.status.in_(HANDED))
        .order_by(LeadHandoff.created_at.desc())
        .limit(500)
    )
    rows = []
    for handoff, lead in db.session.execute(stmt).unique():
        shared = {name: getattr(lead, name) or "" for name in SHARED_FIELDS}
        rows.append({"handoff": handoff, **shared})
    return rows


def one_of_partner(user: PortalUser, handoff_id: Any, *, lock: bool = False) -> Any:
    """One handoff of the partner user's organisation, or ``None`` (missing, another
    partner's and another workspace's alike)."""
    hid = parse_uuid(str(handoff_id or ""))
    if hid is None:
        return None
    stmt = select(LeadHandoff).where(LeadHandoff.id == hid, partners.own(LeadHandoff, user))
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first()


def _overdue(handoff: LeadHandoff) -> bool:
    stmt = select(LeadHandoff.id).where(
        LeadHandoff.id == handoff.id, LeadHandoff.deadline_at < utcnow()
    )
    return db.session.scalar(stmt) is not None


def respond(user: PortalUser, handoff: LeadHandoff, decision: str) -> None:
    """The partner accepts (the lead stays with them, noted on the lead) or declines (back to
    the pool) a pending handoff. ``ValidationFailed`` when it was answered already, is past
    its deadline or Sales took the lead meanwhile. Caller commits."""
    if handoff.status != "pending":
        raise ValidationFailed({"status": _("This lead was answered already.")})
    if _overdue(handoff):
        raise ValidationFailed({"status": _("The deadline of this lead has passed.")})
    org = partners.organisation_of(user)
    lead = _pool_lead(handoff.lead_id, lock=True)
    if lead is None:
        handoff.status = "withdrawn"
        db.session.flush()
        raise ValidationFailed({"status": _("This lead is no longer available.")})
    handoff.status = "accepted" if decision == "accept" else "declined"
    handoff.responded_by_id = user.id
    handoff.responded_at = utcnow()
    if handoff.status == "accepted":
        from plugins.sfa.leads import log_activity

        log_activity(
            lead,
            {
                "kind": "note",
                "subject": _("Accepted by partner %(partner)s", partner=org.name)[:200],
                "body": _("%(email)s accepted the lead in the partner portal.", email=user.email),
            },
        )
    db.session.flush()
    channel_feed.record(f"lead_{handoff.status}", org.id, name=_company(lead))
    audit_record(
        f"portal.lead_{handoff.status}",
        target=str(handoff.id),
        details={"lead_id": str(lead.id), "lead": lead.name, "partner": org.name},
        actor=SimpleNamespace(id=None, email=f"portal:{user.email}"),
        actor_label=f"portal:{user.email}",
    )


# --------------------------------------------------------------------------- expiry


def expire_due(now: Any = None) -> int:
    """Pending handoffs past their deadline expire (the lead goes back to the pool).
    Idempotent; returns how many. Caller commits."""
    stmt = select(LeadHandoff).where(
        LeadHandoff.status == "pending", LeadHandoff.deadline_at < (now or utcnow())
    )
    rows = list(db.session.scalars(stmt.limit(5000)))
    names = _lead_names([h.lead_id for h in rows]) if rows and sales_on() else {}
    for handoff in rows:
        handoff.status = "expired"
        name = names.get(handoff.lead_id, "")
        channel_feed.record("lead_expired", handoff.partner_id, name=name)
        audit_record(
            "portal.lead_expired",
            target=str(handoff.id),
            details={"lead_id": str(handoff.lead_id)},
            actor_label="portal:schedule",
        )
    db.session.flush()
    return len(rows)


def _lead_names(lead_ids: list[Any]) -> dict[Any, str]:
    from plugins.sfa.models import Lead

    rows = db.session.execute(select(Lead.id, Lead.company, Lead.name).where(Lead.id.in_(lead_ids)))
    return {row.id: row.company or row.name for row in rows}


@job(retries=1, timeout=300)
def expire_handoffs() -> int:
    """The scheduled job: overdue handoffs of the workspace expire."""
    count = expire_due()
    db.session.commit()
    return count
