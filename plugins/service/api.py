"""The module's REST resources, through the core's API helpers (so they are in the OpenAPI
document, authenticated by API key, paged by cursor, and 404 while Service is off):

* ``/api/v1/tickets``: list, open, get, change; ``/<id>/messages``: thread, reply or note;
* ``/api/v1/calls``: list, log (a telephony integration posts here), get;
* ``/api/v1/articles``: list and search, write, get, change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm_platform.sdk import (
    ApiError,
    ValidationFailed,
    api_blueprint,
    api_doc,
    api_error,
    api_json,
    api_page,
    db,
    get_or_404,
    parse_uuid,
    require_permission,
)

from . import calls as calls_service
from . import kb, tickets
from .models import (
    ARTICLE_STATUSES,
    ARTICLE_VISIBILITY,
    CALL_DIRECTIONS,
    CALL_OUTCOMES,
    CHANNELS,
    PRIORITIES,
    STATUSES,
    Article,
    Call,
    Message,
    Ticket,
)

tickets_bp = api_blueprint("tickets", __name__)
calls_bp = api_blueprint("calls", __name__)
articles_bp = api_blueprint("articles", __name__)

_ID = {"type": "string", "format": "uuid"}
_NULL_ID = {"type": ["string", "null"], "format": "uuid"}
_TIME = {"type": ["string", "null"], "format": "date-time", "readOnly": True}
TICKET_SCHEMA = {
    "type": "object",
    "required": ["subject"],
    "properties": {
        "id": {**_ID, "readOnly": True},
        "number": {"type": "integer", "readOnly": True},
        "subject": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "writeOnly": True, "description": "First message."},
        "status": {"type": "string", "enum": list(STATUSES)},
        "priority": {"type": "string", "enum": list(PRIORITIES)},
        "channel": {"type": "string", "enum": list(CHANNELS), "readOnly": True},
        "category": {"type": ["string", "null"], "maxLength": 80},
        "queue_id": _NULL_ID,
        "assignee_id": _NULL_ID,
        "requester_email": {"type": ["string", "null"], "format": "email"},
        "requester_name": {"type": ["string", "null"]},
        "contact_id": _NULL_ID,
        "account_id": _NULL_ID,
        "order_ref": {"type": ["string", "null"], "maxLength": 80},
        "sla": {
            "type": "object",
            "readOnly": True,
            "properties": {
                "status": {
                    "type": "string",
                    "enum": ["none", "on_track", "at_risk", "breached", "paused", "met"],
                },
                "first_response_due_at": _TIME,
                "resolution_due_at": _TIME,
                "first_response_breached": {"type": "boolean"},
                "resolution_breached": {"type": "boolean"},
            },
        },
        "created_at": _TIME,
        "first_responded_at": _TIME,
        "solved_at": _TIME,
        "merged_into_id": {**_NULL_ID, "readOnly": True},
    },
}
CALL_SCHEMA = {
    "type": "object",
    "required": ["number"],
    "properties": {
        "id": {**_ID, "readOnly": True},
        "direction": {"type": "string", "enum": list(CALL_DIRECTIONS)},
        "number": {"type": "string", "description": "Normalised to +<country><number>."},
        "outcome": {"type": "string", "enum": list(CALL_OUTCOMES)},
        "duration": {"type": "integer", "minimum": 0, "description": "Seconds."},
        "recording_url": {"type": ["string", "null"], "format": "uri"},
        "notes": {"type": ["string", "null"]},
        "contact_id": _NULL_ID,
        "account_id": _NULL_ID,
        "ticket_id": _NULL_ID,
        "queue_id": _NULL_ID,
        "agent_id": {**_NULL_ID, "readOnly": True},
        "started_at": _TIME,
    },
}
ARTICLE_SCHEMA = {
    "type": "object",
    "required": ["title", "body"],
    "properties": {
        "id": {**_ID, "readOnly": True},
        "title": {"type": "string", "maxLength": 200},
        "body": {"type": "string"},
        "category_id": _NULL_ID,
        "visibility": {"type": "string", "enum": list(ARTICLE_VISIBILITY)},
        "status": {"type": "string", "enum": list(ARTICLE_STATUSES)},
        "version": {"type": "integer", "readOnly": True},
        "updated_at": _TIME,
    },
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """A ticket as the API shows it."""
    return {
        "id": str(ticket.id),
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "category": ticket.category,
        "queue_id": _id(ticket.queue_id),
        "assignee_id": _id(ticket.assignee_id),
        "requester_email": ticket.requester_email,
        "requester_name": ticket.requester_name,
        "contact_id": _id(ticket.contact_id),
        "account_id": _id(ticket.account_id),
        "order_ref": ticket.order_ref,
        "sla": {
            "status": ticket.sla_status,
            "first_response_due_at": _iso(ticket.response_due_at),
            "resolution_due_at": _iso(ticket.resolution_due_at),
            "first_response_breached": bool(ticket.response_breached),
            "resolution_breached": bool(ticket.resolution_breached),
        },
        "created_at": _iso(ticket.created_at),
        "first_responded_at": _iso(ticket.first_responded_at),
        "solved_at": _iso(ticket.solved_at),
        "merged_into_id": _id(ticket.merged_into_id),
    }


def message_json(message: Message) -> dict[str, Any]:
    """A thread entry as the API shows it."""
    return {
        "id": str(message.id),
        "kind": message.kind,
        "body": message.body_text,
        "from_address": message.from_address,
        "author_id": _id(message.author_id),
        "created_at": _iso(message.created_at),
    }


def call_json(call: Call) -> dict[str, Any]:
    """A call as the API shows it."""
    return {
        "id": str(call.id),
        "direction": call.direction,
        "number": call.number,
        "outcome": call.outcome,
        "duration": call.duration_seconds,
        "recording_url": call.recording_url,
        "notes": call.notes,
        "contact_id": _id(call.contact_id),
        "account_id": _id(call.account_id),
        "ticket_id": _id(call.ticket_id),
        "queue_id": _id(call.queue_id),
        "agent_id": _id(call.agent_id),
        "started_at": _iso(call.started_at),
    }


def article_json(article: Article) -> dict[str, Any]:
    """An article as the API shows it."""
    return {
        "id": str(article.id),
        "title": article.title,
        "body": article.body,
        "category_id": _id(article.category_id),
        "visibility": article.visibility,
        "status": article.status,
        "version": article.version,
        "updated_at": _iso(article.updated_at),
    }


def _input(body: Mapping[str, Any], writable: set[str], schema: dict[str, Any]) -> dict[str, Any]:
    """The writable fields of a JSON body (strings or null; unknown names refused)."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    read_only = {k for k, v in schema["properties"].items() if v.get("readOnly")}
    for name, value in body.items():
        if name in read_only:
            continue
        if name not in writable:
            errors[name] = "Unknown field."
        elif value is not None and not isinstance(value, str | int | bool):
            errors[name] = "Expected a string, a number or null."
        else:
            data[name] = "" if value is None else value
    if errors:
        api_error(400, "validation_failed", "Some fields are not valid.", errors)
    return data


