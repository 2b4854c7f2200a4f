"""Merging two duplicate records into one.

The survivor keeps its id. For every field where both records hold different values the user
picks the one that wins (``survivor`` or ``other``); a value only one of them has is kept;
tags are united; custom values follow the same rules (archived fields' values are kept).
Activities of the other record move to the survivor (and, for accounts, its contacts); the
other record goes to the trash with ``merged_into_id`` set, and ``<kind>.merged`` is emitted,
all in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import update

from .. import audit
from ..customers import Account, Contact
from ..extensions import db
from ..modules import emit_event
from ..provisioning import ValidationFailed
from ..tenancy import utcnow
from .activities import Activity
from .custom_fields import display_value, fields_of
from .labels import SIZE_LABELS, SOURCE_LABELS, STAGE_LABELS
from .service import FIELDS, kind_of
from .tags import split_tags

#: Fields merged by union rather than by choice.
_UNITED = ("tags",)
CHOICES = ("survivor", "other")


@dataclass(frozen=True)
class MergeField:
    """One field of the merge screen: both values and whether the user must choose."""

    name: str
    label: Any
    survivor: Any
    other: Any
    survivor_text: str
    other_text: str

    @property
    def conflict(self) -> bool:
        """Both records hold a value, and they differ."""
        return _has(self.survivor) and _has(self.other) and self.survivor != self.other


def _has(value: Any) -> bool:
    return value not in (None, "", [], {})


_VALUE_LABELS = {"lifecycle_stage": STAGE_LABELS, "source": SOURCE_LABELS, "size": SIZE_LABELS}


def _text(name: str, value: Any, record: Any) -> str:
    if value is None or value == "":
        return ""
    if name in _VALUE_LABELS:
        return str(_VALUE_LABELS[name].get(value, value))
    if name == "owner_id":
        return record.owner.name if record.owner else str(value)
    if name == "team_id":
        return record.team.name if record.team else str(value)
    if name == "account_id":
        return record.account.name if record.account else str(value)
    return str(value)


def merge_fields(survivor: Any, other: Any) -> list[MergeField]:
    """The fields of the merge screen (standard, then active custom fields)."""
    kind = kind_of(survivor)
    out: list[MergeField] = []
    for spec in FIELDS[kind]:
        if spec.name in _UNITED:
            continue
        a, b = getattr(survivor, spec.name), getattr(other, spec.name)
        out.append(
            MergeField(
                spec.name,
                spec.label,
                a,
                b,
                _text(spec.name, a, survivor),
                _text(spec.name, b, other),
            )
        )
    for f in fields_of(kind):
        a, b = (survivor.custom or {}).get(f.key), (other.custom or {}).get(f.key)
        out.append(MergeField(f.form_name, f.label, a, b, display_value(f, a), display_value(f, b)))
    return out


def merge_records(
    survivor: Any, other: Any, choices: Mapping[str, str], *, actor: Any = None
) -> list[str]:
    """Merge ``other`` into ``survivor``; returns the fields that took ``other``'s value.

    ``choices`` maps each conflicting field's name to ``survivor`` or ``other``; a missing or
    unknown choice raises :class:`ValidationFailed` (nothing is written). Caller commits.
    """
    kind = kind_of(survivor)
    if type(other) is not type(survivor) or other.id == survivor.id:
        raise ValidationFailed({"other": _("Choose two different records of the same kind.")})
    if survivor.deleted_at is not None or other.deleted_at is not None:
        raise ValidationFailed({"other": _("Records in the trash cannot be merged.")})
    fields = merge_fields(survivor, other)
    errors: dict[str, str] = {}
    taken: list[str] = []
    for f in fields:
        if f.conflict:
            choice = choices.get(f.name)
            if choice not in CHOICES:
                errors[f.name] = _("Choose which value to keep.")
            elif choice == "other":
                taken.append(f.name)
        elif not _has(f.survivor) and _has(f.other):
            taken.append(f.name)
    if errors:
        raise ValidationFailed(errors)

    custom = dict(other.custom or {})
    custom.update(survivor.custom or {})  # archived fields: the survivor's value, else other's
    by_name = {f.name: f for f in fields}
    for name in taken:
        if name.startswith("cf_"):
            custom[name[3:]] = by_name[name].other
        else:
            setattr(survivor, name, by_name[name].other)
    for f in fields:
        if f.name.startswith("cf_") and f.name not in taken and _has(f.survivor):
            custom[f.name[3:]] = f.survivor
    survivor.custom = custom
    survivor.tags = split_tags(list(survivor.tags or []) + list(other.tags or []))
    survivor.updated_at = utcnow()

    column = Activity.account_id if kind == "account" else Activity.contact_id
    moved = db.session.execute(
        update(Activity).where(column == other.id).values({column.key: survivor.id})
    ).rowcount
    if isinstance(survivor, Account):
        db.session.execute(
            update(Contact).where(Contact.account_id == other.id).values(account_id=survivor.id)
        )
    other.deleted_at = utcnow()
    other.merged_into_id = survivor.id
    db.session.flush()
    details = {"survivor": str(survivor.id), "merged": str(other.id), "took": taken}
    audit.record(f"{kind}.merged", target=(survivor.display_name or "")[:254], details=details)
    emit_event(
        f"{kind}.merged",
        record_id=survivor.id,
        data={**details, "activities_moved": moved},
        actor=actor,
    )
    return taken
