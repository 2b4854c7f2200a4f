"""Definitions that can never match: rules on one field that contradict each other.

Within a group whose rules must all hold (``match: all``), and across the groups of a
definition whose groups must all hold (taking each group's rule when it has only one, or all
its rules when they must all hold), the rules on each field are intersected: equal-to sets,
excluded values, number and date intervals, ``is empty`` against anything that needs a
value, recency windows (``in the last 10 days`` and ``not in the last 30 days``), tags, ticks,
segment membership and bought products. Any empty intersection is reported naming the field.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import tag_key

from .segment_fields import FieldDef

NEEDS_VALUE = frozenset(
    {
        "is",
        "in",
        "contains",
        "starts_with",
        "eq",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "on",
        "before",
        "after",
        "within_days",
    }
)


def conflicts(definition: Mapping[str, Any], catalogue: Mapping[str, FieldDef]) -> dict[str, str]:
    """Messages for the groups (and the whole definition) that can never match."""
    out: dict[str, str] = {}
    forced: list[dict[str, Any]] = []
    for gi, group in enumerate(definition["groups"]):
        rules = group["rules"]
        if group["match"] == "all" or len(rules) == 1:
            field = contradiction(rules, catalogue)
            if field is not None:
                out[f"groups.{gi}"] = _(
                    "Group %(group)d can never match: the conditions on “%(field)s” "
                    "contradict each other.",
                    group=gi + 1,
                    field=catalogue[field].label,
                )
            forced += rules
    if not out and definition["match"] == "all" and len(definition["groups"]) > 1:
        field = contradiction(forced, catalogue)
        if field is not None:
            out["definition"] = _(
                "The groups can never all match: the conditions on “%(field)s” contradict "
                "each other.",
                field=catalogue[field].label,
            )
    return out


def contradiction(
    rules: Iterable[Mapping[str, Any]], catalogue: Mapping[str, FieldDef]
) -> str | None:
    """The key of the first field whose rules (all of which must hold) contradict."""
    by_field: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for rule in rules:
        by_field[rule["field"]].append((rule["op"], rule.get("value")))
    for key, pairs in by_field.items():
        if len(pairs) > 1 and _impossible(catalogue[key].type, pairs):
            return key
    return None


def _impossible(kind: str, pairs: list[tuple[str, Any]]) -> bool:
    ops = {op for op, _v in pairs}
    if "is_set" in ops and "is_empty" in ops:
        return True
    if "is_empty" in ops and ops & NEEDS_VALUE:
        return True
    if kind in ("text", "choice"):
        return _text_impossible(pairs, folded=kind == "text")
    if kind in ("number", "amount"):
        return _interval_impossible(pairs)
    if kind == "date":
        return _date_impossible(pairs)
    if kind == "recency":
        return _recency_impossible(pairs)
    if kind == "tag":
        has = {tag_key(v) for op, v in pairs if op == "has"}
        return bool(has & {tag_key(v) for op, v in pairs if op == "has_not"})
    if kind in ("flag",):
        return {"is_true", "is_false"} <= ops
    if kind in ("segment", "multi"):
        positive = {"in_segment", "contains"}
        wanted = {v for op, v in pairs if op in positive}
        return bool(wanted & {v for op, v in pairs if op not in positive})
    if kind == "product":
        bought = [v.casefold() for op, v in pairs if op == "bought"]
        never = [v.casefold() for op, v in pairs if op == "not_bought"]
        return any(n in b for b in bought for n in never)
    return False


def _text_impossible(pairs: list[tuple[str, Any]], *, folded: bool) -> bool:
    def norm(v: Any) -> str:
        return str(v).casefold() if folded else str(v)

    allowed: set[str] | None = None
    for op, value in pairs:
        if op == "is":
            allowed = {norm(value)} if allowed is None else allowed & {norm(value)}
        elif op == "in":
            wanted = {norm(v) for v in value}
            allowed = wanted if allowed is None else allowed & wanted
    excluded = {norm(v) for op, v in pairs if op == "is_not"}
    excluded |= {norm(x) for op, v in pairs if op == "not_in" for x in v}
    if allowed is not None:
        allowed -= excluded
        if not allowed:
            return True
    contains = [norm(v) for op, v in pairs if op == "contains"]
    not_contains = [norm(v) for op, v in pairs if op == "not_contains"]
    starts = [norm(v) for op, v in pairs if op == "starts_with"]
    if any(n in c for c in contains + starts for n in not_contains):
        return True
    if allowed is not None:
        fits = [
            a
            for a in allowed
            if all(c in a for c in contains)
            and all(a.startswith(s) for s in starts)
            and not any(n in a for n in not_contains)
        ]
        return not fits
    if len(starts) > 1:
        return any(not (a.startswith(b) or b.startswith(a)) for a in starts for b in starts)
    return False


def _bounds(pairs: list[tuple[str, Any]], convert: Any) -> tuple[Any, bool, Any, bool, set]:
    low, low_open, high, high_open = -math.inf, False, math.inf, False
    excluded: set[Any] = set()

    def raise_low(value: Any, is_open: bool) -> None:
        nonlocal low, low_open
        if value > low or (value == low and is_open):
            low, low_open = value, is_open

    def lower_high(value: Any, is_open: bool) -> None:
        nonlocal high, high_open
        if value < high or (value == high and is_open):
            high, high_open = value, is_open

    for op, raw in pairs:
        if op in ("ne",):
            excluded.add(convert(raw))
            continue
        if op in ("is_set", "is_empty"):
            continue
        if op == "between":
            raise_low(convert(raw[0]), False)
            lower_high(convert(raw[1]), False)
            continue
        value = convert(raw) if op in ("eq", "gt", "gte", "lt", "lte") else raw
        if op == "eq":
            raise_low(value, False)
            lower_high(value, False)
        elif op == "gt":
            raise_low(value, True)
        elif op == "gte":
            raise_low(value, False)
        elif op == "lt":
            lower_high(value, True)
        elif op == "lte":
            lower_high(value, False)
    return low, low_open, high, high_open, excluded


def _empty(low: Any, low_open: bool, high: Any, high_open: bool, excluded: set) -> bool:
    if low > high:
        return True
    if low == high:
        return low_open or high_open or low in excluded
    return False


def _interval_impossible(pairs: list[tuple[str, Any]]) -> bool:
    return _empty(*_bounds(pairs, float))


def _date_impossible(pairs: list[tuple[str, Any]]) -> bool:
    """Dates as day numbers: ``on``/``before``/``after``/``between`` and day windows."""
    today = date.today()
    mapped: list[tuple[str, Any]] = []
    for op, value in pairs:
        if op == "on":
            mapped.append(("eq", date.fromisoformat(value).toordinal()))
        elif op == "before":
            mapped.append(("lt", date.fromisoformat(value).toordinal()))
        elif op == "after":
            mapped.append(("gt", date.fromisoformat(value).toordinal()))
        elif op == "between":
            mapped.append(("between", [date.fromisoformat(v).toordinal() for v in value]))
        elif op == "within_days":
            mapped.append(("gte", (today - timedelta(days=value)).toordinal()))
        elif op == "not_within_days":
            mapped.append(("lt", (today - timedelta(days=value)).toordinal()))
    return _empty(*_bounds(mapped, int))


def _recency_impossible(pairs: list[tuple[str, Any]]) -> bool:
    ops = {op for op, _v in pairs}
    if "never" in ops and ops & {"ever", "within_days"}:
        return True
    within = [v for op, v in pairs if op == "within_days"]
    not_within = [v for op, v in pairs if op == "not_within_days"]
    # Something in the last a days is also in the last b days when a <= b.
    return any(a <= b for a in within for b in not_within)
