"""The report engine: a report definition, checked, run as ONE grouped SQL statement.

A :class:`Definition` names a source (``crm_report_sources``), up to two group fields (a
date or datetime field groups by a time bucket), aggregates (``count``, ``sum``, ``avg``,
``min``, ``max``), filters, the columns of the record list and a chart. :func:`validate`
answers errors by form field; :func:`run` builds one ``SELECT ... GROUP BY`` through the
tenant-scoped session (so the tenant filter, and on PostgreSQL row-level security, apply as
to every query), adds the source's visibility rule for the member, and bounds the rows.
:func:`records` lists the records behind a result row (the drill-down).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Integer, Uuid, and_, cast, func, literal_column, or_, select

from crm_platform.sdk import ReportField, ReportSource, collect_hook, db

AGGREGATES = ("count", "sum", "avg", "min", "max")
AGGREGATE_LABELS = {
    "count": _l("Count"),
    "sum": _l("Sum"),
    "avg": _l("Average"),
    "min": _l("Minimum"),
    "max": _l("Maximum"),
}
BUCKETS = ("day", "week", "month", "quarter", "year")
BUCKET_LABELS = {
    "day": _l("Day"),
    "week": _l("Week"),
    "month": _l("Month"),
    "quarter": _l("Quarter"),
    "year": _l("Year"),
}
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "empty", "not_empty")
OPERATOR_LABELS = {
    "eq": _l("is"),
    "ne": _l("is not"),
    "gt": _l("greater than"),
    "gte": _l("at least"),
    "lt": _l("less than"),
    "lte": _l("at most"),
    "contains": _l("contains"),
    "empty": _l("is empty"),
    "not_empty": _l("is not empty"),
}
CHARTS = ("bar", "line", "pie", "funnel", "table")
CHART_LABELS = {
    "bar": _l("Bar"),
    "line": _l("Line"),
    "pie": _l("Pie"),
    "funnel": _l("Funnel"),
    "table": _l("Table only"),
}
SORTS = ("", "group", "value")
DATE_TYPES = ("date", "datetime")
NUMERIC_TYPES = ("number", "money")
#: Result rows at most (groups); more are cut and the result says so.
MAX_GROUPS = 500
#: Records at most in a drill-down list.
MAX_RECORDS = 200
MAX_FILTERS = 10
MAX_AGGREGATES = 4
MAX_COLUMNS = 12
EMPTY = "—"


class ReportError(ValueError):
    """A report definition that cannot run: ``errors`` by form field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass
