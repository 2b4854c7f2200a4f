"""The OpenAPI 3.1 document of ``/api/v1``, built from the registered API blueprints.

Every URL rule of an API blueprint (the core's and each plugin's ``ApiResource``) becomes an
operation. A view may describe itself with ``api_doc``; otherwise the method says what it is:
``GET`` on the collection lists (a page of the resource's schema), ``GET`` on an item gets,
``POST`` creates (201), ``PATCH``/``PUT`` change, ``DELETE`` removes (204).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, render_template

from .blueprint import docs_bp
from .helpers import MAX_LIMIT, api_public
from .schemas import core_schemas

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class ApiBlueprint:
    """An API blueprint: its tag in the document and the schema of its resource."""

    name: str
    tag: str
    schema: str | None = None
    plugin: str | None = None


@dataclass
class ApiRegistry:
    """The app's API blueprints and the component schemas plugins contributed."""

    blueprints: dict[str, ApiBlueprint] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def info_of(self, endpoint: str) -> ApiBlueprint | None:
        """The API blueprint an endpoint belongs to (nested blueprints included), or None."""
        parts = endpoint.split(".")[:-1]
        for i in range(len(parts), 0, -1):
            info = self.blueprints.get(".".join(parts[:i]))
            if info is not None:
                return info
        return None


def api_registry(app: Flask | None = None) -> ApiRegistry:
    """The API registry of ``app`` (default: the current app)."""
    return (app or current_app).extensions["crm_api"]


def schema_name(resource: str) -> str:
    """``"loyalty-cards"`` → ``"LoyaltyCards"``: a resource's component schema name."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", resource) if part)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": _ref(name)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as ?cursor= for the next page; null on the last page.",
            },
        },
    }


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        out["headers"] = headers
    return out


ERROR_RESPONSES = {
    "BadRequest": _error_response("Invalid input: error.fields names each bad field."),
    "Unauthorized": _error_response("No valid API key (missing, unknown or revoked)."),
    "Forbidden": _error_response(
        "The key may not do this (read-only key, role, or suspended workspace)."
    ),
    "NotFound": _error_response("No such object, or the module is off for the workspace."),
    "PayloadTooLarge": _error_response("The body is larger than the API accepts."),
    "UnsupportedMediaType": _error_response("The body is not application/json."),
    "RateLimited": _error_response(
        "The key's rate limit is used up.",
        {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer"},
            }
        },
    ),
    "Unavailable": _error_response(
        "The database or Redis is briefly unavailable (a restart): nothing was written; retry.",
        {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer"},
            }
        },
    ),
}


def _operation(rule: Any, method: str, view: Any, info: ApiBlueprint) -> dict[str, Any]:
    doc = dict(getattr(view, "crm_api_doc", None) or {})
    has_args = bool(rule.arguments)
    summary = doc.get("summary") or (view.__doc__ or "").strip().split("\n")[0] or rule.endpoint
    op: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "summary": summary,
        "tags": [info.tag],
    }
    if doc.get("description"):
        op["description"] = doc["description"]
    parameters: list[dict[str, Any]] = [
        {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
        for arg in sorted(rule.arguments)
    ]
    many = doc.get("many") if doc else (method == "GET" and not has_args)
    if many:
        parameters += [
            {"$ref": "#/components/parameters/limit"},
            {"$ref": "#/components/parameters/cursor"},
        ]
    parameters += doc.get("parameters") or []
    if parameters:
        op["parameters"] = parameters
    request_schema = doc.get("request")
    if request_schema is None and not doc and method in ("POST", "PUT", "PATCH"):
        request_schema = info.schema
    if method in ("POST", "PUT", "PATCH"):
        content = {"schema": _ref(request_schema) if request_schema else {"type": "object"}}
        op["requestBody"] = {"required": True, "content": {"application/json": content}}
    status = doc.get("status") or {"POST": 201, "DELETE": 204}.get(method, 200)
    response_schema = doc.get("response") if doc else info.schema
    success: dict[str, Any] = {"description": "Success."}
    if status != 204:
        if response_schema:
            schema = _page(response_schema) if many else _ref(response_schema)
        else:
            schema = {"type": "object"}
        success["content"] = {"application/json": {"schema": schema}}
    responses: dict[str, Any] = {str(status): success}
    for other, description in (doc.get("other_status") or {}).items():
        responses[str(other)] = {**success, "description": description}
    if many or method in ("POST", "PUT", "PATCH"):
        responses["400"] = {"$ref": "#/components/responses/BadRequest"}
    responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    responses["404"] = {"$ref": "#/components/responses/NotFound"}
    if method in ("POST", "PUT", "PATCH"):
        responses["413"] = {"$ref": "#/components/responses/PayloadTooLarge"}
        responses["415"] = {"$ref": "#/components/responses/UnsupportedMediaType"}
    responses["429"] = {"$ref": "#/components/responses/RateLimited"}
    responses["503"] = {"$ref": "#/components/responses/Unavailable"}
    op["responses"] = responses
    return op


def build_document(app: Flask | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered API resource."""
    app = app or current_app._get_current_object()
    registry = api_registry(app)
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    for rule in rules:
        info = registry.info_of(rule.endpoint)
        if info is None:
            continue
        view = app.view_functions[rule.endpoint]
        path = _ARG.sub(r"{\1}", rule.rule)
        item = paths.setdefault(path, {})
        for method in _METHOD_ORDER:
            if method in (rule.methods or ()):
                item[method.lower()] = _operation(rule, method, view, info)
        tags.setdefault(
            info.tag,
            f"Plugin resource of {info.plugin}." if info.plugin else "Core resource.",
        )
    schemas = {**core_schemas(), **registry.schemas}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "CRM API",
            "version": API_VERSION,
            "description": (
                "The workspace's data over HTTP. Authenticate with an API key "
                "(Settings → API keys) as 'Authorization: Bearer <key>'. Errors share one "
                "shape (components.schemas.Error); lists are keyset pages (next_cursor)."
            ),
        },
        "servers": [{"url": app.config.get("BASE_URL") or "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name, "description": text} for name, text in sorted(tags.items())],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of the workspace: crm_<prefix>_<...>.",
                }
            },
            "parameters": {
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    "description": f"Page size (default 50, at most {MAX_LIMIT}).",
                },
                "cursor": {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The next_cursor of the previous page.",
                },
            },
            "schemas": schemas,
            "responses": ERROR_RESPONSES,
        },
    }


@docs_bp.get("/openapi.json")
@api_public
def openapi_json() -> Any:
    """The OpenAPI 3.1 document of the API (public)."""
    return api_document()


def api_document() -> dict[str, Any]:
    """The app's OpenAPI document (built once: resources are fixed at start-up)."""
    document = current_app.extensions.get("crm_api_document")
    if document is None:
        document = current_app.extensions["crm_api_document"] = build_document()
    return document


@docs_bp.get("/docs")
@api_public
def docs() -> Any:
    """The API reference as a page: every endpoint of the OpenAPI document."""
    document = api_document()
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            params = [p for p in op.get("parameters", []) if "name" in p]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            groups.setdefault(op["tags"][0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "paged": any("$ref" in p for p in op.get("parameters", [])),
                    "request": _schema_label(body.get("schema")),
                    "responses": sorted(op["responses"]),
                }
            )
    return render_template("api/docs.html", document=document, groups=sorted(groups.items()))


def _schema_label(schema: Any) -> str:
    if not schema:
        return ""
    ref = schema.get("$ref", "")
    return ref.rpartition("/")[2] if ref else "object"
