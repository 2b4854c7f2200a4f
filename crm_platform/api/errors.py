"""One error shape for everything under ``/api/``.

``{"error": {"code": "<machine code>", "message": "...", "fields": {field: message}}}`` with
the HTTP status. Views raise :class:`ApiError` (or call :func:`api_error`); ``abort(404)``,
routing errors, oversized bodies and rate limits are turned into the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

#: The machine code of each HTTP status when a view did not name one.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
}
MESSAGES = {
    400: "The request is not valid.",
    401: "Send a valid API key as 'Authorization: Bearer <key>'.",
    403: "This API key may not do that.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "Send a JSON body with 'Content-Type: application/json'.",
    429: "Too many requests: slow down and retry after the time in Retry-After.",
    500: "Something went wrong on our side.",
}


class ApiError(HTTPException):
    """An API failure with a machine ``api_code``, a message and per-field messages."""

    def __init__(
        self,
        status: int,
        api_code: str | None = None,
        message: str | None = None,
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.code = status
        super().__init__(description=message or MESSAGES.get(status, "Error"))
        self.api_code = api_code or STATUS_CODES.get(status, "error")
        self.fields = {k: str(v) for k, v in (fields or {}).items()}
        self.extra_headers = dict(headers or {})


def api_error(
    status: int,
    code: str | None = None,
    message: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> NoReturn:
    """Stop the request with an API error (like ``abort``): ``api_error(400, "bad", "...")``."""
    raise ApiError(status, code, message, fields)


def validation_error(fields: Mapping[str, Any], message: str | None = None) -> ApiError:
    """A 400 ``validation_failed`` error naming the bad fields."""
    return ApiError(400, "validation_failed", message or "Some fields are not valid.", fields)


def is_api_request() -> bool:
    """True for a request under ``/api/``."""
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(exc: Any) -> Response:
    """The JSON error response of ``exc`` (any HTTP exception, or another exception: 500)."""
    status = getattr(exc, "code", None) or 500
    if not isinstance(status, int):
        status = 500
    code = getattr(exc, "api_code", None) or STATUS_CODES.get(status, "error")
    if isinstance(exc, ApiError) or (status < 500 and _own_description(exc)):
        message = str(exc.description)
    else:
        message = MESSAGES.get(status, "Error")
    fields = dict(getattr(exc, "fields", None) or {})
    response = jsonify({"error": {"code": code, "message": message, "fields": fields}})
    response.status_code = status
    for name, value in (getattr(exc, "extra_headers", None) or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    if isinstance(exc, HTTPException) and not isinstance(exc, ApiError):
        for name, value in exc.get_headers():
            if name.lower() in ("allow", "retry-after"):
                response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def _own_description(exc: Any) -> bool:
    """True when a view gave ``abort(...)`` its own description (not werkzeug's default)."""
    cls = type(exc)
    return bool(getattr(exc, "description", None)) and exc.description != getattr(
        cls, "description", None
    )
