"""The one write path of tickets: open, write in the thread, change, solve, merge.

Pages, the API, imports and inbound mail all go through these functions; each validates
first (``ValidationFailed`` naming the bad fields) and leaves the commit to the caller, so
a ticket, its first message, its attachments and its events land in one transaction.
Events: ``ticket.created``, ``ticket.solved`` (and ``sla.breached`` from the SLA scan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from crm_platform.sdk import (
    Order,
    ValidationFailed,
    clean_choice,
    clean_email,
    db,
    emit_event,
    utcnow,
)

from . import sla, validation
from .assignment import pick_agent
from .attachments import Upload, store_all
from .csat import send_survey
from .models import (
    CHANNELS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Attachment,
    Call,
    Message,
    Ticket,
)
from .models import (
    Sequence as Counter,
)
from .outbound import mail_customer

MAX_BODY = 50_000


def next_number() -> int:
    """The tenant's next ticket number (1, 2, 3 ...), safe under concurrent writers."""
    bump = (
        update(Counter)
        .where(Counter.name == "ticket")
        .values(value=Counter.value + 1)
        .returning(Counter.value)
        .execution_options(synchronize_session=False)
    )
    value = db.session.execute(bump).scalar_one_or_none()
    if value is None:
        highest = db.session.scalar(select(db.func.max(Ticket.number))) or 0
        db.session.add(Counter(name="ticket", value=highest + 1))
        db.session.flush()
        value = highest + 1
    return int(value)


def _checks(membership: Any) -> dict[str, Any]:
    return {
        "subject": validation.text(200),
        "priority": lambda v: clean_choice(v or None, PRIORITIES),
        "category": validation.text(80),
        "queue_id": validation.queue,
        "assignee_id": validation.member,
        "contact_id": lambda v: validation.contact(v, membership),
        "account_id": lambda v: validation.account(v, membership),
        "requester_email": clean_email,
        "requester_name": validation.text(200),
        "order_ref": validation.text(80),
    }


