"""The call centre's records: the call log, finding a caller by number (screen-pop), and
callbacks, which are the core's tasks (activities of kind ``task``) on the caller's record,
so they show in the agent's "My tasks" and on the customer's timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm_platform.sdk import (
    Account,
    Activity,
    Contact,
    ValidationFailed,
    clean_choice,
    clean_date,
    create_activity,
    db,
    emit_event,
    normalise_phone,
    parse_uuid,
    utcnow,
    visible_clause,
)

from . import validation
from .models import CALL_DIRECTIONS, CALL_OUTCOMES, OPEN_STATUSES, Call, CallScript, Ticket

#: Numbers match when their last digits agree (local and international forms of one number).
SUFFIX_DIGITS = 8
MAX_DURATION = 24 * 3600


def clean_number(value: Any) -> str:
    """A phone number normalised like the customer records' (``+8621…``); ValueError."""
    number = normalise_phone(str(value or ""))
    if not number:
        raise ValueError(_("Enter the caller's phone number."))
    return number


def _phone_match(model: Any, number: str) -> Any:
    digits = number.lstrip("+")
    conditions = [model.phone == number]
    if len(digits) >= SUFFIX_DIGITS:
        conditions.append(model.phone.like(f"%{digits[-SUFFIX_DIGITS:]}"))
    return or_(*conditions)


@dataclass
class Caller:
    """Who is calling from a number, and what we know about them."""

    number: str
    contacts: list[Contact] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    @property
    def contact(self) -> Contact | None:
        """The one contact the number belongs to, when it is unambiguous."""
        return self.contacts[0] if len(self.contacts) == 1 else None


def _visible(model: Any, membership: Any, number: str) -> list[Any]:
    stmt = select(model).where(model.deleted_at.is_(None), _phone_match(model, number))
    clause = visible_clause(model, membership) if membership is not None else None
    if clause is not None:
        stmt = stmt.where(clause)
    return list(db.session.execute(stmt.limit(20)).unique().scalars())


def find_caller(raw_number: Any, membership: Any) -> Caller:
    """Contacts and accounts with this number, their open tickets and recent calls."""
    number = clean_number(raw_number)
    caller = Caller(number)
    caller.contacts = _visible(Contact, membership, number)
    caller.accounts = _visible(Account, membership, number)
    for contact in caller.contacts:
        if contact.account is not None and contact.account not in caller.accounts:
            caller.accounts.append(contact.account)
    contact_ids = [c.id for c in caller.contacts]
    account_ids = [a.id for a in caller.accounts]
    if contact_ids or account_ids:
        caller.tickets = list(
            db.session.scalars(
                select(Ticket)
                .where(
                    Ticket.status.in_(OPEN_STATUSES),
                    or_(Ticket.contact_id.in_(contact_ids), Ticket.account_id.in_(account_ids)),
                )
                .order_by(Ticket.created_at.desc())
                .limit(20)
            ).unique()
        )
    caller.calls = list(
        db.session.scalars(
            select(Call).where(Call.number == number).order_by(Call.started_at.desc()).limit(10)
        ).unique()
    )
    return caller


def _duration(value: Any) -> int:
    if value in (None, ""):
        return 0
    text = str(value).strip()
    try:
        if ":" in text:
            minutes, seconds = text.split(":", 1)
            total = int(minutes) * 60 + int(seconds)
        else:
            total = int(text)
    except ValueError as exc:
        raise ValueError(_("Enter the duration in seconds or as mm:ss.")) from exc
    if not 0 <= total <= MAX_DURATION:
        raise ValueError(_("Enter a duration of at most a day."))
    return total


def _recording(value: Any) -> str | None:
    url = validation.text(500)(value)
    if url and not url.lower().startswith(("https://", "http://")):
        raise ValueError(_("Enter a web address starting with https://."))
    return url


def _ticket(value: Any) -> Ticket | None:
    if value in (None, ""):
        return None
    tid = parse_uuid(value)
    found = (
        db.session.scalars(select(Ticket).where(Ticket.id == tid)).one_or_none() if tid else None
    )
    if found is None:
        raise ValueError(_("Choose one of the tickets."))
    return found


