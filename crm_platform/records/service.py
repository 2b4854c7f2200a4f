"""Writing customer records: validate every field first, then write, emit events.

``create_record``, ``update_record``, ``delete_record`` and ``restore_record`` are the one path
pages, imports and the API share. Input is a mapping of raw values by field name (custom field
values under ``"custom"``, by key); a bad value raises :class:`ValidationFailed` with one
message per field (custom fields as ``cf_<key>``) and nothing is written. The caller commits,
so the record, its tags, the audit entry and whatever plugins write on the domain event land
in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .. import audit
from ..customers import LIFECYCLE_STAGES, RECORD_MODELS, SIZES, SOURCES, Account, Contact
from ..extensions import db
from ..identity import Membership
from ..ids import parse_uuid
from ..modules import emit_event
from ..policy import check_record_limit
from ..provisioning import ValidationFailed
from ..tenancy import utcnow
from . import custom_fields
from .tags import MAX_TAG_LENGTH, MAX_TAGS, split_tags
from .teams import Team
from .validation import (
    clean_choice,
    clean_date,
    clean_email,
    clean_text,
    clean_website,
    normalise_phone,
)
from .visibility import get_visible_or_404, visible_clause

Cleaner = Callable[[Any], Any]


@dataclass(frozen=True)
class FieldSpec:
    """A standard field of a record: its label and how a raw value is cleaned."""

    name: str
    label: Any
    clean: Cleaner
    required: bool = False


def _required_text(max_length: int, value: Any) -> str:
    text_value = clean_text(value, max_length)
    if text_value is None:
        raise ValueError(_("This field is required."))
    return text_value


def _tags(value: Any) -> list[str]:
    tags = split_tags(value)
    if len(tags) > MAX_TAGS:
        raise ValueError(_("Use at most %(num)d tags.", num=MAX_TAGS))
    if any(len(t) > MAX_TAG_LENGTH for t in tags):
        raise ValueError(_("A tag can have at most %(num)d characters.", num=MAX_TAG_LENGTH))
    return tags


def _member(value: Any, known: frozenset[uuid.UUID] | None = None) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    uid = parse_uuid(value)
    if known is not None:
        found = uid in known
    else:
        stmt = select(Membership.user_id).where(Membership.user_id == uid)
        found = uid is not None and db.session.scalar(stmt) is not None
    if not found:
        raise ValueError(_("Choose a member of this workspace."))
    return uid


def _team(value: Any, known: frozenset[uuid.UUID] | None = None) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    tid = parse_uuid(value)
    if known is not None:
        found = tid in known
    else:
        found = tid is not None and db.session.scalar(select(Team.id).where(Team.id == tid))
    if not found:
        raise ValueError(_("Choose one of the teams."))
    return tid


def _stage(default: str, value: Any) -> str:
    return clean_choice(value or default, LIFECYCLE_STAGES, required=True)  # type: ignore[return-value]


_COMMON = (
    FieldSpec("email", _l("E-mail"), clean_email),
    FieldSpec("phone", _l("Phone"), normalise_phone),
    FieldSpec("region", _l("Region"), partial(clean_text, max_length=80)),
    FieldSpec("address", _l("Address"), partial(clean_text, max_length=500, multiline=True)),
    FieldSpec("source", _l("Source"), partial(clean_choice, choices=SOURCES)),
    FieldSpec("owner_id", _l("Owner"), _member),
    FieldSpec("team_id", _l("Team"), _team),
    FieldSpec("tags", _l("Tags"), _tags),
    FieldSpec("notes", _l("Notes"), partial(clean_text, max_length=10000, multiline=True)),
)

ACCOUNT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", _l("Company name"), partial(_required_text, 200), required=True),
    FieldSpec("industry", _l("Industry"), partial(clean_text, max_length=80)),
    FieldSpec("size", _l("Size"), partial(clean_choice, choices=SIZES)),
    FieldSpec("website", _l("Website"), clean_website),
    FieldSpec("lifecycle_stage", _l("Lifecycle stage"), partial(_stage, "prospect")),
    *_COMMON,
)

CONTACT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("first_name", _l("First name"), partial(_required_text, 100), required=True),
    FieldSpec("last_name", _l("Last name"), partial(clean_text, max_length=100)),
    FieldSpec("title", _l("Job title"), partial(clean_text, max_length=120)),
    FieldSpec("account_id", _l("Account"), lambda v: v),  # checked in _check_account
    FieldSpec("lifecycle_stage", _l("Lifecycle stage"), partial(_stage, "lead")),
    *_COMMON,
    FieldSpec("birthday", _l("Birthday"), clean_date),
    FieldSpec("anniversary", _l("Anniversary"), clean_date),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {"account": ACCOUNT_FIELDS, "contact": CONTACT_FIELDS}


def kind_of(record: Any) -> str:
    """``"account"`` or ``"contact"``."""
    return type(record).__crm_kind__


@dataclass
class CheckContext:
    """What :func:`check_values` would otherwise query for every record, fetched once.

    Bulk writers (imports) build one with :func:`check_context` and pass it to each
    ``check_values`` call, which then runs no query at all: ``account_ids`` holds the ids of
    the live accounts the member may see that the caller has looked up (in batches).
    """

    custom_fields: list[Any]
    member_ids: frozenset[uuid.UUID]
    team_ids: frozenset[uuid.UUID]
    account_ids: set[uuid.UUID]


def check_context(kind: str) -> CheckContext:
    """A :class:`CheckContext` for ``kind`` records (accounts to be added by the caller)."""
    return CheckContext(
        custom_fields=custom_fields.fields_of(kind),
        member_ids=frozenset(db.session.scalars(select(Membership.user_id))),
        team_ids=frozenset(db.session.scalars(select(Team.id))),
        account_ids=set(),
    )


def _check_account(value: Any, membership: Any, context: CheckContext | None = None) -> Any:
    if value in (None, ""):
        return None
    aid = parse_uuid(value)
    if context is not None:
        if aid is None or aid not in context.account_ids:
            raise ValueError(_("Choose one of the accounts."))
        return aid
    stmt = select(Account.id).where(Account.id == aid, Account.deleted_at.is_(None))
    clause = visible_clause(Account, membership) if membership is not None else None
    if clause is not None:
        stmt = stmt.where(clause)
    if aid is None or db.session.scalar(stmt) is None:
        raise ValueError(_("Choose one of the accounts."))
    return aid


#: Raw values whose cleaning :func:`check_values` may remember (hashable, immutable).
_MEMO_TYPES = frozenset({str, type(None), int, float, bool, uuid.UUID})


def _clean_field(
    spec: FieldSpec, raw: Any, membership: Any, context: CheckContext | None
) -> tuple[bool, Any]:
    """(True, the cleaned value) or (False, the error message) of one standard field."""
    try:
        if spec.name == "account_id":
            return True, _check_account(raw, membership, context)
        if context is not None and spec.name == "owner_id":
            return True, _member(raw, context.member_ids)
        if context is not None and spec.name == "team_id":
            return True, _team(raw, context.team_ids)
        return True, spec.clean(raw)
    except ValueError as exc:
        return False, str(exc)


def check_values(
    kind: str,
    data: Mapping[str, Any],
    *,
    record: Any = None,
    membership: Any = None,
    context: CheckContext | None = None,
    memo: dict[Any, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Clean ``data`` for a new record or an update: (standard values, custom values).

    On an update only the fields present in ``data`` change. Raises ``ValidationFailed``.
    With a ``context`` (see :func:`check_context`) it runs no query: a pure per-row check.
    ``memo`` (an empty dict the caller keeps for calls with the same ``context``) remembers
    each field's outcome by raw value, so bulk checks clean each distinct value once.
    """
    if memo is not None and context is None:
        raise TypeError("check_values: a memo needs a context")
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for spec in FIELDS[kind]:
        name = spec.name
        if record is not None and name not in data:
            continue
        raw = data.get(name)
        if memo is None or raw.__class__ not in _MEMO_TYPES:
            ok, value = _clean_field(spec, raw, membership, context)
        else:
            key = (name, raw)
            outcome = memo.get(key)
            if outcome is None:
                outcome = _clean_field(spec, raw, membership, context)
                # An account refused now may be looked up (and allowed) for a later row.
                if outcome[0] or name != "account_id":
                    memo[key] = outcome
            ok, value = outcome
            if value.__class__ is list:
                value = list(value)
        if ok:
            values[name] = value
        else:
            errors[name] = value
    if kind == "contact" and "last_name" in values and values["last_name"] is None:
        values["last_name"] = ""
    fields = context.custom_fields if context is not None else custom_fields.fields_of(kind)
    existing = dict(record.custom or {}) if record is not None else {}
    raw_custom = {f.key: existing.get(f.key) for f in fields}
    raw_custom.update(data.get("custom") or {})
    items = tuple(raw_custom.items())
    if (
        memo is None
        or record is not None
        or not _MEMO_TYPES.issuperset(map(type, raw_custom.values()))
    ):
        custom, custom_errors = custom_fields.clean_values(fields, raw_custom, existing)
    else:
        key = ("custom", items)
        outcome = memo.get(key)
        if outcome is None:
            outcome = memo[key] = custom_fields.clean_values(fields, raw_custom, existing)
        custom, custom_errors = dict(outcome[0]), outcome[1]
    errors.update(custom_errors)
    if errors:
        raise ValidationFailed(errors)
    return values, custom