def check_ticket(
    data: Mapping[str, Any], *, membership: Any = None, partial: bool = False
) -> dict[str, Any]:
    """Cleaned ticket fields from ``data``; raises ValidationFailed naming the bad ones."""
    values, errors = validation.run_checks(_checks(membership), data, only_given=partial)
    if "subject" in values and not values["subject"] and "subject" not in errors:
        errors["subject"] = _("Enter a subject.")
    if "status" in data or not partial:
        try:
            status = clean_choice(data.get("status") or None, STATUSES)
            if status:
                values["status"] = status
        except ValueError as exc:
            errors["status"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return values


def _requester(values: dict[str, Any]) -> None:
    """Fill contact, account and requester from each other."""
    contact = values.get("contact_id")
    if contact is None and values.get("requester_email"):
        contact = validation.contact_by_email(values["requester_email"])
        values["contact_id"] = contact
    if contact is not None:
        values["requester_email"] = values.get("requester_email") or contact.email
        values["requester_name"] = values.get("requester_name") or contact.full_name
        if values.get("account_id") is None and contact.account_id:
            values["account_id"] = contact.account


def open_ticket(values: dict[str, Any], *, channel: str, actor: Any = None) -> Ticket:
    """Create a ticket from checked ``values`` (see :func:`check_ticket`); starts its SLA
    clocks, assigns it by its queue's rule and emits ``ticket.created``."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    _requester(values)
    queue = values.get("queue_id") or validation.default_queue()
    contact, account = values.get("contact_id"), values.get("account_id")
    ticket = Ticket(
        number=next_number(),
        subject=values["subject"],
        status=values.get("status") if values.get("status") in OPEN_STATUSES else "new",
        priority=values.get("priority") or "normal",
        channel=channel,
        category=values.get("category"),
        queue_id=queue.id if queue else None,
        assignee_id=values.get("assignee_id"),
        requester_email=values.get("requester_email"),
        requester_name=values.get("requester_name"),
        contact_id=contact.id if contact else None,
        account_id=account.id if account else None,
        order_ref=values.get("order_ref"),
        created_by_id=getattr(actor, "id", None),
        created_at=utcnow(),
    )
    ticket.queue, ticket.contact, ticket.account = queue, contact, account
    db.session.add(ticket)
    sla.start_clocks(ticket)
    if channel == "phone":
        ticket.first_responded_at = ticket.created_at  # the customer is talking to an agent
    if ticket.assignee_id is None:
        ticket.assignee_id = pick_agent(queue)
    db.session.flush()
    emit_event(
        "ticket.created",
        record_id=ticket.id,
        data={
            "number": ticket.number,
            "subject": ticket.subject,
            "channel": channel,
            "priority": ticket.priority,
            "queue": queue.name if queue else None,
            "requester_email": ticket.requester_email,
            "contact_id": str(ticket.contact_id) if ticket.contact_id else None,
            "account_id": str(ticket.account_id) if ticket.account_id else None,
        },
        actor=actor,
    )
    return ticket


def create_ticket(
    data: Mapping[str, Any],
    *,
    channel: str,
    actor: Any = None,
    membership: Any = None,
    uploads: Sequence[Upload] = (),
) -> tuple[Ticket, list[str]]:
    """Validate and open a ticket with its description as the first message.

    Returns the ticket and the problems of attachments that were refused.
    """
    values = check_ticket(data, membership=membership)
    description = _body(data.get("description"), required=False)
    ticket = open_ticket(values, channel=channel, actor=actor)
    problems: list[str] = []
    if description or uploads:
        _, problems = add_message(
            ticket,
            "customer",
            body_text=description or "",
            channel=channel,
            author=actor if channel in ("agent", "phone") else None,
            from_address=ticket.requester_email,
            from_name=ticket.requester_name,
            uploads=uploads,
        )
    return ticket, problems


def _body(value: Any, *, required: bool) -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise ValidationFailed({"body": _("Write a message.")})
    if len(text) > MAX_BODY:
        raise ValidationFailed({"body": _("Use at most %(num)d characters.", num=MAX_BODY)})
    return text


def add_message(
    ticket: Ticket,
    kind: str,
    *,
    body_text: str,
    body_html: str | None = None,
    channel: str = "agent",
    author: Any = None,
    from_address: str | None = None,
    from_name: str | None = None,
    email_message_id: str | None = None,
    auto_reply: bool = False,
    uploads: Sequence[Upload] = (),
) -> tuple[Message, list[str]]:
    """Add an entry to the thread with its attachments; returns it and refused files."""
    message = Message(
        ticket_id=ticket.id,
        kind=kind,
        channel=channel,
        author_id=getattr(author, "id", None),
        from_address=(from_address or "").lower()[:254] or None,
        from_name=(from_name or "")[:200] or None,
        body_text=body_text,
        body_html=body_html,
        email_message_id=email_message_id,
        auto_reply=auto_reply,
        created_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    problems = store_all(ticket.id, message.id, list(uploads))
    ticket.updated_at = utcnow()
    return message, problems


def reply(
    ticket: Ticket,
    body: Any,
    *,
    actor: Any,
    public: bool = True,
    status: str | None = None,
    uploads: Sequence[Upload] = (),
) -> tuple[Message, list[str]]:
    """An agent's public reply (mailed to the requester) or internal note.

    The first public reply stops the first-response clock and, on an unassigned ticket,
    makes the agent its assignee. ``status`` moves the ticket on (e.g. ``pending``).
    """
    _not_merged(ticket)
    text = _body(body, required=True)
    if status is not None and status not in STATUSES:
        raise ValidationFailed({"status": _("Choose one of the listed options.")})
    message, problems = add_message(
        ticket,
        "reply" if public else "note",
        body_text=text,
        channel="email" if public and ticket.requester_email else "agent",
        author=actor,
        uploads=uploads,
    )
    if public:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = utcnow()
            ticket.sla_warned = False
            if ticket.status not in sla.STOPPED:
                sla.settle(ticket, ticket.first_responded_at)
        if ticket.assignee_id is None:
            ticket.assignee_id = getattr(actor, "id", None)
        mail_customer(ticket, text)
    if status and status != ticket.status:
        set_status(ticket, status, actor=actor)
    elif ticket.status == "new":
        set_status(ticket, "open", actor=actor)
    return message, problems


def customer_wrote(
    ticket: Ticket,
    *,
    body_text: str,
    body_html: str | None = None,
    channel: str,
    from_address: str | None,
    from_name: str | None = None,
    email_message_id: str | None = None,
    auto_reply: bool = False,
    uploads: Sequence[Upload] = (),
) -> tuple[Message, list[str]]:
    """The customer answered: file it and reopen a ticket that waited or was solved."""
    result = add_message(
        ticket,
        "customer",
        body_text=body_text,
        body_html=body_html,
        channel=channel,
        from_address=from_address,
        from_name=from_name,
        email_message_id=email_message_id,
        auto_reply=auto_reply,
        uploads=uploads,
    )
    if ticket.status in ("pending", "solved") and not auto_reply:
        set_status(ticket, "open")
    return result


def linked_order(ticket: Ticket) -> Order | None:
    """The workspace's order whose number is the ticket's order reference: the customer's own
    order when the ticket has a contact or account, else the one order with that number."""
    if not ticket.order_ref:
        return None
    stmt = select(Order).where(Order.number == ticket.order_ref.strip())
    owners = [
        column == value
        for column, value in (
            (Order.contact_id, ticket.contact_id),
            (Order.account_id, ticket.account_id),
        )
        if value is not None
    ]
    if owners:
        stmt = stmt.where(or_(*owners))
    found = db.session.scalars(stmt.limit(2)).unique().all()
    return found[0] if len(found) == 1 else None


def _not_merged(ticket: Ticket) -> None:
    if ticket.merged_into_id is not None:
        raise ValidationFailed({"ticket": _("This ticket was merged into another one.")})


def set_status(ticket: Ticket, status: str, *, actor: Any = None) -> None:
    """Move the ticket to ``status``: stamps solved/closed times, stops or restarts the SLA
    clocks, emits ``ticket.solved`` and sends the satisfaction survey."""
    if status not in STATUSES:
        raise ValidationFailed({"status": _("Choose one of the listed options.")})
    if status == ticket.status:
        return
    _not_merged(ticket)
    if ticket.status == "closed":
        raise ValidationFailed({"status": _("A closed ticket cannot be reopened.")})
    old, now = ticket.status, utcnow()
    ticket.status = status
    if status == "solved":
        ticket.solved_at = now
    elif status == "closed":
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
    else:
        ticket.solved_at = None
    sla.move_clocks(ticket, old, now)
    if status == "solved":
        db.session.flush()
        emit_event(
            "ticket.solved",
            record_id=ticket.id,
            data={"number": ticket.number, "subject": ticket.subject},
            actor=actor,
        )
        send_survey(ticket)


def update_ticket(
    ticket: Ticket, data: Mapping[str, Any], *, actor: Any = None, membership: Any = None
) -> list[str]:
    """Validate and apply changed fields (status, priority, queue, assignee, customer ...);
    a new priority recomputes the SLA clocks. Returns the changed field names."""
    _not_merged(ticket)
    values = check_ticket(data, membership=membership, partial=True)
    if "subject" in values and not values["subject"]:
        raise ValidationFailed({"subject": _("Enter a subject.")})
    status = values.pop("status", None)
    changed = []
    for name, value in values.items():
        stored = value.id if hasattr(value, "id") else value
        if name == "priority" and not value:
            continue
        if getattr(ticket, name) != stored:
            setattr(ticket, name, stored)
            changed.append(name)
    if "priority" in changed:
        sla.compute_clocks(ticket)
    if status and status != ticket.status:
        set_status(ticket, status, actor=actor)
        changed.append("status")
    elif ticket.status == "new" and changed:
        set_status(ticket, "open", actor=actor)
    return changed


def merge(source: Ticket, target: Ticket, *, actor: Any = None) -> None:
    """Merge ``source`` into ``target``: its thread, files and calls move; it closes."""
    if source.id == target.id:
        raise ValidationFailed({"target": _("Choose another ticket.")})
    _not_merged(source)
    if target.merged_into_id is not None or target.status == "closed":
        raise ValidationFailed({"target": _("Choose a ticket that is not closed.")})
    for model in (Message, Attachment, Call):
        db.session.execute(
            update(model)
            .where(model.ticket_id == source.id)
            .values(ticket_id=target.id)
            .execution_options(synchronize_session=False)
        )
    name = getattr(actor, "name", "")
    add_message(
        target,
        "note",
        body_text=_(
            "Ticket #%(number)d “%(subject)s” was merged into this one.",
            number=source.number,
            subject=source.subject,
        ),
        author=actor,
    )
    old = source.status
    source.status, source.closed_at = "closed", utcnow()
    source.merged_into_id = target.id
    sla.move_clocks(source, old)
    db.session.flush()
    emit_event(
        "ticket.merged",
        record_id=target.id,
        data={"merged": str(source.id), "number": source.number, "by": name},
        actor=actor,
    )
    db.session.expire_all()
