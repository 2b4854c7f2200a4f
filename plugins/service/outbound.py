"""Mail to customers (through the core's ``send_mail``: outbox or SMTP) and the reply token
that threads their answers onto the ticket.

The token is ``<number>-<signature>``: the ticket number and an HMAC of the tenant and
ticket ids, so it cannot be guessed from a number alone. It rides in the subject
(``[#1042-3f9a0c1b2d]``) and in the reply address (``support+<slug>+1042-3f9a0c1b2d@...``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import db, require_tenant, send_mail

from .models import Ticket
from .sanitise import REPLY_MARKER
from .settings import inbound_address

TOKEN = re.compile(r"\[#(\d{1,9})-([0-9a-f]{10})\]")
ADDRESS_TOKEN = re.compile(r"^(\d{1,9})-([0-9a-f]{10})$")


def _signature(ticket_id: object, tenant_id: object) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"service-reply:{tenant_id}:{ticket_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:10]


def reply_token(ticket: Ticket) -> str:
    """The ticket's reply token: ``<number>-<signature>``."""
    return f"{ticket.number}-{_signature(ticket.id, ticket.tenant_id)}"


def subject_of(ticket: Ticket) -> str:
    """The subject of mail about ``ticket``, with its token."""
    return f"[#{reply_token(ticket)}] {ticket.subject}"[:300]


def _find(number: str, signature: str) -> Ticket | None:
    ticket = db.session.scalars(select(Ticket).where(Ticket.number == int(number))).one_or_none()
    if ticket is None:
        return None
    expected = _signature(ticket.id, require_tenant().id)
    return ticket if hmac.compare_digest(expected, signature) else None


def ticket_from_subject(subject: str) -> Ticket | None:
    """The current tenant's ticket whose valid token is in ``subject``."""
    for number, signature in TOKEN.findall(subject or ""):
        ticket = _find(number, signature)
        if ticket is not None:
            return ticket
    return None


def ticket_from_address_token(token: str) -> Ticket | None:
    """The current tenant's ticket of a reply address's token (``1042-3f9a0c1b2d``)."""
    match = ADDRESS_TOKEN.match(token or "")
    return _find(*match.groups()) if match else None


def _footer(ticket: Ticket) -> str:
    return "\n\n" + _(
        "Reply to this e-mail to add to your request (keep [#%(token)s] in the subject), "
        "or write to %(address)s.",
        token=reply_token(ticket),
        address=inbound_address(token=reply_token(ticket)),
    )


def mail_customer(ticket: Ticket, body: str) -> Any:
    """Send ``body`` to the ticket's requester, with the reply marker and token."""
    if not ticket.requester_email:
        return None
    text = f"{REPLY_MARKER}\n\n{body.strip()}{_footer(ticket)}"
    return send_mail(ticket.requester_email, subject_of(ticket), text)


def mail_acknowledgement(ticket: Ticket, workspace: str) -> Any:
    """Tell the requester their request arrived, with its number."""
    body = _(
        "Thank you for contacting %(workspace)s. Your request #%(number)d “%(subject)s” has "
        "been received; we will get back to you soon.",
        workspace=workspace,
        number=ticket.number,
        subject=ticket.subject,
    )
    return mail_customer(ticket, body)