def _invalid(exc: ValidationFailed) -> ApiError:
    db.session.rollback()
    return ApiError(400, "validation_failed", "Some fields are not valid.", exc.errors)


def _write(action: Any) -> Any:
    """Run a service call that writes; its ValidationFailed in the API's error shape, else
    commit. Returns what it returned."""
    try:
        result = action()
    except ValidationFailed as exc:
        raise _invalid(exc) from exc
    db.session.commit()
    return result


def _uuid_arg(name: str) -> Any:
    value = parse_uuid(request.args[name])
    if value is None:
        api_error(400, "validation_failed", "Bad query.", {name: "Not an id."})
    return value


# ----------------------------------------------------------------- tickets

TICKET_FILTERS = [
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
    for n, d in (
        ("status", "new, open, pending, on_hold, solved or closed."),
        ("priority", "low, normal, high or urgent."),
        ("queue_id", "Tickets of this queue."),
        ("assignee_id", "Tickets assigned to this member (user id)."),
        ("contact_id", "Tickets of this contact."),
        ("account_id", "Tickets of this account."),
    )
]


@tickets_bp.get("")
@require_permission("service.read")
@api_doc(
    "List tickets, newest first", response_schema="Tickets", many=True, parameters=TICKET_FILTERS
)
def list_tickets() -> Any:
    """List tickets, newest first."""
    stmt = select(Ticket)
    for name in ("status", "priority"):
        if name in request.args:
            allowed = STATUSES if name == "status" else PRIORITIES
            if request.args[name] not in allowed:
                api_error(400, "validation_failed", "Bad query.", {name: "Not a known value."})
            stmt = stmt.where(getattr(Ticket, name) == request.args[name])
    for name in ("queue_id", "assignee_id", "contact_id", "account_id"):
        if name in request.args:
            stmt = stmt.where(getattr(Ticket, name) == _uuid_arg(name))
    return api_page(stmt, Ticket.id, ticket_json, list_name="tickets", descending=True)


