"""Custom fields a tenant admin defines per entity; values live in each record's ``custom``.

A field has a stable ``key`` (what the values are stored under), a ``label`` people see (free
to rename), a ``type`` (fixed once created) and, for choice types, its ``choices``. Deleting a
field that records use archives it: the values stay in the records, out of sight, and come
back when the field is restored. Empty values are not stored (an unticked checkbox neither).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Base, db
from ..tenancy import TenantScoped, utcnow
from ..tenant_cache import watch

ENTITIES = ("account", "contact")
ENTITY_LABELS = {"account": _l("Accounts"), "contact": _l("Contacts")}
FIELD_TYPES = ("text", "number", "date", "choice", "multi_choice", "checkbox")
TYPE_LABELS = {
    "text": _l("Text"),
    "number": _l("Number"),
    "date": _l("Date"),
    "choice": _l("Choice"),
    "multi_choice": _l("Multiple choice"),
    "checkbox": _l("Checkbox"),
}
CHOICE_TYPES = ("choice", "multi_choice")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 50
MAX_CHOICES = 50
MAX_CHOICE_LENGTH = 100
MAX_TEXT = 500
MAX_NUMBER = Decimal("1e15")


class CustomField(TenantScoped, Base):
    """One custom field of accounts or contacts."""

    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("tenant_id", "entity", "key"),)

    entity: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def form_name(self) -> str:
        """The name of this field in record forms and list filters."""
        return f"cf_{self.key}"

    @property
    def type_label(self) -> Any:
        """The translated name of the field's type."""
        return TYPE_LABELS.get(self.type, self.type)


watch(CustomField)


def fields_of(entity: str, *, archived: bool = False) -> list[CustomField]:
    """The active (or the archived) custom fields of ``entity``, in position order."""
    stmt = select(CustomField).where(CustomField.entity == entity)
    if archived:
        stmt = stmt.where(CustomField.archived_at.is_not(None))
    else:
        stmt = stmt.where(CustomField.archived_at.is_(None))
    return list(db.session.scalars(stmt.order_by(CustomField.position, CustomField.label)))


# --------------------------------------------------------------------------- values


def _empty(raw: Any) -> bool:
    if raw is None or raw is False:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple | set):
        return not any(str(v).strip() for v in raw)
    return False


def clean_value(field: CustomField, raw: Any) -> Any:
    """The stored form of ``raw`` for ``field``; ``None`` means "no value".

    Raises ``ValueError`` with a message for people when ``raw`` does not fit the type.
    """
    kind = field.type
    if kind == "checkbox":
        if isinstance(raw, str):
            return True if raw.strip().lower() in ("y", "yes", "on", "true", "1") else None
        return True if raw else None
    if _empty(raw):
        return None
    if kind == "text":
        value = " ".join(str(raw).split()) if "\n" not in str(raw) else str(raw).strip()
        if len(value) > MAX_TEXT:
            raise ValueError(_("Use at most %(num)d characters.", num=MAX_TEXT))
        return value
    if kind == "number":
        return _number(raw)
    if kind == "date":
        return _date(raw).isoformat()
    if kind == "choice":
        value = str(raw).strip()
        if value not in field.choices:
            raise ValueError(_("Choose one of the listed options."))
        return value
    if kind == "multi_choice":
        values = [raw] if isinstance(raw, str) else list(raw)
        picked = [str(v).strip() for v in values if str(v).strip()]
        unknown = [v for v in picked if v not in field.choices]
        if unknown:
            raise ValueError(_("Not an option: %(values)s.", values=", ".join(unknown)))
        return [c for c in field.choices if c in picked] or None
    raise ValueError(_("Unknown field type."))


def _number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise ValueError(_("Enter a number, e.g. 42 or 3.5."))
    text_value = str(raw).strip().replace(",", "").replace(" ", "")
    try:
        number = Decimal(text_value)
    except InvalidOperation as exc:
        raise ValueError(_("Enter a number, e.g. 42 or 3.5.")) from exc
    if not number.is_finite() or abs(number) >= MAX_NUMBER:
        raise ValueError(_("Enter a number, e.g. 42 or 3.5."))
    if number == number.to_integral_value():
        return int(number)
    value = float(number)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(_("Enter a number, e.g. 42 or 3.5."))
    return value


