"""Canned responses: prepared replies whose merge fields are filled for one ticket.

Merge fields are written ``{{ customer.first_name }}``; only the names in :data:`FIELDS` are
replaced (this is plain substitution, not a template language, so a response cannot run
code or read anything else). An unknown field stays as written, so a typo shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l

from crm_platform.sdk import Tenant, current_tenant, db

from .models import Ticket

_FIELD = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


def _first_name(ticket: Ticket) -> str:
    if ticket.contact is not None:
        return ticket.contact.first_name or ""
    name = (ticket.requester_name or "").strip()
    return name.split()[0] if name else ""


def _workspace_name() -> str:
    ref = current_tenant()
    tenant = db.session.get(Tenant, ref.id) if ref else None
    return tenant.name if tenant else ""


#: Merge field -> (label, value for a ticket and the replying agent).
FIELDS: dict[str, tuple[Any, Callable[[Ticket, Any], str]]] = {
    "customer.name": (_l("Customer's name"), lambda t, a: t.requester_label),
    "customer.first_name": (_l("Customer's first name"), lambda t, a: _first_name(t)),
    "customer.email": (_l("Customer's e-mail"), lambda t, a: t.requester_email or ""),
    "ticket.number": (_l("Ticket number"), lambda t, a: str(t.number)),
    "ticket.subject": (_l("Ticket subject"), lambda t, a: t.subject),
    "ticket.order": (_l("Order number"), lambda t, a: t.order_ref or ""),
    "agent.name": (_l("Your name"), lambda t, a: getattr(a, "name", "") or ""),
    "workspace.name": (_l("Workspace name"), lambda t, a: _workspace_name()),
}


def render(body: str, ticket: Ticket, agent: Any) -> str:
    """``body`` with the merge fields filled for ``ticket`` and ``agent``."""

    def fill(match: re.Match[str]) -> str:
        field = FIELDS.get(match.group(1))
        return field[1](ticket, agent) if field else match.group(0)

    return _FIELD.sub(fill, body or "")