def check_many(
    kind: str, rows: Sequence[Mapping[str, Any]], *, context: CheckContext, memo: dict[Any, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]] | dict[str, str]]:
    """:func:`check_values` of many new records at once: per row, (values, custom) or its
    errors by field. The same checks, run a field at a time over all the rows (``memo`` as
    for :func:`check_values`, shared with its calls), which is several times quicker."""
    get, specs, count = memo.get, FIELDS[kind], len(rows)
    names = [spec.name for spec in specs]
    present = set().union(*rows)
    columns = []
    for spec in specs:
        name = spec.name
        if name not in present:  # the same outcome for every row
            columns.append([get((name, None)) or _remember(memo, spec, None, context)] * count)
            continue
        raws = [data.get(name) for data in rows]
        try:
            outcomes = [get((name, raw)) for raw in raws]
        except TypeError:  # an unhashable value (a list)
            outcomes = [None] * count
        if None in outcomes:
            for i in [i for i, outcome in enumerate(outcomes) if outcome is None]:
                outcomes[i] = _remember(memo, spec, raws[i], context)
        columns.append(outcomes)
    fields = context.custom_fields
    out: list[tuple[dict[str, Any], dict[str, Any]] | dict[str, str]] = []
    for data, outcomes in zip(rows, zip(*columns, strict=True), strict=True):
        custom, custom_errors = _custom_outcome(fields, data, memo)
        if custom_errors or not all(map(_ok, outcomes)):
            errors = {n: o[1] for n, o in zip(names, outcomes, strict=True) if not o[0]}
            errors.update(custom_errors)
            out.append(errors)
            continue
        values = dict(zip(names, map(_value, outcomes), strict=True))
        if values.get("tags"):
            values["tags"] = list(values["tags"])
        if kind == "contact" and values["last_name"] is None:
            values["last_name"] = ""
        out.append((values, custom))
    return out