def _date(raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc


def clean_values(
    fields: Iterable[CustomField], raw: Mapping[str, Any], existing: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """New ``custom`` values from ``raw`` (by field key) and errors by form field name.

    Values of keys that are not among ``fields`` (archived fields) are kept as they were.
    """
    fields = list(fields)
    values = {k: v for k, v in (existing or {}).items() if k not in {f.key for f in fields}}
    errors: dict[str, str] = {}
    for field in fields:
        try:
            value = clean_value(field, raw.get(field.key))
        except ValueError as exc:
            errors[field.form_name] = str(exc)
            continue
        if value is None:
            if field.required and field.type != "checkbox":
                errors[field.form_name] = _("%(label)s is required.", label=field.label)
            continue
        values[field.key] = value
    return values, errors


def display_value(field: CustomField, value: Any) -> str:
    """A stored value as a line of text."""
    if value is None:
        return ""
    if field.type == "checkbox":
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def form_value(field: CustomField, value: Any) -> Any:
    """A stored value as a form field's initial data."""
    if field.type == "checkbox":
        return bool(value)
    if field.type == "multi_choice":
        return list(value or [])
    return "" if value is None else str(value)


# --------------------------------------------------------------------------- admin


def slug_key(label: str, taken: Iterable[str]) -> str:
    """A new key from ``label`` (ASCII letters, digits, ``_``), unique among ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:30]
    if not base or not base[0].isalpha():
        base = f"field_{base}".rstrip("_")[:30]
    taken = set(taken)
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def parse_choices(text_value: str | None) -> list[str]:
    """Choices from a textarea: one a line, trimmed, without repeats."""
    out: list[str] = []
    for line in (text_value or "").splitlines():
        choice = " ".join(line.split())
        if choice and choice not in out:
            out.append(choice)
    return out


def check_definition(
    entity: str,
    label: str,
    type_: str,
    choices: list[str],
    required: bool,
    *,
    key: str | None = None,
    field: CustomField | None = None,
) -> dict[str, str]:
    """Errors of a field definition by form field name (empty when all is well)."""
    errors: dict[str, str] = {}
    if entity not in ENTITIES:
        errors["entity"] = _("Choose accounts or contacts.")
    if not label.strip():
        errors["label"] = _("Enter a label.")
    elif len(label.strip()) > 100:
        errors["label"] = _("Use at most %(num)d characters.", num=100)
    if field is None:
        if type_ not in FIELD_TYPES:
            errors["type"] = _("Choose a field type.")
        if key is not None and not KEY_RE.match(key):
            errors["key"] = _("Use 1-40 lowercase letters, digits or '_', starting with a letter.")
        elif key is not None and _key_taken(entity, key):
            errors["key"] = _("Another field (perhaps an archived one) already uses this key.")
        active = db.session.scalar(
            select(func.count())
            .select_from(CustomField)
            .where(CustomField.entity == entity, CustomField.archived_at.is_(None))
        )
        if active >= MAX_FIELDS:
            errors["label"] = _("A record type can have at most %(num)d fields.", num=MAX_FIELDS)
    if type_ in CHOICE_TYPES:
        if not choices:
            errors["choices"] = _("Enter at least one option, one a line.")
        elif len(choices) > MAX_CHOICES:
            errors["choices"] = _("Use at most %(num)d options.", num=MAX_CHOICES)
        elif any(len(c) > MAX_CHOICE_LENGTH for c in choices):
            errors["choices"] = _(
                "Each option can have at most %(num)d characters.", num=MAX_CHOICE_LENGTH
            )
    if required and type_ == "checkbox":
        errors["required"] = _("A checkbox cannot be required.")
    return errors


def create_field(
    entity: str,
    label: str,
    type_: str,
    *,
    choices: Iterable[str] = (),
    required: bool = False,
    key: str | None = None,
) -> CustomField:
    """Validate and add a custom field of ``entity`` (audited); raises ``ValidationFailed``.

    ``key`` defaults to one made from the label. The caller commits.
    """
    from .. import audit
    from ..provisioning import ValidationFailed

    label = " ".join((label or "").split())
    choices = list(choices) if type_ in CHOICE_TYPES else []
    errors = check_definition(entity, label, type_, choices, required, key=key or None)
    if errors:
        raise ValidationFailed(errors)
    taken = db.session.scalars(select(CustomField.key).where(CustomField.entity == entity))
    field = CustomField(
        entity=entity,
        key=key or slug_key(label, taken),
        label=label,
        type=type_,
        choices=choices,
        required=required,
        position=next_position(entity),
    )
    db.session.add(field)
    audit.record(
        "custom_field.created",
        target=f"{entity}.{field.key}",
        details={"label": label, "type": field.type},
    )
    return field


def _key_taken(entity: str, key: str) -> bool:
    stmt = select(CustomField.id).where(CustomField.entity == entity, CustomField.key == key)
    return db.session.scalar(stmt) is not None


def records_using(field: CustomField) -> int:
    """How many records (live or in the trash) hold a value for ``field``."""
    from ..customers import RECORD_MODELS

    model = RECORD_MODELS[field.entity]
    stmt = (
        select(func.count())
        .select_from(model)
        .where(model.custom[field.key].as_string().is_not(None))
    )
    return db.session.scalar(stmt) or 0


def next_position(entity: str) -> int:
    """The position after the last field of ``entity``."""
    stmt = select(func.max(CustomField.position)).where(CustomField.entity == entity)
    return (db.session.scalar(stmt) or 0) + 1
