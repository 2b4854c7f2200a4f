"""Clean answers while PostgreSQL or Redis is away, and recovery without a restart.

A request that meets a lost database connection (a PostgreSQL restart, a failover, the
database refusing connections) or an unreachable Redis ends with **503** and
``Retry-After``: JSON in the API's one error shape, a small self-contained page elsewhere
(it needs neither the database nor the session, which may be what is down). The request's
transaction is rolled back, so nothing is half-written; the pool's pre-ping replaces dead
connections on the next request, so the app recovers by itself when the service is back.

Rate limits fail open while Redis is away (``RATELIMIT_SWALLOW_ERRORS``): pages keep working
and the outage is logged, rather than every page failing with it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from markupsafe import escape
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import OperationalError

from .extensions import db

log = logging.getLogger("crm.outage")
RETRY_AFTER_SECONDS = 5

#: What a lost service raises in a request (a lost database connection is always an
#: ``OperationalError``: see :func:`_lost_connection_is_operational`).
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Temporarily unavailable · 暂时无法使用</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="narrow"><section class="card narrow">
<h1>Temporarily unavailable</h1>
<p>Part of the service is restarting. Nothing you sent was saved; please try again in a few
seconds.</p>
<h2 lang="zh-CN">暂时无法使用</h2>
<p lang="zh-CN">部分服务正在重启。您提交的内容未被保存，请几秒钟后重试。</p>
<p><a href="{path}">Try again · 重试</a></p>
</section></main></body></html>
"""


@event.listens_for(Engine, "handle_error")
def _lost_connection_is_operational(context: ExceptionContext) -> BaseException | None:
    """Raise a lost connection as an ``OperationalError`` whatever the driver's class for it
    (e.g. SQLite's "closed database" ``ProgrammingError``), so the 503 handler is chosen by
    class alone. Other errors, and disconnects already of that class, are left as they are."""
    error = context.sqlalchemy_exception
    if not context.is_disconnect or error is None or isinstance(error, OperationalError):
        return None
    return OperationalError(
        error.statement,
        error.params,
        error.orig,
        hide_parameters=error.hide_parameters,
        connection_invalidated=True,
        ismulti=error.ismulti,
    )


def _service(exc: BaseException) -> str:
    return "redis" if isinstance(exc, (RedisConnectionError, RedisTimeoutError)) else "database"


def unavailable(exc: BaseException) -> Response:
    """The 503 answer for a request that met a lost service (its transaction rolled back)."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: the pool discards it
        log.debug("rollback after an outage failed", exc_info=True)
    service = _service(exc)
    log.warning("%s unavailable during %s %s: %s", service, request.method, request.path, exc)
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        body: Any = {
            "error": {
                "code": "unavailable",
                "message": "The service is temporarily unavailable; try again shortly.",
                "fields": {},
            }
        }
        response = Response(json.dumps(body), status=503, mimetype="application/json")
    else:
        page = PAGE.format(path=escape(request.full_path.rstrip("?") or "/"))
        response = Response(page, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Answer lost-service errors with 503 (``RATELIMIT_SWALLOW_ERRORS`` is in the config);
    every other error takes the usual 500 path."""
    for exc_class in TRANSIENT:
        app.register_error_handler(exc_class, unavailable)
