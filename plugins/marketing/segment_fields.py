"""What a segment can filter on: every field, its type, its operators and its SQL.

A field is one of: a column of the contact (or of its account, or of its customer score,
reached by an outer join), a custom field (JSON, by key), or a fact that lives in another
table (tags, activities, orders, marketing messages, suppressions, conversions from
``deal.won`` events, another segment's members), tested with ``EXISTS`` / ``IN`` subqueries
that lead with ``tenant_id``. :func:`field_catalogue` lists them for the tenant in context
(custom fields included); the compiler turns a rule into one SQL condition with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, select

from crm_platform.sdk import (
    ACTIVITY_KIND_LABELS,
    ACTIVITY_KINDS,
    LIFECYCLE_STAGES,
    REVENUE_STATUSES,
    SOURCES,
    Account,
    Activity,
    Contact,
    Order,
    OrderLine,
    RecordTag,
    custom_fields_of,
    require_tenant,
    tag_key,
    utcnow,
)

from .models import Conversion, CustomerScore, Message, SegmentMember, Suppression

#: Operators of each field type, in the order the builder offers them.
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("is", "is_not", "contains", "not_contains", "starts_with", "is_set", "is_empty"),
    "choice": ("is", "is_not", "in", "not_in", "is_set", "is_empty"),
    "multi": ("contains", "not_contains", "is_set", "is_empty"),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_empty"),
    "amount": ("eq", "ne", "gt", "gte", "lt", "lte", "between"),
    "date": (
        "on",
        "before",
        "after",
        "between",
        "within_days",
        "not_within_days",
        "is_set",
        "is_empty",
    ),
    "tag": ("has", "has_not"),
    "flag": ("is_true", "is_false"),
    "recency": ("within_days", "not_within_days", "ever", "never"),
    "product": ("bought", "not_bought"),
    "segment": ("in_segment", "not_in_segment"),
}
OPERATOR_LABELS = {
    "is": _l("is"),
    "is_not": _l("is not"),
    "contains": _l("contains"),
    "not_contains": _l("does not contain"),
    "starts_with": _l("starts with"),
    "is_set": _l("is filled in"),
    "is_empty": _l("is empty"),
    "in": _l("is one of"),
    "not_in": _l("is none of"),
    "eq": _l("="),
    "ne": _l("≠"),
    "gt": _l(">"),
    "gte": _l("≥"),
    "lt": _l("<"),
    "lte": _l("≤"),
    "between": _l("is between"),
    "on": _l("is on"),
    "before": _l("is before"),
    "after": _l("is after"),
    "within_days": _l("in the last … days"),
    "not_within_days": _l("not in the last … days"),
    "ever": _l("ever"),
    "never": _l("never"),
    "has": _l("has"),
    "has_not": _l("does not have"),
    "is_true": _l("is ticked"),
    "is_false": _l("is not ticked"),
    "bought": _l("bought"),
    "in_segment": _l("is in"),
    "not_in_segment": _l("is not in"),
    "not_bought": _l("never bought"),
}
#: Operators that take no value / a list / two values.
NO_VALUE = frozenset({"is_set", "is_empty", "is_true", "is_false", "ever", "never"})
LIST_VALUE = frozenset({"in", "not_in"})
PAIR_VALUE = frozenset({"between"})
DAYS_VALUE = frozenset({"within_days", "not_within_days"})

SCORE_LIFECYCLES = ("new", "active", "loyal", "at_risk", "churned")
VALUE_TIERS = ("high", "medium", "low")
LIFECYCLE_LABELS = {
    "new": _l("new"),
    "active": _l("active"),
    "loyal": _l("loyal"),
    "at_risk": _l("at risk"),
    "churned": _l("churned"),
}
TIER_LABELS = {"high": _l("high value"), "medium": _l("medium value"), "low": _l("low value")}
GROUPS = {
    "contact": _l("Contact"),
    "account": _l("Account"),
    "custom": _l("Custom fields"),
    "activity": _l("Activities"),
    "orders": _l("Orders"),
    "score": _l("Customer value"),
    "marketing": _l("Marketing"),
    "deals": _l("Deals"),
}

Builder = Callable[["Ctx", str, Any], Any]


@dataclass
class Ctx:
    """What SQL conditions are built against: the tenant, the time, the joins they need."""

    tenant_id: Any
    now: datetime
    joins: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class FieldDef:
    """One filterable field: ``type`` picks its operators; ``column`` or ``build`` its SQL."""

    key: str
    label: Any
    type: str
    group: str
    choices: tuple[tuple[str, Any], ...] = ()
    column: Callable[[], Any] | None = None
    join: str | None = None
    build: Builder | None = None
    kind: str = "column"  # column | custom_text | custom_number | custom_date ... for JSON

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators this field offers."""
        return OPERATORS[self.type]


