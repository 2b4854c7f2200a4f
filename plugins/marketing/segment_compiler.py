"""A segment's definition: checked, then compiled to ONE SQL query over contacts.

A definition is ``{"match": "all"|"any", "groups": [{"match": "all"|"any", "rules": [{"field":
..., "op": ..., "value": ...}]}]}``: rules combine within a group, groups combine at the top.
:func:`clean_definition` checks every rule against the field catalogue (unknown field,
operator not offered, bad value) and refuses a definition that can never match
(:mod:`.segment_conflicts`), with one message per problem keyed like
``groups.0.rules.1.value``. :func:`members_query` and :func:`count_members` build one
``SELECT`` (SQLAlchemy Core, with outer joins to the account and the customer score only when
a rule needs them, and ``tenant_id`` in every table it touches); nothing is filtered in Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, true

from crm_platform.sdk import Account, Contact, ValidationFailed, db, parse_uuid

from .models import CustomerScore, Segment
from .segment_conflicts import conflicts
from .segment_fields import (
    DAYS_VALUE,
    LIST_VALUE,
    NO_VALUE,
    PAIR_VALUE,
    Ctx,
    FieldDef,
    column_condition,
    context,
    field_catalogue,
    needs_an_order,
    order_aggregates_condition,
)

MAX_GROUPS = 10
MAX_RULES = 20
MAX_TEXT = 200
MAX_DAYS = 36500
MATCHES = ("all", "any")


def empty_definition() -> dict[str, Any]:
    """A definition with one group and no rules (what the builder starts from)."""
    return {"match": "all", "groups": [{"match": "all", "rules": []}]}


# --------------------------------------------------------------------------- values


def _number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except (InvalidOperation, TypeError) as exc:
        raise ValueError from exc
    if not value.is_finite():
        raise ValueError
    return float(value)


def _day(raw: Any) -> str:
    return date.fromisoformat(str(raw).strip()).isoformat()


def _days(raw: Any) -> int:
    value = int(str(raw).strip())
    if not 1 <= value <= MAX_DAYS:
        raise ValueError
    return value


def _clean_value(f: FieldDef, op: str, raw: Any, segment_id: Any) -> Any:
    """The stored value of a rule (JSON-serialisable); raises ``ValueError`` with a message."""
    if op in NO_VALUE:
        return None
    if op in DAYS_VALUE:
        try:
            return _days(raw)
        except (ValueError, TypeError) as exc:
            raise ValueError(_("Enter a number of days from 1 to %(max)d.", max=MAX_DAYS)) from exc
    if op in PAIR_VALUE:
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise ValueError(_("Give two values."))
        low, high = (_clean_single(f, x) for x in raw)
        if low > high:
            raise ValueError(_("The first value must not be above the second."))
        return [low, high]
    if op in LIST_VALUE:
        values = raw if isinstance(raw, list | tuple) else [raw] if raw not in (None, "") else []
        cleaned = list(dict.fromkeys(_clean_single(f, x) for x in values))
        if not cleaned:
            raise ValueError(_("Choose at least one option."))
        return cleaned
    if f.type == "segment":
        sid = parse_uuid(raw) if isinstance(raw, str) else None
        found = sid is not None and db.session.scalar(select(Segment.id).where(Segment.id == sid))
        if not found:
            raise ValueError(_("Choose one of the segments."))
        if segment_id is not None and sid == segment_id:
            raise ValueError(_("A segment cannot contain itself."))
        return str(sid)
    return _clean_single(f, raw)


def _clean_single(f: FieldDef, raw: Any) -> Any:
    if f.type in ("number", "amount"):
        try:
            return _number(raw)
        except ValueError as exc:
            raise ValueError(_("Enter a number.")) from exc
    if f.type == "date":
        try:
            return _day(raw)
        except (ValueError, TypeError) as exc:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc
    text = " ".join(str(raw if raw is not None else "").split())
    if not text:
        raise ValueError(_("Enter a value."))
    if len(text) > MAX_TEXT:
        raise ValueError(_("Use at most %(num)d characters.", num=MAX_TEXT))
    if f.choices and f.type in ("choice", "multi") and text not in {v for v, _l in f.choices}:
        raise ValueError(_("Choose one of the listed options."))
    return text


# --------------------------------------------------------------------------- definitions


def clean_definition(
    raw: Any,
    *,
    segment_id: uuid.UUID | None = None,
    catalogue: Mapping[str, FieldDef] | None = None,
) -> dict[str, Any]:
    """The checked definition; raises ``ValidationFailed`` (one message per problem)."""
    catalogue = catalogue if catalogue is not None else field_catalogue()
    errors: dict[str, str] = {}
    if not isinstance(raw, Mapping):
        raise ValidationFailed({"definition": _("Give the segment's conditions.")})
    top = raw.get("match", "all")
    if top not in MATCHES:
        errors["match"] = _("Choose all or any.")
    groups_in = raw.get("groups")
    if not isinstance(groups_in, list) or not groups_in:
        raise ValidationFailed({"definition": _("Add at least one condition.")})
    if len(groups_in) > MAX_GROUPS:
        raise ValidationFailed({"definition": _("Use at most %(num)d groups.", num=MAX_GROUPS)})
    groups: list[dict[str, Any]] = []
    for gi, group in enumerate(groups_in):
        where = f"groups.{gi}"
        if not isinstance(group, Mapping) or not isinstance(group.get("rules"), list):
            errors[where] = _("Give each group a list of rules.")
            continue
        match = group.get("match", "all")
        if match not in MATCHES:
            errors[f"{where}.match"] = _("Choose all or any.")
        rules_in = group["rules"]
        if len(rules_in) > MAX_RULES:
            errors[where] = _("Use at most %(num)d conditions in a group.", num=MAX_RULES)
            continue
        rules = []
        for ri, rule in enumerate(rules_in):
            cleaned = _clean_rule(rule, f"{where}.rules.{ri}", catalogue, errors, segment_id)
            if cleaned is not None:
                rules.append(cleaned)
        if rules_in and rules:
            groups.append({"match": match, "rules": rules})
    if not errors and not any(g["rules"] for g in groups):
        errors["definition"] = _("Add at least one condition.")
    definition = {"match": top, "groups": groups}
    if not errors:
        errors.update(conflicts(definition, catalogue))
    if errors:
        raise ValidationFailed(errors)
    return definition


def _clean_rule(
    rule: Any, where: str, catalogue: Mapping[str, FieldDef], errors: dict, segment_id: Any
) -> dict[str, Any] | None:
    if not isinstance(rule, Mapping):
        errors[where] = _("Give each condition a field, an operator and a value.")
        return None
    f = catalogue.get(str(rule.get("field", "")))
    if f is None:
        errors[f"{where}.field"] = _("Choose one of the fields.")
        return None
    op = str(rule.get("op", ""))
    if op not in f.operators:
        errors[f"{where}.op"] = _("Choose one of the operators of “%(field)s”.", field=f.label)
        return None
    try:
        value = _clean_value(f, op, rule.get("value"), segment_id)
    except ValueError as exc:
        errors[f"{where}.value"] = str(exc)
        return None
    return {"field": f.key, "op": op, "value": value}


# --------------------------------------------------------------------------- SQL


def _typed(f: FieldDef, op: str, value: Any) -> Any:
    """A stored value as the SQL builders want it (dates as dates)."""
    if f.type == "date" and op not in DAYS_VALUE and value is not None:
        if isinstance(value, list):
            return [date.fromisoformat(v) for v in value]
        return date.fromisoformat(value)
    if f.type == "segment":
        return uuid.UUID(value)
    return value


def rule_condition(rule: Mapping[str, Any], catalogue: Mapping[str, FieldDef], ctx: Ctx) -> Any:
    """The SQL condition of one checked rule."""
    f = catalogue[rule["field"]]
    value = _typed(f, rule["op"], rule.get("value"))
    if f.join:
        ctx.joins.add(f.join)
    if f.build is not None:
        return f.build(ctx, rule["op"], value)
    return column_condition(f, f.column(), rule["op"], value, ctx)


def definition_condition(
    definition: Mapping[str, Any], ctx: Ctx, catalogue: Mapping[str, FieldDef] | None = None
) -> Any:
    """The SQL condition of a checked definition."""
    catalogue = catalogue if catalogue is not None else field_catalogue()
    parts = []
    for group in definition["groups"]:
        rules = [
            rule_condition(r, catalogue, ctx)
            for r in group["rules"]
            if not needs_an_order(r["field"], r["op"], r.get("value"))
        ]
        aggregates = [
            (r["field"], r["op"], r.get("value"))
            for r in group["rules"]
            if needs_an_order(r["field"], r["op"], r.get("value"))
        ]
        if aggregates:  # one grouped pass over the orders for all of them
            rules.append(order_aggregates_condition(ctx, aggregates, group["match"]))
        parts.append(and_(*rules) if group["match"] == "all" else or_(*rules))
    if not parts:
        return true()
    return and_(*parts) if definition["match"] == "all" else or_(*parts)


def _from(stmt: Any, ctx: Ctx) -> Any:
    """Add the outer joins the rules asked for, each on ``(tenant_id, id)``."""
    if "account" in ctx.joins:
        stmt = stmt.outerjoin(
            Account,
            and_(
                Account.tenant_id == Contact.tenant_id,
                Account.id == Contact.account_id,
                Account.deleted_at.is_(None),
            ),
        )
    if "score" in ctx.joins:
        stmt = stmt.outerjoin(
            CustomerScore,
            and_(
                CustomerScore.tenant_id == Contact.tenant_id,
                CustomerScore.contact_id == Contact.id,
            ),
        )
    return stmt


def _live(ctx: Ctx) -> list[Any]:
    return [Contact.tenant_id == ctx.tenant_id, Contact.deleted_at.is_(None)]


def members_query(definition: Mapping[str, Any], ctx: Ctx | None = None, *columns: Any) -> Any:
    """``SELECT <columns or contacts.id>`` of the live contacts a definition matches."""
    ctx = ctx or context()
    condition = definition_condition(definition, ctx)
    stmt = select(*(columns or (Contact.id,))).select_from(Contact)
    return _from(stmt, ctx).where(*_live(ctx), condition)


def count_members(definition: Mapping[str, Any], ctx: Ctx | None = None) -> int:
    """How many live contacts a checked definition matches (one ``SELECT count(*)``)."""
    ctx = ctx or context()
    condition = definition_condition(definition, ctx)
    stmt = _from(select(func.count()).select_from(Contact), ctx).where(*_live(ctx), condition)
    return int(db.session.scalar(stmt) or 0)
