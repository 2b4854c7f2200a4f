"""Helpers of the Service tests: tickets through the service, mail over real SMTP."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from typing import Any

from conftest import in_tenant
from sqlalchemy import select

from crm_platform.sdk import hookimpl
from plugins.service import tickets
from plugins.service.models import Message, Ticket

ADDRESS = "support+acme@inbound.localhost"


class EventLog:
    """A test plugin that records every domain event (name, record id, data)."""

    crm_plugin_name = "test-service-events"

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, dict[str, Any]]] = []

    def of(self, name: str) -> list[tuple[Any, dict[str, Any]]]:
        """The events called ``name``."""
        return [(rid, data) for n, rid, data in self.seen if n == name]

    @hookimpl
    def crm_event(self, event: Any) -> None:
        self.seen.append((event.name, event.record_id, dict(event.data)))


def open_ticket(app: Any, tenant: Any, **data: Any) -> str:
    """Open a ticket in ``tenant`` through the service; its id."""
    channel = data.pop("channel", "agent")
    values = {"subject": "Printer is on fire", **data}
    with in_tenant(app, tenant) as session:
        ticket, _ = tickets.create_ticket(values, channel=channel)
        session.commit()
        return str(ticket.id)


def get_ticket(session: Any, ticket_id: str) -> Ticket:
    """The ticket with this id (a string, as the pages and ``open_ticket`` give it)."""
    return session.scalars(select(Ticket).where(Ticket.id == uuid.UUID(ticket_id))).one()


def ticket_by_number(session: Any, number: int) -> Ticket:
    """The ticket with ``number`` of the tenant in context."""
    return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def thread(session: Any, ticket: Ticket) -> list[Message]:
    """A ticket's messages, oldest first."""
    stmt = select(Message).where(Message.ticket_id == ticket.id).order_by(Message.created_at)
    return list(session.scalars(stmt))


def mail(
    sender: str = "Carol Customer <carol@customer.example>",
    subject: str = "My order never arrived",
    text: str = "Hello, order 1042 never arrived. Carol",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """A customer's message."""
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = ADDRESS
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send(
    server: tuple[str, int],
    message: EmailMessage,
    *,
    envelope_from: str = "carol@customer.example",
    to: str = ADDRESS,
) -> dict[str, Any]:
    """Deliver ``message`` over SMTP; refusals raise smtplib errors."""
    with smtplib.SMTP(*server, timeout=30) as client:
        return client.send_message(message, from_addr=envelope_from, to_addrs=[to])
