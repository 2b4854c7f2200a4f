"""The Greetings API resource: ``GET /api/v1/greetings`` and ``POST /api/v1/greetings``.

Written only against ``crm_platform.sdk``: the core authenticates every request with the
workspace's API key, acts as the member who created the key (so ``require_permission``
works as on pages), and answers 404 while Hello is off for the key's workspace.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from sqlalchemy import select

from crm_platform.sdk import (
    Contact,
    api_blueprint,
    api_error,
    api_json,
    api_page,
    db,
    emit_event,
    parse_uuid,
    require_permission,
)

from .jobs import send_greeting
from .models import Greeting

bp = api_blueprint("greetings", __name__)

#: The OpenAPI schema of a greeting (the core puts it in /api/v1/openapi.json).
SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "contact_id": {"type": ["string", "null"], "format": "uuid"},
        "message": {"type": "string", "maxLength": 2000},
        "status": {"type": "string", "enum": ["draft", "queued", "sent"], "readOnly": True},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "sent_at": {"type": ["string", "null"], "format": "date-time", "readOnly": True},
    },
}


def greeting_json(greeting: Greeting) -> dict[str, Any]:
    """A greeting as the API shows it."""
    return {
        "id": str(greeting.id),
        "contact_id": str(greeting.contact_id) if greeting.contact_id else None,
        "message": greeting.message,
        "status": greeting.status,
        "created_at": greeting.created_at.isoformat(),
        "sent_at": greeting.sent_at.isoformat() if greeting.sent_at else None,
    }


@bp.get("")
@require_permission("hello.read")
def list_greetings() -> Any:
    """List greetings to contacts, newest first (``?contact_id=`` for one contact's)."""
    stmt = select(Greeting).where(Greeting.contact_id.is_not(None))
    if "contact_id" in request.args:
        contact_id = parse_uuid(request.args["contact_id"])
        if contact_id is None:
            api_error(400, "validation_failed", "Bad query.", {"contact_id": "Not an id."})
        stmt = stmt.where(Greeting.contact_id == contact_id)
    return api_page(stmt, Greeting.id, greeting_json, list_name="greetings", descending=True)


@bp.post("")
@require_permission("hello.send")
def create_greeting() -> Any:
    """Queue a greeting to a contact; a job mails it."""
    body = api_json()
    errors: dict[str, str] = {}
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        errors["message"] = "Write a message."
    elif len(message) > 2000:
        errors["message"] = "Use at most 2000 characters."
    raw_contact = body.get("contact_id")
    contact_id = parse_uuid(raw_contact) if isinstance(raw_contact, str) else None
    contact = None
    if contact_id is not None:
        contact = db.session.scalar(
            select(Contact).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
        )
    if contact is None:
        errors["contact_id"] = "Choose one of the contacts."
    if errors:
        api_error(400, "validation_failed", "Some fields are not valid.", errors)
    greeting = Greeting(contact_id=contact.id, message=message.strip(), status="queued")
    db.session.add(greeting)
    db.session.flush()
    emit_event("greeting.queued", record_id=greeting.id, data={"contact_id": str(contact.id)})
    send_greeting.enqueue_after_commit(str(greeting.id))
    db.session.commit()
    return greeting_json(greeting), 201, {"Location": url_for("api_greetings.list_greetings")}