def _choices(values: tuple[str, ...], labels: dict[str, Any] | None = None) -> tuple:
    return tuple((v, (labels or {}).get(v, v)) for v in values)


def _stage_labels() -> dict[str, Any]:
    return {
        "prospect": _l("prospect"),
        "lead": _l("lead"),
        "customer": _l("customer"),
        "loyal": _l("loyal"),
        "churned": _l("churned"),
    }


# --------------------------------------------------------------------------- subqueries


def _since(ctx: Ctx, days: int) -> datetime:
    return ctx.now - timedelta(days=int(days))


def _recency(ctx: Ctx, op: str, value: Any, base: Any, when: Any) -> Any:
    """``EXISTS`` of rows of ``base`` (a select correlated to the contact), in a time window."""
    if op == "ever":
        return exists(base)
    if op == "never":
        return ~exists(base)
    recent = exists(base.where(when >= _since(ctx, value)))
    return recent if op == "within_days" else ~recent


def _activities(kind: str | None) -> Builder:
    def build(ctx: Ctx, op: str, value: Any) -> Any:
        base = select(Activity.id).where(
            Activity.tenant_id == ctx.tenant_id, Activity.contact_id == Contact.id
        )
        if kind is not None:
            base = base.where(Activity.kind == kind)
        return _recency(ctx, op, value, base, Activity.created_at)

    return build


def _revenue_orders(ctx: Ctx) -> Any:
    return and_(
        Order.tenant_id == ctx.tenant_id,
        Order.contact_id == Contact.id,
        Order.status.in_(REVENUE_STATUSES),
    )


def _zero_matches(op: str, value: Any) -> bool:
    """Whether a customer without orders (count and total 0) meets ``op value``."""
    if op == "between":
        return bool(value[0] <= 0 <= value[1])
    tests = {
        "eq": lambda v: v == 0,
        "ne": lambda v: v != 0,
        "gt": lambda v: v < 0,
        "gte": lambda v: v <= 0,
        "lt": lambda v: v > 0,
        "lte": lambda v: v >= 0,
    }
    return bool(tests[op](value))


ORDER_AGGREGATES: dict[str, Callable[[], Any]] = {
    "orders.count": lambda: func.count(),  # count(*): the index-only scan has no id
    "orders.total": lambda: func.sum(Order.total),
}


def _order_groups(ctx: Ctx) -> Any:
    """The revenue orders of the tenant grouped by contact (what the aggregates run over)."""
    return (
        select(Order.contact_id)
        .where(
            Order.tenant_id == ctx.tenant_id,
            Order.contact_id.is_not(None),
            Order.status.in_(REVENUE_STATUSES),
        )
        .group_by(Order.contact_id)
    )


def needs_an_order(field_key: str, op: str, value: Any) -> bool:
    """Whether a rule is an order aggregate that no customer without orders meets (such rules
    of one group share one grouped pass, :func:`order_aggregates_condition`)."""
    return field_key in ORDER_AGGREGATES and not _zero_matches(op, value)


