"""The public REST API: ``/api/v1`` with per-tenant API keys (see docs/api.md).

:func:`init_app` registers the core's resources, the API keys settings page, the OpenAPI
document and docs page, and every plugin's ``ApiResource`` blueprint; each API blueprint gets
the same ``before_request`` (:func:`crm_platform.api.auth.authenticate`), is exempt from CSRF
(it takes no cookies), and answers errors in one JSON shape.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from ..extensions import csrf
from .auth import authenticate
from .blueprint import RESERVED_NAMES, bp, docs_bp
from .errors import ApiError, api_error, error_response, is_api_request
from .helpers import NAME_RE, api_blueprint, api_doc, api_page, json_body, page_args
from .limits import DEFAULT_RATE_LIMIT, api_rate_limit, rate_limit_headers
from .models import ApiKey
from .openapi import ApiBlueprint, ApiRegistry, schema_name

__all__ = [
    "ApiError",
    "ApiKey",
    "api_blueprint",
    "api_doc",
    "api_error",
    "api_page",
    "api_rate_limit",
    "init_app",
    "json_body",
    "page_args",
]

DEFAULT_MAX_BODY = 1024 * 1024


def _http_error(exc: HTTPException) -> Any:
    """Errors the web shell has no page for (401, 413, 415 ...): JSON under ``/api/``."""
    if is_api_request():
        return error_response(exc)
    return exc


#: The one page under ``/api/`` for people (it shows the signed-in header like any page).
DOCS_PAGE = "/api/v1/docs"


def _cookieless(path: str) -> bool:
    return path.startswith("/api/") and path != DOCS_PAGE


class ApiAwareSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions for pages; none under ``/api/`` (no cookie read, none ever set)."""

    def open_session(self, app: Flask, request: Any) -> Any:
        if _cookieless(request.path):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if _cookieless(request.path):
            return
        super().save_session(app, session, response)


def _secure(app: Flask, blueprint: Blueprint) -> None:
    """Authenticate every request of ``blueprint`` with an API key; no CSRF (no cookies)."""
    app.before_request_funcs.setdefault(blueprint.name, []).append(authenticate)
    app.after_request_funcs.setdefault(blueprint.name, []).append(rate_limit_headers)
    csrf.exempt(blueprint)


def init_app(app: Flask, pm: Any) -> None:
    """Register the API on ``app``: core and plugin resources, keys page, OpenAPI, errors."""
    from ..plugins import PluginError, module_registry
    from . import activities_api, orders_api, records_api  # noqa: F401 - core resources
    from .keys_views import keys_bp

    app.config.setdefault(
        "API_RATELIMIT", os.environ.get("CRM_API_RATELIMIT") or DEFAULT_RATE_LIMIT
    )
    app.config.setdefault(
        "API_MAX_BODY", int(os.environ.get("CRM_API_MAX_BODY") or DEFAULT_MAX_BODY)
    )
    registry = ApiRegistry()
    app.extensions["crm_api"] = registry
    app.register_blueprint(bp)
    _secure(app, bp)
    registry.blueprints[bp.name] = ApiBlueprint(bp.name, "core")
    app.register_blueprint(docs_bp)
    app.register_blueprint(keys_bp)
    taken = set(RESERVED_NAMES)
    for plugin_name, resource in module_registry(app).api_resources:
        name = resource.name
        if not NAME_RE.match(name) or name in taken:
            raise PluginError(
                f"plugin {plugin_name!r}: API resource name {name!r} is taken or not of the "
                f"form {NAME_RE.pattern}"
            )
        taken.add(name)
        blueprint = resource.blueprint
        app.register_blueprint(blueprint, url_prefix=f"/api/v1/{name}")
        _secure(app, blueprint)
        schema = schema_name(name) if resource.schema else None
        if schema is not None:
            registry.schemas[schema] = dict(resource.schema)
        registry.blueprints[blueprint.name] = ApiBlueprint(
            blueprint.name, name, schema, plugin=plugin_name
        )
    app.register_error_handler(HTTPException, _http_error)
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = ApiAwareSessionInterface()