TICKET_WRITABLE = {
    "subject",
    "description",
    "priority",
    "status",
    "category",
    "queue_id",
    "assignee_id",
    "requester_email",
    "requester_name",
    "contact_id",
    "account_id",
    "order_ref",
}


@tickets_bp.post("")
@require_permission("service.work")
def create_ticket() -> Any:
    """Open a ticket (channel ``api``); ``description`` becomes its first message."""
    data = _input(api_json(), TICKET_WRITABLE, TICKET_SCHEMA)
    ticket, _refused = _write(
        lambda: tickets.create_ticket(
            data, channel="api", actor=current_user, membership=g.membership
        )
    )
    location = url_for("api_tickets.get_ticket", ticket_id=ticket.id)
    return ticket_json(ticket), 201, {"Location": location}


@tickets_bp.get("/<ticket_id>")
@require_permission("service.read")
def get_ticket(ticket_id: str) -> Any:
    """One ticket, with its SLA state."""
    return ticket_json(get_or_404(Ticket, ticket_id))


@tickets_bp.patch("/<ticket_id>")
@require_permission("service.work")
def update_ticket(ticket_id: str) -> Any:
    """Change a ticket's status, priority, queue, assignee, customer or category."""
    ticket = get_or_404(Ticket, ticket_id)
    data = _input(api_json(), TICKET_WRITABLE - {"description"}, TICKET_SCHEMA)
    _write(lambda: tickets.update_ticket(ticket, data, actor=current_user, membership=g.membership))
    return ticket_json(ticket)


@tickets_bp.get("/<ticket_id>/messages")
@require_permission("service.read")
@api_doc("The ticket's thread, oldest first", many=True)
def list_messages(ticket_id: str) -> Any:
    """The ticket's thread, oldest first."""
    ticket = get_or_404(Ticket, ticket_id)
    stmt = select(Message).where(Message.ticket_id == ticket.id)
    return api_page(stmt, Message.id, message_json, list_name=f"messages-{ticket.id}")


@tickets_bp.post("/<ticket_id>/messages")
@require_permission("service.work")
@api_doc(
    "Reply to the customer (e-mailed) or add an internal note",
    description='Body: {"body": text, "public": true|false, "status": optional}.',
    status=201,
)
def add_message(ticket_id: str) -> Any:
    """Reply to the customer (e-mailed) or add an internal note (``public: false``)."""
    ticket = get_or_404(Ticket, ticket_id)
    body = api_json()
    errors = {k: "Unknown field." for k in body if k not in ("body", "public", "status")}
    public = body.get("public", True)
    if not isinstance(public, bool):
        errors["public"] = "Expected true or false."
    status = body.get("status")
    if status is not None and status not in STATUSES:
        errors["status"] = "Not a known status."
    if errors:
        api_error(400, "validation_failed", "Some fields are not valid.", errors)
    message, _refused = _write(
        lambda: tickets.reply(
            ticket, body.get("body"), actor=current_user, public=public, status=status
        )
    )
    return message_json(message), 201