def order_aggregates_condition(ctx: Ctx, rules: list[tuple[str, str, Any]], match: str) -> Any:
    """Several order-aggregate rules ``(field, op, value)`` of one group (each
    :func:`needs_an_order`) as ONE grouped pass over the orders: contacts ``IN`` the groups
    whose ``HAVING`` holds all (``match == "all"``) or any of them."""
    meets = [number_condition(ORDER_AGGREGATES[f](), op, v) for f, op, v in rules]
    having = and_(*meets) if match == "all" else or_(*meets)
    return Contact.id.in_(_order_groups(ctx).having(having))


def _order_aggregate(aggregate: Callable[[], Any]) -> Builder:
    """A condition on a per-contact aggregate of revenue orders, as one grouped pass over the
    orders (a hash semi- or anti-join), not a correlated subquery per contact: contacts ``IN``
    the groups that meet it, or, when no orders at all meets it too, contacts with no group
    that fails it (``NOT EXISTS``)."""

    def build(ctx: Ctx, op: str, value: Any) -> Any:
        groups = _order_groups(ctx)
        meets = number_condition(aggregate(), op, value)
        if _zero_matches(op, value):  # NOT EXISTS (an anti-join), never NOT IN: NOT IN over
            failing = groups.having(~meets).subquery()  # a big list is a quadratic subplan
            return ~exists(select(failing.c.contact_id).where(failing.c.contact_id == Contact.id))
        return Contact.id.in_(groups.having(meets))

    return build


def _last_order(ctx: Ctx, op: str, value: Any) -> Any:
    base = select(Order.id).where(_revenue_orders(ctx))
    return _recency(ctx, op, value, base, Order.ordered_at)


def _bought(ctx: Ctx, op: str, value: Any) -> Any:
    needle = f"%{like_escape(str(value).casefold())}%"
    line = select(OrderLine.id).where(
        OrderLine.tenant_id == ctx.tenant_id,
        OrderLine.order_id == Order.id,
        or_(
            func.lower(OrderLine.product_name).like(needle, escape="!"),
            func.lower(func.coalesce(OrderLine.sku, "")).like(needle, escape="!"),
        ),
    )
    found = exists(select(Order.id).where(_revenue_orders(ctx), exists(line)))
    return found if op == "bought" else ~found


def _messages(column: Callable[[], Any]) -> Builder:
    def build(ctx: Ctx, op: str, value: Any) -> Any:
        col = column()
        base = select(Message.id).where(
            Message.tenant_id == ctx.tenant_id, Message.contact_id == Contact.id, col.is_not(None)
        )
        return _recency(ctx, op, value, base, col)

    return build


def _suppressed(ctx: Ctx, op: str, value: Any) -> Any:
    found = exists(
        select(Suppression.id).where(
            Suppression.tenant_id == ctx.tenant_id,
            Suppression.email == func.lower(Contact.email),
            Suppression.scope == "all",
        )
    )
    return found if op == "is_true" else ~found


def _deal_won(ctx: Ctx, op: str, value: Any) -> Any:
    base = select(Conversion.id).where(
        Conversion.tenant_id == ctx.tenant_id,
        Conversion.kind == "deal_won",
        or_(
            Conversion.contact_id == Contact.id,
            and_(Contact.account_id.is_not(None), Conversion.account_id == Contact.account_id),
        ),
    )
    return _recency(ctx, op, value, base, Conversion.occurred_at)


def _tags(kind: str) -> Builder:
    def build(ctx: Ctx, op: str, value: Any) -> Any:
        owner = Contact.id if kind == "contact" else Contact.account_id
        tagged = select(RecordTag.record_id).where(
            RecordTag.tenant_id == ctx.tenant_id,
            RecordTag.kind == kind,
            RecordTag.tag == tag_key(str(value)),
        )
        found = owner.in_(tagged)
        if op == "has":
            return found
        return or_(owner.is_(None), ~found) if kind == "account" else ~found

    return build


