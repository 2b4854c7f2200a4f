"""The column mapping: which spreadsheet column goes into which field of the import target.

A mapping is a list with one entry per column: a field name of the target, or ``None`` to
ignore the column. :func:`suggest` proposes one from the header cells (field names, their
labels in every language, and each target's aliases; custom fields by key and label);
columns it does not recognise are ignored. :func:`check_mapping` explains what is wrong with
a mapping, by form field (``col_<n>``, ``mapping``, ``dedupe``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _

from ..plugin_types import ImportTarget
from .models import DEDUPE_RULES
from .reading import column_name

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def header_key(text: str) -> str:
    """A header or label compared case-, width- and punctuation-blind (``E-mail`` = ``email``)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", str(text)).casefold())


def column_label(index: int, header: str) -> str:
    """How a column is named in messages: ``C “E-mail”`` (or just ``C`` with no header)."""
    letter = column_name(index)
    return f"{letter} “{header}”" if header else letter


def suggest(headers: Sequence[str], target: ImportTarget) -> list[str | None]:
    """A mapping guessed from ``headers``: each known name maps once, the rest is ignored."""
    index: dict[str, str] = {}
    for name, label in target.fields.items():
        variants = [name, str(label), *target.aliases.get(name, ())]
        if name.startswith("cf_"):
            variants.append(name[3:])
        for variant in variants:
            key = header_key(variant)
            if key:
                index.setdefault(key, name)
    taken: set[str] = set()
    out: list[str | None] = []
    for header in headers:
        field = index.get(header_key(header))
        if field is not None and field in taken:
            field = None
        if field is not None:
            taken.add(field)
        out.append(field)
    return out


def read_mapping(form: Any, width: int) -> list[str | None]:
    """The mapping submitted in ``form`` (``col_0`` ... ``col_<width-1>``; empty = ignore)."""
    return [(str(form.get(f"col_{i}", "")).strip() or None) for i in range(width)]


def check_mapping(
    mapping: Sequence[str | None], headers: Sequence[str], target: ImportTarget, dedupe: str
) -> dict[str, str]:
    """Problems of ``mapping`` by form field name; empty when it can be imported."""
    errors: dict[str, str] = {}
    if len(mapping) != len(headers):
        errors["mapping"] = _("The mapping does not fit the file's columns: map them again.")
        return errors
    used: dict[str, list[int]] = {}
    for i, field in enumerate(mapping):
        if field is None:
            continue
        if field not in target.fields:
            errors[f"col_{i}"] = _("Choose one of the listed fields.")
            continue
        used.setdefault(field, []).append(i)
    for field, columns in used.items():
        if len(columns) > 1:
            names = ", ".join(column_label(i, headers[i]) for i in columns)
            message = _(
                "Columns %(columns)s are all mapped to %(field)s: map only one of them and set "
                "the others to “Ignore”.",
                columns=names,
                field=target.fields[field],
            )
            for i in columns:
                errors[f"col_{i}"] = message
    if not used and not errors:
        errors["mapping"] = _("Map at least one column to a field.")
    missing = [
        str(target.fields[f]) for f in target.required if f in target.fields and f not in used
    ]
    if missing:
        errors["mapping"] = _(
            "Map a column to each required field: %(fields)s.", fields=", ".join(missing)
        )
    if target.dedupe_fields:
        if dedupe not in DEDUPE_RULES:
            errors["dedupe"] = _("Choose what to do with rows that match an existing record.")
        elif dedupe != "create" and not any(f in used for f in target.dedupe_fields):
            keys = " / ".join(str(target.fields[f]) for f in target.dedupe_fields)
            errors["dedupe"] = _(
                "To find existing records by %(keys)s, map a column to it, or choose to create "
                "new records anyway.",
                keys=keys,
            )
    return errors
