"""The "Tickets" import target: rows of a spreadsheet become tickets (channel ``import``),
each through the same write path as the pages, so they get numbers, SLA clocks and events."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import ImportTarget, ValidationFailed

from . import tickets

FIELDS = {
    "subject": "Subject",
    "description": "Description",
    "requester_email": "Requester e-mail",
    "requester_name": "Requester name",
    "priority": "Priority",
    "category": "Category",
    "order_ref": "Order number",
}
ALIASES = {
    "subject": ("title", "summary", "betreff", "主题"),
    "description": ("body", "message", "details", "描述"),
    "requester_email": ("email", "e-mail", "customer email", "from"),
    "requester_name": ("name", "customer", "customer name"),
    "order_ref": ("order", "order no", "order id"),
}


def import_ticket(values: dict[str, Any]) -> Any:
    """Open one imported ticket; raises ValidationFailed for a bad row."""
    data = {k: (str(v).strip() if v is not None else "") for k, v in values.items()}
    if data.get("priority"):
        data["priority"] = data["priority"].lower()
    if not data.get("subject"):
        raise ValidationFailed({"subject": _("Enter a subject.")})
    ticket, _refused = tickets.create_ticket(data, channel="import")
    return ticket.id


def ticket_import_target() -> ImportTarget:
    """The import target of tickets (permission ``service.work``)."""
    return ImportTarget(
        key="tickets",
        label=_("Tickets"),
        fields=FIELDS,
        import_row=import_ticket,
        required=("subject",),
        aliases=ALIASES,
        permission="service.work",
    )