def _segment(ctx: Ctx, op: str, value: Any) -> Any:
    members = select(SegmentMember.contact_id).where(
        SegmentMember.tenant_id == ctx.tenant_id, SegmentMember.segment_id == value
    )
    found = Contact.id.in_(members)
    return found if op == "in_segment" else ~found


# --------------------------------------------------------------------------- conditions


def like_escape(value: str) -> str:
    """``value`` with LIKE wildcards escaped (escape character ``!``)."""
    return value.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def text_condition(col: Any, op: str, value: Any) -> Any:
    """A text column against an operator (negations include empty values)."""
    lowered = func.lower(col)
    if op == "is":
        return lowered == str(value).casefold()
    if op == "is_not":
        return or_(col.is_(None), lowered != str(value).casefold())
    if op in ("contains", "not_contains"):
        match = lowered.like(f"%{like_escape(str(value).casefold())}%", escape="!")
        return match if op == "contains" else or_(col.is_(None), ~match)
    if op == "starts_with":
        return lowered.like(f"{like_escape(str(value).casefold())}%", escape="!")
    if op == "is_set":
        return and_(col.is_not(None), col != "")
    return or_(col.is_(None), col == "")


def choice_condition(col: Any, op: str, value: Any) -> Any:
    """A column of fixed values against an operator."""
    if op == "is":
        return col == value
    if op == "is_not":
        return or_(col.is_(None), col != value)
    if op == "in":
        return col.in_(list(value))
    if op == "not_in":
        return or_(col.is_(None), col.not_in(list(value)))
    if op == "is_set":
        return and_(col.is_not(None), col != "")
    return or_(col.is_(None), col == "")


def number_condition(col: Any, op: str, value: Any, *, null_is_zero: bool = False) -> Any:
    """A numeric expression against an operator."""
    if null_is_zero:
        col = func.coalesce(col, 0)
    compare = {
        "eq": col == value,
        "gt": col > value,
        "gte": col >= value,
        "lt": col < value,
        "lte": col <= value,
    }
    if op in compare:
        return compare[op]
    if op == "ne":
        return col != value if null_is_zero else or_(col.is_(None), col != value)
    if op == "between":
        return and_(col >= value[0], col <= value[1])
    if op == "is_set":
        return col.is_not(None)
    return col.is_(None)


def date_condition(col: Any, op: str, value: Any, ctx: Ctx, *, kind: str) -> Any:
    """A date or time column against an operator. ``kind``: ``datetime`` (a timestamp),
    ``date`` (a DATE column) or ``iso`` (an ISO date string in JSON)."""

    def at(day: date) -> Any:
        if kind == "datetime":
            return datetime(day.year, day.month, day.day, tzinfo=ctx.now.tzinfo)
        return day.isoformat() if kind == "iso" else day

    if op == "is_set":
        return col.is_not(None)
    if op == "is_empty":
        return col.is_(None)
    if op in DAYS_VALUE:
        since = ctx.now - timedelta(days=int(value))
        bound = since if kind == "datetime" else at(since.date())
        recent = col >= bound
        return recent if op == "within_days" else or_(col.is_(None), col < bound)
    one = timedelta(days=1)
    if op == "on":
        return (
            (col == at(value))
            if kind != "datetime"
            else and_(col >= at(value), col < at(value + one))
        )
    if op == "before":
        return col < at(value)
    if op == "after":
        return col >= at(value + one) if kind == "datetime" else col > at(value)
    low, high = value
    if kind == "datetime":
        return and_(col >= at(low), col < at(high + one))
    return and_(col >= at(low), col <= at(high))


