"""Converting a lead, in one step and one transaction, into an account, a contact and a deal.

Before converting, :func:`candidates` asks the core's duplicate detection for accounts and
contacts that look like the lead (same company name, e-mail or phone), so the person
converting can link the lead to an existing customer instead of creating a twin. Then
:func:`convert_lead` locks the lead, refuses one that is already converted, creates (or
links) the account and the contact through the core's records service, opens a deal in the
chosen pipeline, moves the lead's activities to the contact's timeline and marks the lead
converted. Any error raises ``ValidationFailed`` (fields prefixed ``account_``, ``contact_``,
``deal_``) and the caller rolls back: nothing is half-converted.

Event: ``lead.converted`` (plus ``account.created``, ``contact.created``, ``deal.created``
for the records made).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Account,
    Activity,
    Contact,
    Match,
    ValidationFailed,
    create_record,
    db,
    emit_event,
    matching_records,
    parse_uuid,
    utcnow,
    visible_clause,
)

from .deals import create_deal
from .leads import activities_of
from .models import Deal, Lead

#: The core's record sources (``crm_platform.customers.SOURCES``) a lead source maps onto.
RECORD_SOURCES = ("website", "referral", "event", "partner", "campaign", "cold_call", "other")
NEW = "new"


@dataclass
class Candidates:
    """Existing customers that look like a lead."""

    accounts: list[Match]
    contacts: list[Match]


@dataclass
class Conversion:
    """What converting a lead made or linked."""

    lead: Lead
    account: Account
    contact: Contact
    deal: Deal | None


class AlreadyConverted(ValidationFailed):
    """The lead was converted before (perhaps a moment ago, by someone else)."""


def candidates(lead: Lead, membership: Any) -> Candidates:
    """Accounts and contacts the member sees that may be the lead's company and person."""
    return Candidates(
        accounts=matching_records(
            "account", membership, name=lead.company, email=lead.email, phone=lead.phone
        ),
        contacts=matching_records(
            "contact", membership, name=lead.name, email=lead.email, phone=lead.phone
        ),
    )


def _already(lead: Lead) -> AlreadyConverted:
    when = lead.converted_at.strftime("%Y-%m-%d %H:%M") if lead.converted_at else "?"
    return AlreadyConverted(
        {"lead": _("This lead was already converted (%(when)s): nothing was changed.", when=when)}
    )


def _record_source(source: str | None) -> str | None:
    if not source:
        return None
    key = "_".join(source.casefold().split())
    return key if key in RECORD_SOURCES else "other"


def _prefixed(prefix: str, exc: ValidationFailed) -> ValidationFailed:
    return ValidationFailed({f"{prefix}_{k}": v for k, v in exc.errors.items()})


def _existing(model: Any, value: Any, membership: Any, field: str) -> Any:
    rid = parse_uuid(value)
    stmt = select(model).where(model.id == rid, model.deleted_at.is_(None))
    clause = visible_clause(model, membership) if membership is not None else None
    if clause is not None:
        stmt = stmt.where(clause)
    record = db.session.execute(stmt).unique().scalar_one_or_none() if rid else None
    if record is None:
        raise ValidationFailed({field: _("Choose one of the records offered, or create one.")})
    return record


def _account(lead: Lead, choice: Mapping[str, Any], owner: Any, **kw: Any) -> Account:
    if str(choice.get("account") or NEW) != NEW:
        return _existing(Account, choice["account"], kw["membership"], "account")
    data = {
        "name": choice.get("account_name") or lead.company or lead.name,
        "industry": lead.industry,
        "region": lead.region,
        "source": _record_source(lead.source),
        "owner_id": owner,
    }
    try:
        return create_record("account", data, **kw)
    except ValidationFailed as exc:
        raise _prefixed("account", exc) from exc


def _contact(
    lead: Lead, choice: Mapping[str, Any], account: Account, owner: Any, **kw: Any
) -> Contact:
    if str(choice.get("contact") or NEW) != NEW:
        contact = _existing(Contact, choice["contact"], kw["membership"], "contact")
        if contact.account_id is None:
            contact.account_id = account.id
        return contact
    first, _sep, last = lead.name.partition(" ")
    data = {
        "first_name": first,
        "last_name": last,
        "title": lead.title,
        "email": lead.email,
        "phone": lead.phone,
        "region": lead.region,
        "source": _record_source(lead.source),
        "account_id": str(account.id),
        "owner_id": owner,
    }
    try:
        return create_record("contact", data, **kw)
    except ValidationFailed as exc:
        raise _prefixed("contact", exc) from exc


def _deal(
    lead: Lead, choice: Mapping[str, Any], account: Account, contact: Contact, owner: Any, **kw: Any
) -> Deal:
    data = {
        "name": choice.get("deal_name") or lead.company or lead.name,
        "amount": choice.get("deal_amount"),
        "currency": choice.get("deal_currency"),
        "pipeline_id": choice.get("deal_pipeline_id"),
        "stage_id": choice.get("deal_stage_id"),
        "expected_close": choice.get("deal_expected_close"),
        "account_id": str(account.id),
        "contact_id": str(contact.id),
        "owner_id": owner,
    }
    try:
        return create_deal(data, **kw)
    except ValidationFailed as exc:
        raise _prefixed("deal", exc) from exc


def _move_activities(lead: Lead, account: Account, contact: Contact) -> None:
    """Copy the lead's activities onto the contact, as done activities with their dates."""
    for item in activities_of(lead):
        db.session.add(
            Activity(
                kind=item.kind,
                subject=item.subject,
                body=item.body,
                done=True,
                done_at=item.created_at,
                owner_id=item.created_by_id,
                created_by_id=item.created_by_id,
                account_id=account.id,
                contact_id=contact.id,
                created_at=item.created_at,
            )
        )


def convert_lead(
    lead: Lead, choice: Mapping[str, Any], *, actor: Any = None, membership: Any = None
) -> Conversion:
    """Convert ``lead`` as ``choice`` says; raises ``ValidationFailed`` (caller rolls back).

    ``choice``: ``account`` (``"new"`` or an account id to link), ``account_name``,
    ``contact`` (``"new"`` or a contact id), ``create_deal`` (default true) and the deal's
    ``deal_name``, ``deal_amount``, ``deal_currency``, ``deal_pipeline_id``,
    ``deal_stage_id``, ``deal_expected_close``.
    """
    locked = db.session.execute(
        select(Lead)
        .where(Lead.id == lead.id)
        .with_for_update(of=Lead)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if locked.status == "converted":
        raise _already(locked)
    owner = str(locked.owner_id) if locked.owner_id else (str(actor.id) if actor else None)
    kw = {"actor": actor, "membership": membership}
    account = _account(locked, choice, owner, **kw)
    contact = _contact(locked, choice, account, owner, **kw)
    wants_deal = str(choice.get("create_deal", "1")).lower() not in ("0", "false", "no", "")
    deal = _deal(locked, choice, account, contact, owner, **kw) if wants_deal else None
    _move_activities(locked, account, contact)
    now = utcnow()
    locked.status, locked.converted_at = "converted", now
    locked.converted_by_id = getattr(actor, "id", None)
    locked.converted_account_id, locked.converted_contact_id = account.id, contact.id
    locked.converted_deal_id = deal.id if deal else None
    locked.updated_at = now
    db.session.flush()
    emit_event(
        "lead.converted",
        record_id=locked.id,
        data={
            "name": locked.name,
            "account_id": str(account.id),
            "contact_id": str(contact.id),
            "deal_id": str(deal.id) if deal else None,
        },
        actor=actor,
    )
    return Conversion(locked, account, contact, deal)