def check_call(data: Mapping[str, Any], *, membership: Any = None) -> dict[str, Any]:
    """Cleaned values of a call; raises ValidationFailed naming the bad fields."""
    checks = {
        "direction": lambda v: clean_choice(v or "inbound", CALL_DIRECTIONS, required=True),
        "number": clean_number,
        "outcome": lambda v: clean_choice(v or "answered", CALL_OUTCOMES, required=True),
        "duration": _duration,
        "recording_url": _recording,
        "notes": validation.text(10000, multiline=True),
        "contact_id": lambda v: validation.contact(v, membership),
        "account_id": lambda v: validation.account(v, membership),
        "ticket_id": _ticket,
        "queue_id": validation.queue,
    }
    values, errors = validation.run_checks(checks, data, only_given=False)
    if errors:
        raise ValidationFailed(errors)
    return values


def log_call(data: Mapping[str, Any], *, actor: Any = None, membership: Any = None) -> Call:
    """Validate and log a call; emits ``call.logged``. Caller commits."""
    values = check_call(data, membership=membership)
    contact, account = values["contact_id"], values["account_id"]
    if account is None and contact is not None and contact.account_id:
        account = contact.account
    ticket, queue = values["ticket_id"], values["queue_id"]
    call = Call(
        direction=values["direction"],
        number=values["number"],
        outcome=values["outcome"],
        duration_seconds=values["duration"],
        recording_url=values["recording_url"],
        notes=values["notes"],
        contact_id=contact.id if contact else None,
        account_id=account.id if account else None,
        ticket_id=ticket.id if ticket else None,
        queue_id=queue.id if queue else (ticket.queue_id if ticket else None),
        agent_id=getattr(actor, "id", None),
        started_at=utcnow(),
    )
    db.session.add(call)
    db.session.flush()
    emit_event(
        "call.logged",
        record_id=call.id,
        data={
            "direction": call.direction,
            "number": call.number,
            "outcome": call.outcome,
            "duration": call.duration_seconds,
            "contact_id": str(call.contact_id) if call.contact_id else None,
            "ticket_id": str(call.ticket_id) if call.ticket_id else None,
        },
        actor=actor,
    )
    return call


def schedule_callback(
    call: Call, data: Mapping[str, Any], *, actor: Any, membership: Any = None
) -> Activity:
    """A callback task on the caller's record, due on ``data["due_date"]``, for
    ``data["owner_id"]`` (default: the agent). Caller commits."""
    if call.contact_id is None and call.account_id is None:
        raise ValidationFailed({"record": _("Link the call to a contact or an account first.")})
    errors: dict[str, str] = {}
    try:
        due = clean_date(data.get("due_date"))
        if due is None:
            errors["due_date"] = _("Choose the day of the callback.")
        elif due < utcnow().date():
            errors["due_date"] = _("Choose today or a later day.")
    except ValueError as exc:
        errors["due_date"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    note = validation.text(2000, multiline=True)(data.get("note")) or ""
    activity = create_activity(
        {
            "kind": "task",
            "subject": _("Call back %(number)s", number=call.number),
            "body": note,
            "due_date": due,
            "owner_id": data.get("owner_id") or getattr(actor, "id", None),
            "contact_id": str(call.contact_id) if call.contact_id else None,
            "account_id": str(call.account_id) if call.account_id else None,
        },
        actor=actor,
        membership=membership,
    )
    call.callback_id = activity.id
    if call.outcome in ("answered", "no_answer", "voicemail", "busy"):
        call.outcome = "callback"
    return activity


def scripts_for(queue_id: Any) -> list[CallScript]:
    """The call scripts of a queue, then those for every queue."""
    stmt = select(CallScript).where(
        or_(CallScript.queue_id == queue_id, CallScript.queue_id.is_(None))
        if queue_id
        else CallScript.queue_id.is_(None)
    )
    scripts = list(db.session.scalars(stmt.order_by(CallScript.title)).unique())
    return sorted(scripts, key=lambda s: (s.queue_id is None, s.title))
