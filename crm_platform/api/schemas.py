"""The core's OpenAPI component schemas, derived from the records service's field lists."""

from __future__ import annotations

from typing import Any

from ..customers import LIFECYCLE_STAGES, SIZES, SOURCES
from ..orders import ORDER_SOURCES, ORDER_STATUSES
from ..records.activities import ACTIVITY_KINDS
from ..records.custom_fields import ENTITIES, FIELD_TYPES
from ..records.service import FIELDS

UUID = {"type": "string", "format": "uuid"}
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
CUSTOM_VALUES = {
    "type": "object",
    "description": "Custom field values by key (see /api/v1/custom-fields); null clears one.",
    "additionalProperties": {
        "type": ["string", "number", "boolean", "array", "null"],
        "items": {"type": "string"},
    },
}


def _choice(values: tuple[str, ...], nullable: bool = True) -> dict[str, Any]:
    if nullable:
        return {"type": ["string", "null"], "enum": [*values, None]}
    return {"type": "string", "enum": list(values)}


def _field(name: str) -> dict[str, Any]:
    if name == "tags":
        return {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 20}
    if name in ("birthday", "anniversary"):
        return NULLABLE_DATE
    if name.endswith("_id"):
        return NULLABLE_UUID
    if name == "email":
        return {"type": ["string", "null"], "format": "email"}
    if name == "lifecycle_stage":
        return _choice(LIFECYCLE_STAGES, nullable=False)
    if name == "size":
        return _choice(SIZES)
    if name == "source":
        return _choice(SOURCES)
    if name in ("name", "first_name"):
        return {"type": "string"}
    return {"type": ["string", "null"]}


def _record_schemas(kind: str, title: str) -> dict[str, dict[str, Any]]:
    specs = FIELDS[kind]
    fields = {spec.name: _field(spec.name) for spec in specs}
    required = [spec.name for spec in specs if spec.required]
    read: dict[str, Any] = {"id": UUID, "object": {"const": kind}}
    if kind == "contact":
        read["full_name"] = {"type": "string"}
    read.update(fields)
    read.update(custom=CUSTOM_VALUES, created_at=TIMESTAMP, updated_at=TIMESTAMP)
    writable = {**fields, "custom": CUSTOM_VALUES}
    return {
        title: {
            "type": "object",
            "required": ["id", "object", *required, "tags", "custom", "created_at"],
            "properties": read,
        },
        f"{title}Input": {"type": "object", "required": required, "properties": writable},
        f"{title}Patch": {"type": "object", "properties": writable},
    }


def _activity_schemas() -> dict[str, dict[str, Any]]:
    writable = {
        "kind": _choice(ACTIVITY_KINDS, nullable=False),
        "subject": {"type": "string", "maxLength": 200},
        "body": {"type": ["string", "null"]},
        "due_date": NULLABLE_DATE,
        "owner_id": NULLABLE_UUID,
        "done": {"type": "boolean"},
    }
    read = {
        "id": UUID,
        "object": {"const": "activity"},
        **writable,
        "done_at": {"type": ["string", "null"], "format": "date-time"},
        "created_by_id": NULLABLE_UUID,
        "account_id": NULLABLE_UUID,
        "contact_id": NULLABLE_UUID,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }
    return {
        "Activity": {"type": "object", "required": ["id", "object", "kind"], "properties": read},
        "ActivityInput": {"type": "object", "required": ["subject"], "properties": writable},
        "ActivityPatch": {"type": "object", "properties": writable},
    }


def _order_schemas() -> dict[str, dict[str, Any]]:
    amount = {"type": ["string", "number"], "description": 'A decimal amount, e.g. "19.90".'}
    line = {
        "type": "object",
        "required": ["product_name", "unit_price"],
        "properties": {
            "product_name": {"type": "string", "maxLength": 200},
            "sku": {"type": ["string", "null"], "maxLength": 80},
            "quantity": {**amount, "description": "Default 1."},
            "unit_price": amount,
            "discount": {**amount, "description": "An amount off the line, default 0."},
            "tax": {**amount, "description": "Tax on the line, default 0."},
        },
    }
    writable = {
        "number": {"type": ["string", "null"], "maxLength": 40},
        "contact_id": NULLABLE_UUID,
        "account_id": NULLABLE_UUID,
        "ordered_at": {"type": ["string", "null"], "format": "date-time"},
        "status": _choice(ORDER_STATUSES, nullable=False),
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "total": {**amount, "description": "Required without lines; else the lines' sum."},
        "external_ref": {"type": ["string", "null"], "maxLength": 100},
        "notes": {"type": ["string", "null"]},
        "lines": {"type": "array", "items": line, "maxItems": 200},
    }
    read_line = {
        **line,
        "properties": {**line["properties"], "amount": {"type": "string", "readOnly": True}},
    }
    read = {
        "id": UUID,
        "object": {"const": "order"},
        **writable,
        "total": {"type": "string"},
        "lines": {"type": "array", "items": read_line},
        "source": {"type": "string", "enum": list(ORDER_SOURCES)},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    }
    return {
        "Order": {
            "type": "object",
            "required": ["id", "object", "number", "ordered_at", "status", "total", "lines"],
            "properties": read,
        },
        "OrderInput": {"type": "object", "properties": writable},
        "OrderPatch": {"type": "object", "properties": writable},
    }


ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "A machine code, e.g. not_found."},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "A message per bad field (custom fields as custom.<key>).",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}

CUSTOM_FIELD = {
    "type": "object",
    "required": ["id", "object", "entity", "key", "label", "type"],
    "properties": {
        "id": UUID,
        "object": {"const": "custom_field"},
        "entity": {"type": "string", "enum": list(ENTITIES)},
        "key": {"type": "string"},
        "label": {"type": "string"},
        "type": {"type": "string", "enum": list(FIELD_TYPES)},
        "choices": {"type": "array", "items": {"type": "string"}},
        "required": {"type": "boolean"},
        "position": {"type": "integer"},
    },
}


def core_schemas() -> dict[str, dict[str, Any]]:
    """Every component schema of the core resources, and ``Error``."""
    return {
        **_record_schemas("account", "Account"),
        **_record_schemas("contact", "Contact"),
        **_activity_schemas(),
        **_order_schemas(),
        "CustomField": CUSTOM_FIELD,
        "Error": ERROR,
    }
