"""JSON forms of records, activities and custom-field definitions, and input type checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from flask import g

from ..extensions import db
from ..records.activities import Activity
from ..records.custom_fields import CustomField, fields_of
from ..records.service import FIELDS, kind_of
from ..tenancy import require_tenant
from ..tenant_cache import cached, detached
from .errors import validation_error

#: Fields the API shows but ignores on input (clients may send back what they read).
READ_ONLY = frozenset({"id", "object", "created_at", "updated_at", "full_name"})
LIST_FIELDS = frozenset({"tags"})


def json_value(value: Any) -> Any:
    """A column value as JSON (UUIDs as strings, dates as ISO 8601)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def active_fields(kind: str) -> list[CustomField]:
    """The active custom fields of ``kind`` (read once per request)."""
    cache = g.setdefault("crm_api_fields", {})
    if kind not in cache:
        cache[kind] = cached(
            require_tenant().id, f"fields:{kind}", lambda: detached(db.session, fields_of(kind))
        )
    return cache[kind]


_NAMES = {kind: tuple(spec.name for spec in specs) for kind, specs in FIELDS.items()}
#: Column values JSON takes as they are.
_PLAIN = (str, int, float, bool, type(None))


def record_json(record: Any, custom_keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An account or contact as the API shows it (``custom_keys``: the active custom fields'
    keys, when the caller serialises many records of one kind)."""
    kind = kind_of(record)
    out: dict[str, Any] = {"id": str(record.id), "object": kind}
    if kind == "contact":
        out["full_name"] = record.full_name
    values = record.__dict__
    for name in _NAMES[kind]:
        value = values[name] if name in values else getattr(record, name)
        out[name] = value if isinstance(value, _PLAIN) else json_value(value)
    out["tags"] = list(record.tags or [])
    custom = record.custom or {}
    if custom_keys is None:
        custom_keys = tuple(f.key for f in active_fields(kind))
    out["custom"] = {key: custom[key] for key in custom_keys if key in custom}
    out["created_at"] = json_value(record.created_at)
    out["updated_at"] = json_value(record.updated_at)
    return out


def records_json(kind: str, records: Iterable[Any]) -> list[dict[str, Any]]:
    """Many accounts or contacts (all of ``kind``) as the API shows them."""
    keys = tuple(f.key for f in active_fields(kind))
    return [record_json(record, keys) for record in records]


def activity_json(activity: Activity) -> dict[str, Any]:
    """An activity as the API shows it."""
    names = (
        "kind",
        "subject",
        "body",
        "due_date",
        "done",
        "done_at",
        "owner_id",
        "created_by_id",
        "account_id",
        "contact_id",
        "created_at",
        "updated_at",
    )
    out: dict[str, Any] = {"id": str(activity.id), "object": "activity"}
    out.update({name: json_value(getattr(activity, name)) for name in names})
    return out


def field_json(field: CustomField) -> dict[str, Any]:
    """A custom-field definition as the API shows it."""
    return {
        "id": str(field.id),
        "object": "custom_field",
        "entity": field.entity,
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "choices": list(field.choices or []),
        "required": bool(field.required),
        "position": field.position,
    }


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def record_input(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` checked for names and JSON types, ready for the records service.

    Raises a 400 ``validation_failed`` naming unknown fields and values of the wrong type;
    custom values go under ``custom`` by key (errors as ``custom.<key>``).
    """
    names = {spec.name for spec in FIELDS[kind]}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in body.items():
        if name in READ_ONLY:
            continue
        if name == "custom":
            if not isinstance(value, dict):
                errors["custom"] = "Expected an object of custom field values by key."
                continue
            keys = {f.key for f in active_fields(kind)}
            for key, item in value.items():
                if key not in keys:
                    errors[f"custom.{key}"] = "Unknown custom field."
                elif not (_scalar(item) or _string_list(item)):
                    errors[f"custom.{key}"] = "Expected a string, number, boolean or list."
            data["custom"] = dict(value)
        elif name not in names:
            errors[name] = "Unknown field."
        elif name in LIST_FIELDS:
            if value is not None and not _string_list(value):
                errors[name] = "Expected a list of strings."
            else:
                data[name] = list(value or [])
        elif value is not None and not isinstance(value, str):
            errors[name] = "Expected a string or null."
        else:
            data[name] = value
    if errors:
        raise validation_error(errors)
    return data


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def api_fields(errors: Mapping[str, str]) -> dict[str, str]:
    """Service errors by API field name (``cf_<key>`` becomes ``custom.<key>``)."""
    return {
        (f"custom.{name[3:]}" if name.startswith("cf_") else name): str(message)
        for name, message in errors.items()
    }
