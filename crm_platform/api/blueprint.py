"""The core's API blueprints: resources under ``/api/v1`` and the public docs."""

from __future__ import annotations

from flask import Blueprint

#: Accounts, contacts, activities and custom fields (authenticated with an API key).
bp = Blueprint("api", __name__, url_prefix="/api/v1")
#: The OpenAPI document and its HTML page (public: they describe, they hold no data).
docs_bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
#: Resource names the core serves (plugins may not take them).
CORE_RESOURCES = frozenset({"accounts", "contacts", "activities", "custom-fields", "orders"})
RESERVED_NAMES = CORE_RESOURCES | {"openapi.json", "docs"}
