"""Inbound e-mail: a message to ``support+<slug>@<inbound domain>`` becomes a ticket of that
workspace, or a reply on an existing one when it carries the ticket's reply token (in the
address, ``support+<slug>+<token>@…``, or the subject, ``[#<token>]``).

HTML is sanitised (:mod:`.sanitise`), attachments are checked against the limits (refused
ones are listed in an internal note), automatic replies and over-eager senders are filed
without being answered (:mod:`.loops`), and a message seen before (same Message-ID) is not
filed twice. The SMTP server (:mod:`.smtp`) calls :func:`route` and :func:`deliver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Tenant,
    ValidationFailed,
    clean_email,
    db,
    module_enabled,
    tenant_context,
)

from . import tickets
from .attachments import Upload
from .loops import auto_reply_reason, sender_over_limit
from .models import Message, Ticket
from .outbound import mail_acknowledgement, ticket_from_address_token, ticket_from_subject
from .sanitise import clean_html, html_to_text, strip_quoted
from .settings import KEY, WorkspaceSettings, config


class InboundRefused(Exception):
    """A message refused with an SMTP reply (``code`` and ``text``)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code, self.text = code, text

    @property
    def reply(self) -> str:
        """The SMTP reply line."""
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class Route:
    """Where a recipient address leads: a workspace, and maybe a ticket's reply token."""

    slug: str
    token: str | None = None


def parse_recipient(address: str) -> Route | None:
    """The route of ``local+slug[+token]@domain``, or ``None`` for any other address."""
    local, at, domain = (address or "").strip().strip("<>").rpartition("@")
    if not at or domain.lower() != str(config("SERVICE_INBOUND_DOMAIN")).lower():
        return None
    parts = local.split("+")
    if parts[0].lower() != str(config("SERVICE_INBOUND_LOCAL_PART")).lower():
        return None
    if len(parts) == 2 and parts[1]:
        return Route(parts[1].lower())
    if len(parts) == 3 and parts[1] and parts[2]:
        return Route(parts[1].lower(), parts[2].lower())
    return None


def _no_mailbox(address: str) -> InboundRefused:
    return InboundRefused(550, f"5.1.1 <{address}>: no such mailbox here")


def route(address: str) -> tuple[Route, Tenant]:
    """The route and workspace of a recipient, or InboundRefused (550 no such mailbox)."""
    found = parse_recipient(address)
    if found is None:
        raise _no_mailbox(address)
    tenant = db.session.scalars(select(Tenant).where(Tenant.slug == found.slug)).one_or_none()
    if tenant is None or not tenant.is_active:
        raise _no_mailbox(address)
    with tenant_context(tenant):
        if not module_enabled(KEY):
            raise _no_mailbox(address)
    return found, tenant


def _sender(message: EmailMessage, envelope_from: str) -> tuple[str, str]:
    """The sender's address and name: the From header, else the envelope sender."""
    name, address = "", ""
    for found_name, found_address in getaddresses(message.get_all("From", [])):
        if found_address:
            name, address = found_name, found_address
            break
    address = address or (envelope_from or "").strip("<>")
    if not address:
        raise InboundRefused(550, "5.7.1 The message has no sender: mail without one is refused")
    try:
        cleaned = clean_email(address)
    except ValueError as exc:
        raise InboundRefused(553, "5.1.7 The sender's address is not valid") from exc
    if not cleaned:
        raise InboundRefused(550, "5.7.1 The message has no sender: mail without one is refused")
    return cleaned, name.strip()


def _bodies(message: EmailMessage) -> tuple[str, str | None]:
    """Plain text (quoted history removed) and sanitised HTML of the message."""
    plain_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    html = clean_html(html_part.get_content()) if html_part is not None else None
    if plain_part is not None:
        plain = plain_part.get_content()
    elif html_part is not None:
        plain = html_to_text(html_part.get_content())
    else:
        plain = ""
    return strip_quoted(plain.replace("\r\n", "\n")), html or None


def _uploads(message: EmailMessage) -> list[Upload]:
    uploads = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        uploads.append(
            Upload(part.get_filename() or "attachment", part.get_content_type(), payload)
        )
    return uploads


def _target(route_: Route, subject: str) -> Ticket | None:
    ticket = ticket_from_address_token(route_.token) if route_.token else None
    ticket = ticket or ticket_from_subject(subject)
    while ticket is not None and ticket.merged_into_id is not None:
        ticket = db.session.get(Ticket, (ticket.tenant_id, ticket.merged_into_id))
    if ticket is not None and ticket.status == "closed":
        return None  # a closed ticket stays closed: the answer opens a follow-up
    return ticket


def deliver(raw: bytes, envelope_from: str, recipient: str) -> str:
    """File one message for one recipient; returns what happened, or InboundRefused.

    Runs in an app context; commits on success.
    """
    route_, tenant = route(recipient)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    with tenant_context(tenant):
        try:
            outcome = _file(message, route_, envelope_from, tenant)
        except BaseException:
            db.session.rollback()
            raise
        db.session.commit()
        return outcome


def _file(message: EmailMessage, route_: Route, envelope_from: str, tenant: Tenant) -> str:
    sender, name = _sender(message, envelope_from)
    message_id = (message.get("Message-ID") or "").strip()[:300] or None
    if message_id and db.session.scalar(
        select(Message.id).where(Message.email_message_id == message_id)
    ):
        return "duplicate: already filed"
    subject = " ".join(str(message.get("Subject") or "").split())[:200] or _("(no subject)")
    text, html = _bodies(message)
    automatic = auto_reply_reason(message, sender)
    if automatic is None and sender_over_limit(sender):
        automatic = _(
            "more than %(num)d messages in an hour from this sender",
            num=int(config("SERVICE_SENDER_LIMIT_PER_HOUR")),
        )
    fields = {
        "body_text": text,
        "body_html": html,
        "channel": "email",
        "from_address": sender,
        "from_name": name,
        "email_message_id": message_id,
        "auto_reply": automatic is not None,
        "uploads": _uploads(message),
    }
    ticket = _target(route_, subject)
    if ticket is not None:
        _msg, refused = tickets.customer_wrote(ticket, **fields)
        outcome = f"added to ticket #{ticket.number}"
    else:
        try:
            values = tickets.check_ticket(
                {"subject": subject, "requester_email": sender, "requester_name": name or None}
            )
        except ValidationFailed as exc:
            raise InboundRefused(550, "5.6.0 " + "; ".join(exc.errors.values())) from exc
        ticket = tickets.open_ticket(values, channel="email")
        _msg, refused = tickets.add_message(ticket, "customer", **fields)
        if automatic is None and WorkspaceSettings.load().acknowledge:
            mail_acknowledgement(ticket, tenant.name)
        outcome = f"ticket #{ticket.number} opened"
    notes = []
    if automatic is not None:
        notes.append(_("Automatic message (%(reason)s): not answered.", reason=automatic))
    if refused:
        notes.append(_("Attachments not accepted:") + "\n" + "\n".join(refused))
    if notes:
        tickets.add_message(ticket, "note", body_text="\n\n".join(notes))
    return outcome
