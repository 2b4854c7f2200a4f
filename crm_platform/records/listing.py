"""Record lists: filters, sort and keyset pages (never ``OFFSET``), from a query string.

:func:`parse_list_args` reads the list's query string into a :class:`ListState` (and field
errors for bad filter values); :func:`list_page` runs it for a member, returning one page and
the opaque cursor of the next. A cursor carries the list and sort it was made for and the last row's
sort values and id; a cursor that does not decode, or belongs to another sort, is refused with
:class:`BadCursor` (the page answers 400).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask_babel import gettext as _
from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import lazyload
from sqlalchemy.types import NullType

from ..customers import LIFECYCLE_STAGES, RECORD_MODELS, name_key
from ..extensions import db
from ..ids import parse_uuid
from .custom_fields import CustomField
from .tags import tagged
from .validation import phone_digits
from .visibility import live_and_visible

PAGE_SIZE = 50
MAX_CURSOR = 1000
MAX_FILTER = 200
#: A tag filter lists the tagged records' ids when at most this many have the tag: walking a
#: list's sort index and probing each record's tags finds 50 rarely tagged ones only after
#: reading much of a large list, and how much PostgreSQL cannot tell when the tag and the
#: sort order are correlated. Tags on more records are dense enough for that walk. Measured
#: at 300,000 contacts: 3,000 ids looked up by key took 17 ms, the walk to 50 of them 46 ms
#: (about 5 µs an id, 9 µs a probe); the two cost the same near 10,000 at 1,000,000.
FEW_TAGGED = 10_000

SORTS: dict[str, tuple[str, ...]] = {
    "account": ("name", "stage", "industry", "region", "created", "updated"),
    "contact": ("name", "stage", "region", "created", "updated"),
}
#: Filters every list has, by query-string name.
BASE_FILTERS = ("q", "stage", "owner", "tag", "region", "team")
#: Filters an index answers at any size (``q`` reads every name, e-mail and phone number):
#: the exact e-mail address, the start of it or of the name, records changed since a time.
INDEXED_FILTERS = ("email", "email_prefix", "name_prefix", "updated_since")
EXTRA_FILTERS = {"account": ("industry",), "contact": ("account",)}


class BadCursor(ValueError):
    """A page cursor that does not decode or does not fit the list's sort."""