# ----------------------------------------------------------------- calls

CALL_WRITABLE = {
    "direction",
    "number",
    "outcome",
    "duration",
    "recording_url",
    "notes",
    "contact_id",
    "account_id",
    "ticket_id",
    "queue_id",
}


@calls_bp.get("")
@require_permission("service.read")
@api_doc(
    "List calls, newest first",
    response_schema="Calls",
    many=True,
    parameters=[
        {
            "name": "number",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Calls with this phone number (any format).",
        },
        {
            "name": "contact_id",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Calls of this contact.",
        },
    ],
)
def list_calls() -> Any:
    """List calls, newest first."""
    stmt = select(Call)
    if "number" in request.args:
        try:
            stmt = stmt.where(Call.number == calls_service.clean_number(request.args["number"]))
        except ValueError as exc:
            api_error(400, "validation_failed", "Bad query.", {"number": str(exc)})
    if "contact_id" in request.args:
        stmt = stmt.where(Call.contact_id == _uuid_arg("contact_id"))
    return api_page(stmt, Call.id, call_json, list_name="calls", descending=True)


@calls_bp.post("")
@require_permission("service.work")
def log_call() -> Any:
    """Log a call (the key's member is the agent)."""
    data = _input(api_json(), CALL_WRITABLE, CALL_SCHEMA)
    call = _write(lambda: calls_service.log_call(data, actor=current_user, membership=g.membership))
    return call_json(call), 201, {"Location": url_for("api_calls.get_call", call_id=call.id)}


@calls_bp.get("/<call_id>")
@require_permission("service.read")
def get_call(call_id: str) -> Any:
    """One call."""
    return call_json(get_or_404(Call, call_id))


# ----------------------------------------------------------------- articles

ARTICLE_WRITABLE = {"title", "body", "category_id", "visibility", "status"}


@articles_bp.get("")
@require_permission("service.read")
@api_doc(
    "List or search knowledge-base articles",
    response_schema="Articles",
    many=True,
    parameters=[
        {
            "name": "q",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Full-text search (best matches first, at most 50, no cursor).",
        },
    ],
)
def list_articles() -> Any:
    """List articles by id, or search them with ``?q=``."""
    if request.args.get("q"):
        found = kb.search(request.args["q"], limit=50)
        return {"data": [article_json(a) for a in found], "next_cursor": None}
    return api_page(select(Article), Article.id, article_json, list_name="articles")


@articles_bp.post("")
@require_permission("service.work")
def create_article() -> Any:
    """Write an article (version 1)."""
    data = _input(api_json(), ARTICLE_WRITABLE, ARTICLE_SCHEMA)
    article = _write(lambda: kb.create_article(data, actor=current_user))
    location = url_for("api_articles.get_article", article_id=article.id)
    return article_json(article), 201, {"Location": location}


@articles_bp.get("/<article_id>")
@require_permission("service.read")
def get_article(article_id: str) -> Any:
    """One article."""
    return article_json(get_or_404(Article, article_id))


@articles_bp.patch("/<article_id>")
@require_permission("service.work")
def update_article(article_id: str) -> Any:
    """Change an article; a new title or body makes a new version."""
    article = get_or_404(Article, article_id)
    data = {**article_json(article), **_input(api_json(), ARTICLE_WRITABLE, ARTICLE_SCHEMA)}
    _write(lambda: kb.update_article(article, data, actor=current_user))
    return article_json(article)
