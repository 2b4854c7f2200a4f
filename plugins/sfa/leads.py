"""Writing leads: capture (form, import, API, web form), work, claim and the shared pool.

``create_lead`` and ``update_lead`` validate every field first (``ValidationFailed`` naming
each bad one) and then write: a new lead without an owner goes through the assignment rules
(or stays in the pool), and its score is recomputed on every change. Someone working a lead
(a change, an activity logged, a claim) resets the pool's clock (``worked_at``); leads
nobody worked for ``pool_days`` go back to the pool (:func:`reclaim_stale_leads`, run by a
scheduled job). A converted lead is read-only. The caller commits.

Event: ``lead.created``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from crm_platform.sdk import (
    ValidationFailed,
    clean_email,
    clean_text,
    db,
    emit_event,
    normalise_phone,
    utcnow,
)

from .assignment import assignee_for
from .deals import clean_member
from .models import LEAD_STATUSES, OPEN_LEAD_STATUSES, Lead, LeadActivity
from .paging import contains
from .scoring import ACTIVITY_KINDS, rescore
from .settings import sales_settings

STATUS_LABELS = {
    "new": _l("New"),
    "working": _l("Working"),
    "qualified": _l("Qualified"),
    "unqualified": _l("Unqualified"),
    "converted": _l("Converted"),
}
#: How a lead was captured.
CAPTURE_LABELS = {
    "form": _l("Entered by hand"),
    "import": _l("Imported"),
    "api": _l("API"),
    "web": _l("Web form"),
}


def _text(limit: int, *, required: bool = False, multiline: bool = False) -> Any:
    def clean(value: Any) -> str | None:
        result = clean_text(value, limit, multiline=multiline)
        if required and not result:
            raise ValueError(_("This field is required."))
        return result

    return clean


def clean_source(value: Any, known: list[str]) -> str | None:
    """One of the ``known`` lead sources (case ignored), or ``None``; raises ``ValueError``."""
    source = clean_text(value, 60)
    if source is None:
        return None
    match = next((s for s in known if s.casefold() == source.casefold()), None)
    if match is None:
        raise ValueError(
            _("Choose one of the lead sources: %(sources)s.", sources=", ".join(known) or "—")
        )
    return match


def _status(value: Any) -> str:
    status = str(value or "new").strip()
    if status == "converted":
        raise ValueError(_("Convert the lead to mark it converted."))
    if status not in LEAD_STATUSES:
        raise ValueError(_("Choose new, working, qualified or unqualified."))
    return status


FIELDS: dict[str, Any] = {
    "name": _text(200, required=True),
    "company": _text(200),
    "title": _text(120),
    "email": clean_email,
    "phone": normalise_phone,
    "status": _status,
    "owner_id": clean_member,
    "region": _text(80),
    "industry": _text(80),
    "notes": _text(10000, multiline=True),
}


def check_lead(
    data: Mapping[str, Any], *, lead: Lead | None = None, sources: list[str] | None = None
) -> dict[str, Any]:
    """Cleaned values of a new lead, or of the fields present in ``data`` for a change.

    ``sources`` are the known lead sources (default: the settings'; imports pass them once).
    """
    if lead is not None and lead.status == "converted":
        raise ValidationFailed(
            {"status": _("This lead was converted: change its account, contact or deal instead.")}
        )
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, clean in FIELDS.items():
        if lead is not None and name not in data:
            continue
        try:
            values[name] = clean(data.get(name))
        except ValueError as exc:
            errors[name] = str(exc)
    if lead is None or "source" in data:
        known = sources if sources is not None else sales_settings().lead_sources
        try:
            values["source"] = clean_source(data.get("source"), known)
        except ValueError as exc:
            errors["source"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return values


def create_lead(
    data: Mapping[str, Any], *, actor: Any = None, via: str = "form", assign: bool = True
) -> Lead:
    """Validate and add a lead; without an owner, the assignment rules pick one (``assign``).

    ``via`` says how it was captured (form, import, api, web). Emits ``lead.created``.
    """
    return add_lead(check_lead(data), actor=actor, via=via, assign=assign)


def add_lead(
    values: Mapping[str, Any],
    *,
    actor: Any = None,
    via: str = "form",
    assign: bool = True,
    rules: list[Any] | None = None,
) -> Lead:
    """Add a lead from values :func:`check_lead` cleaned (bulk imports check first and pass
    the scoring ``rules`` once)."""
    lead = Lead(**values, captured_via=via, worked_at=utcnow())
    if lead.owner_id is None and assign:
        lead.owner_id = assignee_for(lead)
    rescore(lead, rules)
    db.session.add(lead)
    db.session.flush()
    emit_event(
        "lead.created",
        record_id=lead.id,
        data={
            "name": lead.name,
            "company": lead.company,
            "source": lead.source,
            "via": via,
            "owner_id": str(lead.owner_id) if lead.owner_id else None,
            "score": lead.score,
        },
        actor=actor,
    )
    return lead


def update_lead(lead: Lead, data: Mapping[str, Any], *, actor: Any = None) -> list[str]:
    """Validate and apply the fields in ``data``; returns the changed ones. Caller commits."""
    values = check_lead(data, lead=lead)
    changed = [name for name, value in values.items() if getattr(lead, name) != value]
    for name in changed:
        setattr(lead, name, values[name])
    if changed:
        lead.worked_at = lead.updated_at = utcnow()
        rescore(lead)
        db.session.flush()
    return changed


def log_activity(lead: Lead, data: Mapping[str, Any], *, actor: Any = None) -> LeadActivity:
    """Log a call, meeting, e-mail or note on a lead: it counts as work and for the score.

    A new lead becomes *working*. Raises ``ValidationFailed``; caller commits.
    """
    if lead.status == "converted":
        raise ValidationFailed(
            {"kind": _("This lead was converted: log activities on its contact instead.")}
        )
    errors: dict[str, str] = {}
    kind = str(data.get("kind") or "")
    if kind not in ACTIVITY_KINDS:
        errors["kind"] = _("Choose call, meeting, e-mail or note.")
    try:
        subject = clean_text(data.get("subject"), 200)
        if not subject:
            errors["subject"] = _("Enter a subject.")
        body = clean_text(data.get("body"), 10000, multiline=True)
    except ValueError as exc:
        errors.setdefault("subject", str(exc))
    if errors:
        raise ValidationFailed(errors)
    activity = LeadActivity(
        lead_id=lead.id,
        kind=kind,
        subject=subject,
        body=body,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(activity)
    db.session.flush()
    lead.worked_at = utcnow()
    if lead.status == "new":
        lead.status = "working"
    rescore(lead)
    return activity


def activities_of(lead: Lead) -> list[LeadActivity]:
    """The activities logged on a lead, newest first."""
    stmt = (
        select(LeadActivity)
        .where(LeadActivity.lead_id == lead.id)
        .order_by(LeadActivity.created_at.desc(), LeadActivity.id.desc())
    )
    return list(db.session.scalars(stmt).unique())


def claim(lead: Lead, user_id: uuid.UUID) -> None:
    """Take a lead from the pool. ``ValidationFailed`` when someone else owns it already."""
    if lead.status == "converted":
        raise ValidationFailed({"owner_id": _("This lead was converted already.")})
    if lead.owner_id is not None and lead.owner_id != user_id:
        name = lead.owner.name if lead.owner else "?"
        raise ValidationFailed({"owner_id": _("%(name)s took this lead a moment ago.", name=name)})
    lead.owner_id = user_id
    lead.worked_at = utcnow()


def release(lead: Lead) -> None:
    """Put an open lead back into the shared pool."""
    if lead.status == "converted":
        raise ValidationFailed({"owner_id": _("This lead was converted already.")})
    lead.owner_id = None
    lead.worked_at = utcnow()


def stale_condition(days: int, now: Any = None) -> Any:
    """Open, owned leads nobody worked for more than ``days`` days."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    return (
        Lead.owner_id.is_not(None),
        Lead.status.in_(OPEN_LEAD_STATUSES),
        Lead.worked_at < cutoff,
    )


def reclaim_stale_leads(days: int | None = None, now: Any = None) -> int:
    """Send leads nobody worked for ``days`` (default: the setting) back to the pool.

    Idempotent: a reclaimed lead has no owner, so running again changes nothing. Returns how
    many leads went back.
    """
    days = days or sales_settings().pool_days
    now = now or utcnow()
    result = db.session.execute(
        update(Lead)
        .where(*stale_condition(days, now))
        .values(owner_id=None, reclaimed_at=now, worked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def pool_condition() -> Any:
    """Leads in the shared pool: nobody owns them and they are still open."""
    return (Lead.owner_id.is_(None), Lead.status.in_(OPEN_LEAD_STATUSES))


def search_condition(query: str) -> Any:
    """Leads whose name, company or e-mail contains ``query`` (case-insensitive)."""
    return or_(
        contains(Lead.name, query), contains(Lead.company, query), contains(Lead.email, query)
    )