_ok, _value = itemgetter(0), itemgetter(1)


def _remember(
    memo: dict[Any, Any], spec: FieldSpec, raw: Any, context: CheckContext
) -> tuple[bool, Any]:
    outcome = _clean_field(spec, raw, None, context)
    # An account refused now may be looked up (and allowed) for a later row.
    if raw.__class__ in _MEMO_TYPES and (outcome[0] or spec.name != "account_id"):
        memo[spec.name, raw] = outcome
    return outcome


def _custom_outcome(
    fields: list[Any], data: Mapping[str, Any], memo: dict[Any, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A new record's custom values and errors (remembered by raw values in ``memo``)."""
    raw_custom = {f.key: None for f in fields}
    raw_custom.update(data.get("custom") or {})
    if not _MEMO_TYPES.issuperset(map(type, raw_custom.values())):
        return custom_fields.clean_values(fields, raw_custom, {})
    key = ("custom", tuple(raw_custom.items()))
    outcome = memo.get(key)
    if outcome is None:
        outcome = memo[key] = custom_fields.clean_values(fields, raw_custom, {})
    return dict(outcome[0]), outcome[1]


def _label(record: Any) -> str:
    return (record.display_name or "")[:254]


def record_count(kind: str) -> int:
    """How many accounts or contacts the tenant has (the trash included)."""
    return db.session.scalar(select(func.count()).select_from(RECORD_MODELS[kind])) or 0


def record_label(kind: str) -> str:
    """``accounts`` or ``contacts``, translated (for messages)."""
    return str(_("accounts") if kind == "account" else _("contacts"))


def create_record(
    kind: str, data: Mapping[str, Any], *, actor: Any = None, membership: Any = None
) -> Account | Contact:
    """Validate and add a new account or contact; emits ``<kind>.created``. Caller commits.

    Raises ``ValidationFailed`` for bad values, or (field ``limit``) past the plan's limit.
    """
    values, custom = check_values(kind, data, membership=membership)
    check_record_limit(f"{kind}s", partial(record_count, kind), label=record_label(kind))
    if values.get("owner_id") is None and "owner_id" not in data and actor is not None:
        values["owner_id"] = _member_or_none(actor)
    record = RECORD_MODELS[kind](**values, custom=custom)
    db.session.add(record)
    db.session.flush()
    emit_event(
        f"{kind}.created", record_id=record.id, data={"name": record.display_name}, actor=actor
    )
    return record


def _member_or_none(actor: Any) -> uuid.UUID | None:
    uid = getattr(actor, "id", None)
    if uid is None:
        return None
    return db.session.scalar(select(Membership.user_id).where(Membership.user_id == uid))


def update_record(
    record: Any,
    data: Mapping[str, Any],
    *,
    actor: Any = None,
    membership: Any = None,
    source: str | None = None,
) -> list[str]:
    """Validate and apply ``data`` to ``record``; emits ``<kind>.updated`` when anything
    changed (with ``source`` in its data when given, e.g. ``"erp"``, so that a subscriber can
    tell changes it caused itself). Returns the names of the changed fields. Caller commits."""
    kind = kind_of(record)
    values, custom = check_values(kind, data, record=record, membership=membership)
    changed = [name for name, value in values.items() if getattr(record, name) != value]
    for name in changed:
        setattr(record, name, values[name])
    old_custom = dict(record.custom or {})
    changed_custom = sorted(
        k for k in set(old_custom) | set(custom) if old_custom.get(k) != custom.get(k)
    )
    if changed_custom:
        record.custom = custom
        changed += [f"cf_{k}" for k in changed_custom]
    if changed:
        record.updated_at = utcnow()
        db.session.flush()
        event = {"name": record.display_name, "changed": changed}
        if source:
            event["source"] = source
        emit_event(f"{kind}.updated", record_id=record.id, data=event, actor=actor)
    return changed


def delete_record(record: Any, *, actor: Any = None) -> None:
    """Move ``record`` to the trash; emits ``<kind>.deleted``. Caller commits."""
    if record.deleted_at is not None:
        return
    kind = kind_of(record)
    record.deleted_at = utcnow()
    db.session.flush()
    audit.record(f"{kind}.deleted", target=_label(record), details={"id": str(record.id)})
    emit_event(f"{kind}.deleted", record_id=record.id, data={"name": _label(record)}, actor=actor)


def restore_record(record: Any, *, actor: Any = None) -> None:
    """Bring ``record`` back from the trash; emits ``<kind>.restored``. Caller commits."""
    if record.deleted_at is None:
        return
    kind = kind_of(record)
    record.deleted_at = None
    record.merged_into_id = None
    db.session.flush()
    audit.record(f"{kind}.restored", target=_label(record), details={"id": str(record.id)})
    emit_event(f"{kind}.restored", record_id=record.id, data={"name": _label(record)}, actor=actor)


def get_record(kind: str, record_id: Any, membership: Any, *, deleted: bool = False) -> Any:
    """The live (or trashed) record ``record_id`` of ``kind`` that ``membership`` sees, or 404."""
    return get_visible_or_404(RECORD_MODELS[kind], record_id, membership, deleted=deleted)