def column_condition(f: FieldDef, col: Any, op: str, value: Any, ctx: Ctx) -> Any:
    """The condition of a column-like field of type ``f.type``."""
    if f.type == "text":
        return text_condition(col, op, value)
    if f.type == "choice":
        return choice_condition(col, op, value)
    if f.type == "number":
        return number_condition(col, op, value)
    if f.type == "date":
        return date_condition(col, op, value, ctx, kind=f.kind)
    if f.type == "multi":
        if op == "is_set":
            return and_(col.is_not(None), col != "[]")
        if op == "is_empty":
            return or_(col.is_(None), col == "[]")
        match = col.like(f"%{like_escape(json.dumps(value))}%", escape="!")
        return match if op == "contains" else or_(col.is_(None), ~match)
    if f.type == "flag":
        return col.is_not(None) if op == "is_true" else col.is_(None)
    raise ValueError(f"no column condition for {f.type}")


# --------------------------------------------------------------------------- catalogue


def _contact(name: str) -> Callable[[], Any]:
    return lambda: getattr(Contact, name)


def _account(name: str) -> Callable[[], Any]:
    return lambda: getattr(Account, name)


def _score(name: str) -> Callable[[], Any]:
    return lambda: getattr(CustomerScore, name)


def _standard_fields() -> list[FieldDef]:
    stages = _choices(LIFECYCLE_STAGES, _stage_labels())
    sources = _choices(SOURCES)
    out = [
        FieldDef(
            "contact.first_name", _l("First name"), "text", "contact", column=_contact("first_name")
        ),
        FieldDef(
            "contact.last_name", _l("Last name"), "text", "contact", column=_contact("last_name")
        ),
        FieldDef("contact.email", _l("E-mail"), "text", "contact", column=_contact("email")),
        FieldDef("contact.title", _l("Job title"), "text", "contact", column=_contact("title")),
        FieldDef("contact.region", _l("Region"), "text", "contact", column=_contact("region")),
        FieldDef(
            "contact.lifecycle_stage",
            _l("Lifecycle stage"),
            "choice",
            "contact",
            stages,
            column=_contact("lifecycle_stage"),
        ),
        FieldDef(
            "contact.source", _l("Source"), "choice", "contact", sources, column=_contact("source")
        ),
        FieldDef(
            "contact.created_at",
            _l("Created"),
            "date",
            "contact",
            column=_contact("created_at"),
            kind="datetime",
        ),
        FieldDef(
            "contact.birthday",
            _l("Birthday"),
            "date",
            "contact",
            column=_contact("birthday"),
            kind="date",
        ),
        FieldDef("contact.tag", _l("Tag"), "tag", "contact", build=_tags("contact")),
        FieldDef(
            "account.name",
            _l("Account name"),
            "text",
            "account",
            column=_account("name"),
            join="account",
        ),
        FieldDef(
            "account.industry",
            _l("Industry"),
            "text",
            "account",
            column=_account("industry"),
            join="account",
        ),
        FieldDef(
            "account.region",
            _l("Account region"),
            "text",
            "account",
            column=_account("region"),
            join="account",
        ),
        FieldDef(
            "account.size",
            _l("Account size"),
            "choice",
            "account",
            _choices(("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")),
            column=_account("size"),
            join="account",
        ),
        FieldDef(
            "account.lifecycle_stage",
            _l("Account lifecycle stage"),
            "choice",
            "account",
            stages,
            column=_account("lifecycle_stage"),
            join="account",
        ),
        FieldDef("account.tag", _l("Account tag"), "tag", "account", build=_tags("account")),
        FieldDef(
            "activity.any", _l("Any activity"), "recency", "activity", build=_activities(None)
        ),
    ]
    for kind in ACTIVITY_KINDS:
        out.append(
            FieldDef(
                f"activity.{kind}",
                ACTIVITY_KIND_LABELS.get(kind, kind),
                "recency",
                "activity",
                build=_activities(kind),
            )
        )
    out += [
        FieldDef(
            "orders.count",
            _l("Number of orders"),
            "amount",
            "orders",
            build=_order_aggregate(ORDER_AGGREGATES["orders.count"]),
        ),
        FieldDef(
            "orders.total",
            _l("Total spent"),
            "amount",
            "orders",
            build=_order_aggregate(ORDER_AGGREGATES["orders.total"]),
        ),
        FieldDef("orders.last", _l("Ordered"), "recency", "orders", build=_last_order),
        FieldDef("orders.product", _l("Product (name or SKU)"), "product", "orders", build=_bought),
        FieldDef(
            "score.lifecycle",
            _l("Customer lifecycle"),
            "choice",
            "score",
            _choices(SCORE_LIFECYCLES, LIFECYCLE_LABELS),
            column=_score("lifecycle"),
            join="score",
        ),
        FieldDef(
            "score.value_tier",
            _l("Value tier"),
            "choice",
            "score",
            _choices(VALUE_TIERS, TIER_LABELS),
            column=_score("value_tier"),
            join="score",
        ),
        FieldDef(
            "score.r_score",
            _l("Recency score (1-5)"),
            "number",
            "score",
            column=_score("r_score"),
            join="score",
        ),
        FieldDef(
            "score.f_score",
            _l("Frequency score (1-5)"),
            "number",
            "score",
            column=_score("f_score"),
            join="score",
        ),
        FieldDef(
            "score.m_score",
            _l("Monetary score (1-5)"),
            "number",
            "score",
            column=_score("m_score"),
            join="score",
        ),
        FieldDef(
            "score.monetary",
            _l("Lifetime value"),
            "number",
            "score",
            column=_score("monetary"),
            join="score",
        ),
        FieldDef(
            "marketing.received",
            _l("Received a campaign e-mail"),
            "recency",
            "marketing",
            build=_messages(lambda: Message.sent_at),
        ),
        FieldDef(
            "marketing.opened",
            _l("Opened a campaign e-mail"),
            "recency",
            "marketing",
            build=_messages(lambda: Message.opened_at),
        ),
        FieldDef(
            "marketing.clicked",
            _l("Clicked in a campaign e-mail"),
            "recency",
            "marketing",
            build=_messages(lambda: Message.clicked_at),
        ),
        FieldDef(
            "marketing.unsubscribed",
            _l("Unsubscribed from everything"),
            "flag",
            "marketing",
            build=_suppressed,
        ),
        FieldDef(
            "marketing.segment", _l("Member of segment"), "segment", "marketing", build=_segment
        ),
        FieldDef(
            "deals.won", _l("Won a deal (deal.won events)"), "recency", "deals", build=_deal_won
        ),
    ]
    return out