class Definition:
    """What a report is: source, groups, bucket, aggregates, filters, columns, chart."""

    source: str = ""
    groups: list[str] = field(default_factory=list)
    bucket: str = "month"
    aggregates: list[tuple[str, str]] = field(default_factory=lambda: [("count", "")])
    filters: list[tuple[str, str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    chart: str = "bar"
    sort: str = ""

    # ------------------------------------------------------------------ (de)serialising

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what a saved report stores)."""
        return {
            "source": self.source,
            "groups": list(self.groups),
            "bucket": self.bucket,
            "aggregates": [list(a) for a in self.aggregates],
            "filters": [list(f) for f in self.filters],
            "columns": list(self.columns),
            "chart": self.chart,
            "sort": self.sort,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Definition:
        """The definition a dict (``to_dict``) describes; shape errors become empty parts."""

        def pairs(value: Any, size: int) -> list[tuple[str, ...]]:
            out = []
            for item in value or []:
                if isinstance(item, list | tuple) and len(item) == size:
                    out.append(tuple(str(x) for x in item))
            return out

        return cls(
            source=str(data.get("source") or ""),
            groups=[str(g) for g in (data.get("groups") or []) if g][:3],
            bucket=str(data.get("bucket") or "month"),
            aggregates=pairs(data.get("aggregates"), 2) or [("count", "")],  # type: ignore[arg-type]
            filters=pairs(data.get("filters"), 3),  # type: ignore[arg-type]
            columns=[str(c) for c in (data.get("columns") or []) if c],
            chart=str(data.get("chart") or "bar"),
            sort=str(data.get("sort") or ""),
        )

    def to_args(self) -> list[tuple[str, str]]:
        """Query-string pairs (the builder's form, drill-down links)."""
        args = [("source", self.source)]
        args += [("group", g) for g in self.groups]
        args.append(("bucket", self.bucket))
        args += [("agg", f"{fn}:{name}" if name else fn) for fn, name in self.aggregates]
        args += [("filter", f"{n}:{op}:{v}") for n, op, v in self.filters]
        args += [("col", c) for c in self.columns]
        args.append(("chart", self.chart))
        if self.sort:
            args.append(("sort", self.sort))
        return args

    @classmethod
    def from_args(cls, args: Any) -> Definition:
        """The definition a query string (``to_args``, or the builder's form) describes."""
        aggregates = []
        for raw in args.getlist("agg"):
            fn, _sep, name = str(raw).partition(":")
            if fn:
                aggregates.append((fn.strip(), name.strip()))
        # the builder's form: one aggregate function and field select
        if args.get("agg_fn"):
            aggregates.append((args.get("agg_fn"), args.get("agg_field", "")))
        filters = []
        for raw in args.getlist("filter"):
            parts = str(raw).split(":", 2)
            if len(parts) >= 2 and parts[0]:
                filters.append((parts[0], parts[1], parts[2] if len(parts) == 3 else ""))
        for i in range(MAX_FILTERS):  # the builder's filter rows
            name = args.get(f"f{i}_field", "")
            if name:
                filters.append((name, args.get(f"f{i}_op", "eq"), args.get(f"f{i}_value", "")))
        groups = [g for g in args.getlist("group") if g]
        return cls(
            source=args.get("source", ""),
            groups=groups[:3],
            bucket=args.get("bucket", "month") or "month",
            aggregates=aggregates or [("count", "")],
            filters=filters,
            columns=[c for c in args.getlist("col") if c],
            chart=args.get("chart", "bar") or "bar",
            sort=args.get("sort", ""),
        )


# --------------------------------------------------------------------------- sources


def sources(membership: Any = None) -> dict[str, ReportSource]:
    """The report sources of the tenant's enabled modules (those ``membership`` may use)."""
    out: dict[str, ReportSource] = {}
    for source in collect_hook("crm_report_sources"):
        if not isinstance(source, ReportSource) or source.key in out:
            continue
        if membership is not None and not membership.can(source.permission):
            continue
        out[source.key] = source
    return out


# --------------------------------------------------------------------------- checking


def _coerce(f: ReportField, value: str) -> Any:
    """``value`` (text from a form or a link) as the field's SQL value; ``ValueError`` if bad."""
    value = value.strip()
    column_type = getattr(f.expr, "type", None)
    if f.type in NUMERIC_TYPES:
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(_("Enter a number.")) from None
    if f.type == "date":
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from None
    if f.type == "datetime":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if f.type == "choice":
        choices = f.choice_labels()
        if choices and value not in choices:
            raise ValueError(_("Choose one of the listed options."))
        if isinstance(column_type, Boolean):
            return value == "True"
        if isinstance(column_type, Uuid):
            try:
                return uuid.UUID(value)
            except ValueError:
                raise ValueError(_("Choose one of the listed options.")) from None
        return value
    return value[:200]


def validate(defn: Definition, available: Mapping[str, ReportSource]) -> dict[str, str]:
    """Errors of ``defn`` by form field (``source``, ``group``, ``agg``, ``filter``...)."""
    errors: dict[str, str] = {}
    source = available.get(defn.source)
    if source is None:
        return {"source": _("Choose one of the listed record types.")}
    if len(defn.groups) > 2:
        errors["group"] = _("Group by at most two fields.")
    for name in defn.groups:
        f = source.get_field(name)
        if f is None:
            errors["group"] = _(
                "%(name)s is not a field of %(source)s.", name=name, source=source.label
            )
        elif not f.groupable:
            errors["group"] = _("%(field)s cannot be grouped by.", field=f.label)
    if len(set(defn.groups)) != len(defn.groups):
        errors["group"] = _("Group by two different fields.")
    if defn.bucket not in BUCKETS:
        errors["bucket"] = _("Choose one of the listed periods.")
    if not defn.aggregates or len(defn.aggregates) > MAX_AGGREGATES:
        errors["agg"] = _("Choose between one and %(n)s values.", n=MAX_AGGREGATES)
    for fn, name in defn.aggregates:
        if fn not in AGGREGATES:
            errors["agg"] = _("Choose one of the listed calculations.")
        elif fn == "count":
            if name and source.get_field(name) is None:
                errors["agg"] = _(
                    "%(name)s is not a field of %(source)s.", name=name, source=source.label
                )
        else:
            f = source.get_field(name)
            if f is None:
                errors["agg"] = _(
                    "Choose the field to calculate the %(fn)s of.", fn=AGGREGATE_LABELS[fn]
                )
            elif not f.aggregatable:
                errors["agg"] = _("%(field)s cannot be summed or averaged.", field=f.label)
    if len(defn.filters) > MAX_FILTERS:
        errors["filter"] = _("Use at most %(n)s filters.", n=MAX_FILTERS)
    for name, op, value in defn.filters:
        f = source.get_field(name)
        if f is None:
            errors["filter"] = _(
                "%(name)s is not a field of %(source)s.", name=name, source=source.label
            )
            continue
        if op not in OPERATORS:
            errors["filter"] = _("Choose one of the listed conditions.")
            continue
        if op == "contains" and f.type != "text":
            errors["filter"] = _("Only text fields can contain something.")
            continue
        if op in ("empty", "not_empty"):
            continue
        if op in ("gt", "gte", "lt", "lte") and f.type not in NUMERIC_TYPES + DATE_TYPES:
            errors["filter"] = _("%(field)s cannot be compared by size.", field=f.label)
            continue
        try:
            _coerce(f, value)
        except ValueError as exc:
            errors["filter"] = f"{f.label}: {exc}"
    for name in defn.columns:
        if source.get_field(name) is None:
            errors["col"] = _(
                "%(name)s is not a field of %(source)s.", name=name, source=source.label
            )
    if len(defn.columns) > MAX_COLUMNS:
        errors["col"] = _("Show at most %(n)s columns.", n=MAX_COLUMNS)
    if defn.chart not in CHARTS:
        errors["chart"] = _("Choose one of the listed charts.")
    if defn.sort not in SORTS:
        errors["sort"] = _("Choose one of the listed orders.")
    return errors


def checked(defn: Definition, membership: Any) -> ReportSource:
    """The source of ``defn`` after checking it for ``membership``; ``ReportError`` if bad."""
    available = sources(membership)
    errors = validate(defn, available)
    if errors:
        raise ReportError(errors)
    return available[defn.source]


# --------------------------------------------------------------------------- SQL


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def bucket_expr(expr: Any, bucket: str, dialect: str, *, utc: bool = False) -> Any:
    """The first day of the ``bucket`` holding ``expr`` (PostgreSQL: ``date_trunc``, of the
    UTC time when ``utc``, whatever the session's time zone; SQLite, which stores UTC:
    ``strftime``/``date`` text ``YYYY-MM-DD``)."""
    if dialect == "postgresql":
        return func.date_trunc(bucket, func.timezone("UTC", expr) if utc else expr)
    if bucket == "day":
        return func.date(expr)
    if bucket == "week":
        return func.date(expr, "weekday 0", "-6 days")
    if bucket == "month":
        return func.strftime("%Y-%m-01", expr)
    if bucket == "year":
        return func.strftime("%Y-01-01", expr)
    month = cast(func.strftime("%m", expr), Integer)
    first = (month - 1) / 3 * 3 + 1
    return func.strftime("%Y-", expr).op("||")(func.printf("%02d-01", first))


def bucket_start(value: Any) -> date | None:
    """A bucket's value from either database as the first day of the bucket."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def bucket_end(start: date, bucket: str) -> date:
    """The first day after the bucket that starts on ``start``."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[bucket]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def bucket_label(start: date, bucket: str) -> str:
    """``2026-03`` (month), ``2026-Q1``, ``2026``, ``2026-03-02`` (day, week's Monday)."""
    if bucket == "month":
        return f"{start:%Y-%m}"
    if bucket == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if bucket == "year":
        return str(start.year)
    return start.isoformat()


def _condition(f: ReportField, op: str, value: str) -> Any:
    expr = f.expr
    if op == "empty":
        return expr.is_(None) if f.type != "text" else or_(expr.is_(None), expr == "")
    if op == "not_empty":
        return expr.is_not(None) if f.type != "text" else and_(expr.is_not(None), expr != "")
    if op == "contains":
        return expr.ilike(f"%{value.strip()}%")
    coerced = _coerce(f, value)
    return {
        "eq": lambda: expr == coerced,
        "ne": lambda: or_(expr != coerced, expr.is_(None)),
        "gt": lambda: expr > coerced,
        "gte": lambda: expr >= coerced,
        "lt": lambda: expr < coerced,
        "lte": lambda: expr <= coerced,
    }[op]()


def _joined(stmt: Any, source: ReportSource, names: Iterable[str]) -> Any:
    """``stmt`` with the joins the named fields need (each once)."""
    done: set[str] = set()
    for name in names:
        f = source.get_field(name)
        if f is not None and f.join and f.join not in done:
            stmt = source.joins[f.join](stmt)
            done.add(f.join)
    return stmt


def _where(stmt: Any, source: ReportSource, defn: Definition, membership: Any) -> Any:
    if source.base is not None:
        stmt = stmt.where(source.base())
    if source.visible is not None and membership is not None:
        clause = source.visible(membership)
        if clause is not None:
            stmt = stmt.where(clause)
    for name, op, value in defn.filters:
        stmt = stmt.where(_condition(source.get_field(name), op, value))  # type: ignore[arg-type]
    return stmt


def _aggregate(fn: str, f: ReportField | None) -> Any:
    if fn == "count":
        return func.count() if f is None else func.count(f.expr)
    return getattr(func, fn)(f.expr)  # type: ignore[union-attr]


def statement(defn: Definition, source: ReportSource, membership: Any) -> Any:
    """The one grouped ``SELECT`` of a checked definition (``g0``, ``g1``, ``a0``...)."""
    dialect = _dialect()
    group_exprs = []
    for i, name in enumerate(defn.groups):
        f = source.get_field(name)
        expr = f.expr
        if f.type in DATE_TYPES:
            expr = bucket_expr(expr, defn.bucket, dialect, utc=f.type == "datetime")
        group_exprs.append(expr.label(f"g{i}"))
    agg_exprs = [
        _aggregate(fn, source.get_field(name) if name else None).label(f"a{i}")
        for i, (fn, name) in enumerate(defn.aggregates)
    ]
    stmt = select(*group_exprs, *agg_exprs).select_from(source.model)
    used = [*defn.groups, *(n for _fn, n in defn.aggregates if n), *(f[0] for f in defn.filters)]
    stmt = _joined(stmt, source, used)
    stmt = _where(stmt, source, defn, membership)
    if group_exprs:
        stmt = stmt.group_by(*(literal_column(f"g{i}") for i in range(len(group_exprs))))
        if _value_sorted(defn, source):
            stmt = stmt.order_by(literal_column("a0").desc())
        else:
            stmt = stmt.order_by(*(literal_column(f"g{i}") for i in range(len(group_exprs))))
    return stmt.limit(MAX_GROUPS + 1)


def _value_sorted(defn: Definition, source: ReportSource) -> bool:
    if defn.sort:
        return defn.sort == "value"
    first = source.get_field(defn.groups[0]) if defn.groups else None
    if first is None or first.type in DATE_TYPES:
        return False
    return not (first.type == "choice" and defn.chart == "funnel")


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One result row: group keys (text, ``""`` for none), their labels, the numbers, and
    the filters that select its records (the drill-down)."""

    keys: list[str]
    labels: list[str]
    values: list[float | None]
    drill: list[tuple[str, str, str]]


@dataclass
class Result:
    """A report's rows with their column headings."""

    group_headings: list[str]
    value_headings: list[str]
    rows: list[Row]
    truncated: bool = False
    money: list[bool] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a run's stored result)."""
        return {
            "group_headings": self.group_headings,
            "value_headings": self.value_headings,
            "rows": [[r.keys, r.labels, r.values, [list(d) for d in r.drill]] for r in self.rows],
            "truncated": self.truncated,
            "money": self.money,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """A stored result."""
        rows = [Row(k, lab, v, [tuple(d) for d in dr]) for k, lab, v, dr in data["rows"]]
        return cls(
            list(data["group_headings"]),
            list(data["value_headings"]),
            rows,
            bool(data.get("truncated")),
            list(data.get("money") or []),
        )


def value_heading(fn: str, f: ReportField | None) -> str:
    """``Sum of Amount``, ``Count``."""
    if f is None:
        return str(AGGREGATE_LABELS[fn])
    return _("%(fn)s of %(field)s", fn=AGGREGATE_LABELS[fn], field=f.label)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


def _key_and_label(f: ReportField, value: Any, bucket: str, choices: Mapping[str, Any]) -> tuple:
    """The group value as text, its label, and the filters that select its records."""
    if value is None or value == "":
        return "", EMPTY, [(f.name, "empty", "")]
    if f.type in DATE_TYPES:
        start = bucket_start(value)
        end = bucket_end(start, bucket)  # type: ignore[arg-type]
        return (
            start.isoformat(),  # type: ignore[union-attr]
            bucket_label(start, bucket),  # type: ignore[arg-type]
            [(f.name, "gte", start.isoformat()), (f.name, "lt", end.isoformat())],  # type: ignore[union-attr]
        )
    key = str(value)
    label = str(choices.get(key, key)) if choices else key
    return key, label, [(f.name, "eq", key)]


def run(defn: Definition, membership: Any, source: ReportSource | None = None) -> Result:
    """Run a definition for ``membership`` (checked here unless ``source`` is given)."""
    source = source or checked(defn, membership)
    fields = [source.get_field(g) for g in defn.groups]
    choices = [f.choice_labels() if f.type == "choice" else {} for f in fields]  # type: ignore[union-attr]
    rows = db.session.execute(statement(defn, source, membership)).all()
    truncated = len(rows) > MAX_GROUPS
    out = []
    n = len(fields)
    for raw in rows[:MAX_GROUPS]:
        keys, labels, drill = [], [], list(defn.filters)
        for i, f in enumerate(fields):
            key, label, conditions = _key_and_label(f, raw[i], defn.bucket, choices[i])  # type: ignore[arg-type]
            keys.append(key)
            labels.append(label)
            drill += conditions
        out.append(Row(keys, labels, [_number(v) for v in raw[n:]], drill))
    if fields and not _value_sorted(defn, source) and fields[0].type == "choice" and choices[0]:
        order = {k: i for i, k in enumerate(choices[0])}
        out.sort(key=lambda r: (order.get(r.keys[0], len(order)), r.keys[1:]))
    aggregate_fields = [source.get_field(name) if name else None for _fn, name in defn.aggregates]
    return Result(
        group_headings=[str(f.label) for f in fields],  # type: ignore[union-attr]
        value_headings=[
            value_heading(fn, f)
            for (fn, _n), f in zip(defn.aggregates, aggregate_fields, strict=True)
        ],
        rows=out,
        truncated=truncated,
        money=[
            fn != "count" and f is not None and f.type == "money"
            for (fn, _n), f in zip(defn.aggregates, aggregate_fields, strict=True)
        ],
    )


def count_rows(defn: Definition, membership: Any, source: ReportSource) -> int:
    """How many records a definition reads (to decide whether it runs as a job)."""
    stmt = select(func.count()).select_from(source.model)
    stmt = _joined(stmt, source, [f[0] for f in defn.filters])
    stmt = _where(stmt, source, defn, membership)
    return int(db.session.scalar(stmt) or 0)


# --------------------------------------------------------------------------- records


def list_columns(defn: Definition, source: ReportSource) -> list[ReportField]:
    """The columns of the record list: the chosen ones, else title, groups and values."""
    names = defn.columns or [
        source.title_field,
        *defn.groups,
        *(n for _fn, n in defn.aggregates if n),
    ]
    seen: list[ReportField] = []
    for name in names:
        f = source.get_field(name)
        if f is not None and f not in seen:
            seen.append(f)
    return seen[:MAX_COLUMNS]


def records(
    defn: Definition, membership: Any, source: ReportSource, limit: int = MAX_RECORDS
) -> tuple[list[ReportField], list[tuple[Any, list[str]]], bool]:
    """The records a definition's filters select (the drill-down): columns, then (record,
    shown values) pairs, and whether there were more than ``limit``."""
    columns = list_columns(defn, source)
    stmt = select(source.model, *(f.expr for f in columns))
    stmt = _joined(stmt, source, [*(f.name for f in columns), *(f[0] for f in defn.filters)])
    stmt = _where(stmt, source, defn, membership)
    date_field = source.get_field(source.date_field)
    order = date_field.expr.desc() if date_field is not None else source.model.id.desc()
    stmt = stmt.order_by(order, source.model.id.desc()).limit(limit + 1)
    rows = db.session.execute(stmt).unique().all()
    choices = [f.choice_labels() if f.type == "choice" else {} for f in columns]
    out = []
    for raw in rows[:limit]:
        shown = [display(f, raw[i + 1], choices[i]) for i, f in enumerate(columns)]
        out.append((raw[0], shown))
    return columns, out, len(rows) > limit


def display(f: ReportField, value: Any, choices: Mapping[str, Any] | None = None) -> str:
    """A field's value as text for a table or an export."""
    if value is None or value == "":
        return ""
    if f.type == "choice":
        choices = choices if choices is not None else f.choice_labels()
        return str(choices.get(str(value), value))
    if f.type == "datetime" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if f.type == "money":
        return f"{Decimal(str(value)):,.2f}"
    if f.type == "number" and isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)