@dataclass
class ListState:
    """A record list's filters, sort and position, as read from the query string."""

    kind: str
    filters: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    sort: str = "name"
    desc: bool = False
    after: str = ""

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string parameters of this state (empty ones left out)."""
        state = replace(self, **changes)
        out = {k: v for k, v in state.filters.items() if v}
        out.update({k: v for k, v in state.custom.items() if v})
        if state.sort != "name":
            out["sort"] = state.sort
        if state.desc:
            out["dir"] = "desc"
        if state.after:
            out["after"] = state.after
        return out

    def query_string(self, **changes: Any) -> str:
        """``params`` as a URL query string."""
        return urlencode(self.params(**changes))

    @property
    def filtered(self) -> bool:
        """True when any filter is set."""
        return any(self.filters.values()) or any(self.custom.values())

    def sort_params(self, key: str) -> dict[str, str]:
        """The parameters of the link on the column header ``key`` (toggles direction)."""
        desc = not self.desc if key == self.sort else key in ("created", "updated")
        return self.params(sort=key, desc=desc, after="")


def custom_filter_names(fields: list[CustomField]) -> list[str]:
    """Query-string names of the custom-field filters."""
    names: list[str] = []
    for f in fields:
        if f.type in ("number", "date"):
            names += [f"{f.form_name}_min", f"{f.form_name}_max"]
        else:
            names.append(f.form_name)
    return names


def parse_list_args(
    kind: str, args: Mapping[str, Any], fields: list[CustomField]
) -> tuple[ListState, dict[str, str]]:
    """A :class:`ListState` from ``args`` and the errors of bad filter values."""
    errors: dict[str, str] = {}
    filters: dict[str, str] = {}
    for name in BASE_FILTERS + INDEXED_FILTERS + EXTRA_FILTERS[kind]:
        value = " ".join(str(args.get(name, "")).split())[:MAX_FILTER]
        filters[name] = value
    if filters["stage"] and filters["stage"] not in LIFECYCLE_STAGES:
        errors["stage"] = _("Choose one of the listed options.")
    owner = filters["owner"]
    if owner and owner not in ("me", "none") and parse_uuid(owner) is None:
        errors["owner"] = _("Choose one of the listed options.")
    if filters["team"] and parse_uuid(filters["team"]) is None:
        errors["team"] = _("Choose one of the listed options.")
    if filters.get("account") and parse_uuid(filters["account"]) is None:
        errors["account"] = _("Choose one of the listed options.")
    if filters["updated_since"] and _since(filters["updated_since"]) is None:
        errors["updated_since"] = _("Enter a date and time as YYYY-MM-DDTHH:MM:SS (UTC).")
    custom: dict[str, str] = {}
    by_name = {f.form_name: f for f in fields}
    for name in custom_filter_names(fields):
        value = " ".join(str(args.get(name, "")).split())[:MAX_FILTER]
        custom[name] = value
        if not value:
            continue
        f = by_name.get(name) or by_name[name.rsplit("_", 1)[0]]
        try:
            _filter_value(f, value)
        except ValueError as exc:
            errors[name] = str(exc)
    sort = str(args.get("sort", "name"))
    if sort not in SORTS[kind]:
        errors["sort"] = _("Choose one of the listed options.")
        sort = "name"
    desc = args.get("dir") == "desc"
    after = str(args.get("after", ""))
    return ListState(kind, filters, custom, sort, desc, after), errors


def _filter_value(f: CustomField, value: str) -> Any:
    from .custom_fields import _date, _number

    if f.type == "number":
        return _number(value)
    if f.type == "date":
        return _date(value).isoformat()
    if f.type in ("choice", "multi_choice") and value not in f.choices:
        raise ValueError(_("Choose one of the listed options."))
    if f.type == "checkbox" and value not in ("yes", "no"):
        raise ValueError(_("Choose one of the listed options."))
    return value


def like_escape(value: str) -> str:
    """``value`` with LIKE wildcards escaped (escape character ``!``)."""
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _contains(column: Any, needle: str) -> Any:
    return column.like(f"%{like_escape(needle)}%", escape="!")


def _stage_order(model: Any) -> Any:
    return case(
        {stage: i for i, stage in enumerate(LIFECYCLE_STAGES)},
        value=model.lifecycle_stage,
        else_=len(LIFECYCLE_STAGES),
    )


@dataclass(frozen=True)
class SortKey:
    """How a list sorts: the SQL expressions, their types, and a row's values of them."""

    expressions: tuple[Any, ...]
    types: tuple[Any, ...]
    values: Callable[[Any], tuple[Any, ...]]


def sort_key(kind: str, sort: str) -> SortKey:
    """The :class:`SortKey` of ``sort`` for ``kind`` lists."""
    model = RECORD_MODELS[kind]
    text_type = String()
    if sort == "name":
        if kind == "contact":
            return SortKey(
                (model.last_name, model.first_name),
                (text_type, text_type),
                lambda r: (r.last_name or "", r.first_name or ""),
            )
        return SortKey((model.name,), (text_type,), lambda r: (r.name,))
    if sort == "stage":
        order = {s: i for i, s in enumerate(LIFECYCLE_STAGES)}
        return SortKey(
            (_stage_order(model),),
            (Integer(),),
            lambda r: (order.get(r.lifecycle_stage, len(LIFECYCLE_STAGES)),),
        )
    if sort in ("industry", "region"):
        column = getattr(model, sort)
        return SortKey(
            (func.coalesce(column, ""),), (text_type,), lambda r: (getattr(r, sort) or "",)
        )
    column = model.created_at if sort == "created" else model.updated_at
    attr = "created_at" if sort == "created" else "updated_at"
    return SortKey((column,), (DateTime(timezone=True),), lambda r: (_utc(getattr(r, attr)),))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _since(value: str) -> datetime | None:
    """An ISO 8601 date or date and time (UTC unless it says otherwise), else ``None``.

    A ``+`` of an offset left unescaped in a URL arrives as a space: both forms are read.
    """
    for text_value in (value, value.replace(" ", "+")):
        try:
            return _utc(datetime.fromisoformat(text_value.replace("Z", "+00:00")))
        except ValueError:
            continue
    return None


