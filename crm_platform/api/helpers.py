"""Helpers API resources use, core and plugin alike (re-exported by ``crm_platform.sdk``).

* :func:`api_blueprint` makes a resource's blueprint with the right ``/api/v1/<name>`` prefix;
* :func:`json_body` reads the request's JSON object (415 / 400 / 413 in the error shape);
* :func:`page_args` reads ``limit`` and ``cursor``; :func:`api_page` runs a keyset page of
  any statement over a unique, ordered column (a UUIDv7 ``id`` is time-ordered);
* :func:`api_doc` describes an operation for the OpenAPI document.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from ..extensions import db
from .errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR = 1000
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint serving ``/api/v1/<name>``: ``bp = sdk.api_blueprint("cards", __name__)``.

    Return it in an ``ApiResource(name, bp, schema)`` from ``crm_api_resources``; the core
    registers it, authenticates every request with the API key and answers 404 while your
    module is off for the key's tenant.
    """
    if not NAME_RE.match(name):
        raise ValueError(f"API resource name {name!r} must match {NAME_RE.pattern}")
    return Blueprint(f"api_{name.replace('-', '_')}", import_name, url_prefix=f"/api/v1/{name}")


def json_body() -> dict[str, Any]:
    """The request's JSON object; raises the API's 415, 400 or 413 error otherwise."""
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send a JSON body with 'Content-Type: application/json'."
        )
    try:
        data = request.get_json()
    except RequestEntityTooLarge:
        raise
    except BadRequest as exc:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return data


def page_args(default: int = DEFAULT_LIMIT) -> tuple[int, str]:
    """``limit`` (1-200) and ``cursor`` from the query string; 400 when ``limit`` is bad."""
    raw = request.args.get("limit", "")
    if raw == "":
        limit = default
    else:
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(
                400,
                "validation_failed",
                "Some query parameters are not valid.",
                {"limit": f"Use a whole number from 1 to {MAX_LIMIT}."},
            )
    cursor = request.args.get("cursor", "")
    if len(cursor) > MAX_CURSOR:
        raise bad_cursor()
    return limit, cursor


def bad_cursor() -> ApiError:
    """The 400 error of a cursor that does not decode or belongs to another list."""
    return ApiError(
        400,
        "bad_cursor",
        "The cursor is not valid: start again without one.",
        {"cursor": "Not a cursor of this list."},
    )


def encode_cursor(payload: Any) -> str:
    """An opaque cursor of a JSON-serialisable ``payload``."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The payload of :func:`encode_cursor`; raises the 400 ``bad_cursor`` error."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise bad_cursor() from exc


def api_page(
    stmt: Any,
    column: Any,
    serialize: Callable[[Any], Any],
    *,
    list_name: str = "",
    descending: bool = False,
) -> dict[str, Any]:
    """One keyset page of ``stmt`` ordered by ``column`` (unique, e.g. a UUIDv7 ``id``).

    Reads ``limit`` and ``cursor`` from the query string and returns
    ``{"data": [serialize(row) ...], "next_cursor": "..." | None}``. ``list_name`` ties a
    cursor to its list, so a cursor of another list is refused with 400.
    """
    limit, cursor = page_args()
    tag = list_name or str(column)
    if cursor:
        payload = decode_cursor(cursor)
        if not (isinstance(payload, list) and len(payload) == 2 and payload[0] == tag):
            raise bad_cursor()
        try:
            after = column.type.python_type(payload[1])
        except (TypeError, ValueError, NotImplementedError) as exc:
            raise bad_cursor() from exc
        stmt = stmt.where(column < after if descending else column > after)
    stmt = stmt.order_by(column.desc() if descending else column.asc()).limit(limit + 1)
    rows = list(db.session.execute(stmt).unique().scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = getattr(rows[-1], column.key)
        next_cursor = encode_cursor([tag, str(last)])
    return {"data": [serialize(r) for r in rows], "next_cursor": next_cursor}


def api_doc(
    summary: str | None = None,
    *,
    request_schema: str | None = None,
    response_schema: str | None = None,
    many: bool = False,
    status: int | None = None,
    parameters: Iterable[dict[str, Any]] = (),
    description: str = "",
    other_status: dict[int, str] | None = None,
) -> Callable[[F], F]:
    """Describe an API view for the OpenAPI document (optional: it guesses from the method).

    ``request_schema``/``response_schema`` name component schemas; ``many`` says the answer
    is a page (``data`` + ``next_cursor``); ``status`` is the success status; ``other_status``
    names other success statuses with the same body (e.g. ``{200: "Already there."}``).
    """

    def decorator(view: F) -> F:
        view.crm_api_doc = {  # type: ignore[attr-defined]
            "summary": summary,
            "request": request_schema,
            "response": response_schema,
            "many": many,
            "status": status,
            "parameters": list(parameters),
            "description": description,
            "other_status": dict(other_status or {}),
        }
        return view

    return decorator


def api_public(view: F) -> F:
    """Mark an API view that needs no key (the OpenAPI document and its docs page)."""
    view.crm_api_public = True  # type: ignore[attr-defined]
    return view