CUSTOM_TYPES = {
    "text": ("text", "text"),
    "number": ("number", "custom_number"),
    "date": ("date", "iso"),
    "choice": ("choice", "text"),
    "multi_choice": ("multi", "text"),
    "checkbox": ("flag", "text"),
}


def _custom_fields() -> list[FieldDef]:
    out = []
    for entity, prefix in (("contact", ""), ("account", _("Account") + ": ")):
        for cf in custom_fields_of(entity):
            ftype, kind = CUSTOM_TYPES[cf.type]
            model = Contact if entity == "contact" else Account
            key = cf.key

            def column(model: Any = model, key: str = key, kind: str = kind) -> Any:
                value = model.custom[key]
                return value.as_float() if kind == "custom_number" else value.as_string()

            out.append(
                FieldDef(
                    f"{entity}.custom.{key}",
                    prefix + cf.label,
                    ftype,
                    "custom",
                    _choices(tuple(cf.choices or ())),
                    column=column,
                    join="account" if entity == "account" else None,
                    kind=kind,
                )
            )
    return out


def field_catalogue() -> dict[str, FieldDef]:
    """Every field a segment of the tenant in context may filter on, by key."""
    return {f.key: f for f in [*_standard_fields(), *_custom_fields()]}


def context(now: datetime | None = None) -> Ctx:
    """A :class:`Ctx` for the tenant in context."""
    return Ctx(tenant_id=require_tenant().id, now=now or utcnow())