def encode_cursor(state: ListState, key: SortKey, row: Any) -> str:
    """The cursor of the page after ``row``."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key.values(row)]
    direction = "desc" if state.desc else "asc"
    payload = json.dumps([state.kind, state.sort, direction, values, str(row.id)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(state: ListState, key: SortKey) -> tuple[list[Any], uuid.UUID]:
    """The sort values and id a cursor carries; raises :class:`BadCursor`."""
    raw = state.after
    if len(raw) > MAX_CURSOR:
        raise BadCursor(raw)
    try:
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        kind, sort, direction, values, rid = payload
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadCursor(raw) from exc
    if (kind, sort, direction) != (state.kind, state.sort, "desc" if state.desc else "asc"):
        raise BadCursor(raw)
    if not isinstance(values, list) or len(values) != len(key.types):
        raise BadCursor(raw)
    record_id = parse_uuid(rid) if isinstance(rid, str) else None
    if record_id is None:
        raise BadCursor(raw)
    out: list[Any] = []
    for value, type_ in zip(values, key.types, strict=True):
        if isinstance(type_, DateTime):
            if not isinstance(value, str):
                raise BadCursor(raw)
            try:
                out.append(_utc(datetime.fromisoformat(value)))
            except ValueError as exc:
                raise BadCursor(raw) from exc
        elif isinstance(type_, Integer):
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadCursor(raw)
            out.append(value)
        else:
            if not isinstance(value, str):
                raise BadCursor(raw)
            out.append(value)
    return out, record_id


def filtered_statement(
    state: ListState, membership: Any, fields: list[CustomField], *, user_id: Any = None
) -> Any:
    """``SELECT`` of the live records ``membership`` sees that match the state's filters."""
    model = RECORD_MODELS[state.kind]
    stmt = select(model).where(*live_and_visible(model, membership))
    f = state.filters
    if f.get("q"):
        stmt = stmt.where(text_match(model, f["q"]))
    if f.get("stage"):
        stmt = stmt.where(model.lifecycle_stage == f["stage"])
    owner = f.get("owner")
    if owner == "me":
        stmt = stmt.where(model.owner_id == (user_id or membership.user_id))
    elif owner == "none":
        stmt = stmt.where(model.owner_id.is_(None))
    elif owner:
        stmt = stmt.where(model.owner_id == parse_uuid(owner))
    if f.get("team"):
        stmt = stmt.where(model.team_id == parse_uuid(f["team"]))
    if f.get("tag"):
        stmt = stmt.where(_tag_condition(model, state.kind, f["tag"]))
    if f.get("region"):
        stmt = stmt.where(model.region == f["region"])
    if f.get("industry"):
        stmt = stmt.where(model.industry == f["industry"])
    if f.get("account"):
        stmt = stmt.where(model.account_id == parse_uuid(f["account"]))
    stmt = _indexed_filters(stmt, model, f)
    for cf in fields:
        stmt = _custom_filter(stmt, model, cf, state.custom)
    return stmt


def _tag_condition(model: Any, kind: str, tag: str) -> Any:
    """Records tagged ``tag``: on PostgreSQL by their ids when few are (see
    :data:`FEW_TAGGED`).

    The database counts the tagged records (up to the threshold: an index-only scan) and
    gathers the few ones' ids itself (``id = ANY(ARRAY(SELECT ...))``, one lookup by key
    each); loaded into Python, ids cost about 8 µs each.
    """
    in_tagged = model.id.in_(tagged(kind, tag))
    if db.session.get_bind().dialect.name != "postgresql":
        return in_tagged
    counted = select(func.count()).select_from(tagged(kind, tag).limit(FEW_TAGGED + 1).subquery())
    if db.session.scalar(counted) > FEW_TAGGED:
        return in_tagged
    return model.id == any_(func.array(tagged(kind, tag).scalar_subquery()))


def one_of(column: Any, values: Iterable[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``: one parameter to compile
    and plan however many values there are (thousands, for bulk lookups)."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        # An array of plain text, not of varchar(n): a length cast of a parameter is not
        # leak-proof, and row-level security then keeps it out of index conditions.
        item = String() if isinstance(column.type, String | NullType) else column.type
        return column == any_(bindparam(None, values, type_=ARRAY(item)))
    return column.in_(values)


def _indexed_filters(stmt: Any, model: Any, f: dict[str, str]) -> Any:
    """The filters of :data:`INDEXED_FILTERS` (e-mail addresses are stored in lower case)."""
    if f.get("email"):
        stmt = stmt.where(model.email == f["email"].lower())
    if f.get("email_prefix"):
        stmt = stmt.where(_starts(model.email, f["email_prefix"].lower()))
    if f.get("name_prefix"):
        key = name_key(f["name_prefix"])
        stmt = stmt.where(_starts(model.name_key, key) if key else false())
    if f.get("updated_since"):
        stmt = stmt.where(model.updated_at >= _since(f["updated_since"]))
    return stmt


def _starts(column: Any, prefix: str) -> Any:
    like = column.like(f"{like_escape(prefix)}%", escape="!")
    if db.session.get_bind().dialect.name != "postgresql":
        return like
    # LIKE is not leak-proof, so row-level security keeps it out of index conditions (a
    # prefix search read the whole tenant); the pattern-order range (leak-proof operators of
    # the varchar_pattern_ops indexes) is an index range, and LIKE checks what it finds.
    low = bindparam(None, prefix, type_=String())
    high = bindparam(None, prefix + "\U0010ffff", type_=String())
    return and_(column.op("~>=~")(low), column.op("~<~")(high), like)


def text_match(model: Any, q: str) -> Any:
    """Records whose name, e-mail or phone contains ``q`` (case-insensitive)."""
    conditions = []
    key = name_key(q)
    if key:
        conditions.append(_contains(model.name_key, key))
    conditions.append(_contains(model.email, q.strip().lower()))
    digits = phone_digits(q)
    if len(digits) >= 3:
        conditions.append(_contains(model.phone, digits))
    return or_(*conditions)


def _custom_filter(stmt: Any, model: Any, cf: CustomField, values: dict[str, str]) -> Any:
    column = model.custom[cf.key]
    name = cf.form_name
    if cf.type in ("number", "date"):
        low, high = values.get(f"{name}_min"), values.get(f"{name}_max")
        expr = column.as_float() if cf.type == "number" else column.as_string()
        if low:
            stmt = stmt.where(expr >= _filter_value(cf, low))
        if high:
            stmt = stmt.where(expr <= _filter_value(cf, high))
        return stmt
    value = values.get(name)
    if not value:
        return stmt
    if cf.type == "text":
        return stmt.where(_contains(func.lower(column.as_string()), value.lower()))
    if cf.type == "choice":
        return stmt.where(column.as_string() == value)
    if cf.type == "multi_choice":
        return stmt.where(_contains(column.as_string(), json.dumps(value)))
    if cf.type == "checkbox":
        present = column.as_string().is_not(None)
        return stmt.where(present if value == "yes" else ~present)
    return stmt


@dataclass
class Page:
    """One page of a list and the cursor of the next (``None`` on the last page)."""

    rows: list[Any]
    next_cursor: str | None


def list_page(
    state: ListState,
    membership: Any,
    fields: list[CustomField],
    *,
    size: int = PAGE_SIZE,
    related: bool = True,
) -> Page:
    """The page of records after ``state.after``; raises :class:`BadCursor`.

    ``related=False`` leaves out the owner and team the records' pages show (the API needs
    only their ids): no joins, and no objects built for them.
    """
    model = RECORD_MODELS[state.kind]
    key = sort_key(state.kind, state.sort)
    stmt = filtered_statement(state, membership, fields)
    if not related:
        stmt = stmt.options(lazyload("*"))
    if state.after:
        values, record_id = decode_cursor(state, key)
        left = tuple_(*key.expressions, model.id)
        right = tuple_(
            *(literal(v, t) for v, t in zip(values, key.types, strict=True)),
            literal(record_id, Uuid()),
        )
        stmt = stmt.where(left < right if state.desc else left > right)
    expressions = list(key.expressions)
    if state.filters.get("q"):
        # A text search reads every record's name, e-mail and phone whatever the plan. Sort
        # its matches (the same order: coalesce(x, x) is x) rather than walk the sort index
        # testing each record, which reads all of a large list in random order when the
        # matches are few: at a million records, half a second instead of several.
        expressions = [func.coalesce(e, e) for e in expressions]
    order = [*expressions, model.id]
    stmt = stmt.order_by(*(o.desc() if state.desc else o.asc() for o in order)).limit(size + 1)
    rows = list(db.session.execute(stmt).unique().scalars())
    more = len(rows) > size
    rows = rows[:size]
    cursor = encode_cursor(state, key, rows[-1]) if more and rows else None
    return Page(rows, cursor)


def distinct_values(kind: str, column_name: str, membership: Any, limit: int = 200) -> list[str]:
    """The distinct non-empty values of a column among visible records (filter menus)."""
    model = RECORD_MODELS[kind]
    column = getattr(model, column_name)
    stmt = (
        select(column)
        .where(*live_and_visible(model, membership), column.is_not(None), column != "")
        .distinct()
        .order_by(column)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
