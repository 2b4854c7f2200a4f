"""Writing orders: validate every field and line first, then write, emit events.

``create_order``, ``update_order`` and ``delete_order`` are the one write path that pages,
imports, the API and modules (ERP sync, portal) share. Input is a mapping of raw values
(``lines`` a list of mappings); a bad value raises :class:`ValidationFailed` with one message
per field (line fields as ``lines.<n>.<field>``, counting from 0) and nothing is written. The
caller commits, so the order, its lines and whatever plugins write on the domain event land
in one transaction. Events: ``order.created``, ``order.updated``, ``order.deleted``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from .customers import Account, Contact
from .extensions import db
from .ids import parse_uuid, uuid7
from .modules import emit_event
from .orders import ORDER_SOURCES, ORDER_STATUSES, Order, OrderLine
from .provisioning import ValidationFailed
from .records.validation import clean_choice, clean_text
from .records.visibility import find_visible, visible_clause
from .tenancy import utcnow

MAX_LINES = 200
MAX_MONEY = Decimal("1e11")
MAX_QUANTITY = Decimal("1e8")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
HEADER_FIELDS = (
    "number",
    "contact_id",
    "account_id",
    "ordered_at",
    "status",
    "currency",
    "total",
    "external_ref",
    "notes",
)
LINE_FIELDS = ("product_name", "sku", "quantity", "unit_price", "discount", "tax")


def parse_decimal(value: Any, *, places: int = 2, positive: bool = False) -> Decimal | None:
    """A non-negative amount from a number or a string (``1,234.50`` too); ``None`` if empty.

    Raises ``ValueError`` with a message for people.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(_("Enter a number."))
    try:
        number = Decimal(str(value).strip().replace(",", "").replace(" ", ""))
    except InvalidOperation as exc:
        raise ValueError(_("Enter a number.")) from exc
    if not number.is_finite():
        raise ValueError(_("Enter a number."))
    if number < 0 or (positive and number == 0):
        raise ValueError(_("Enter a number above zero.") if positive else _("Enter zero or more."))
    limit = MAX_QUANTITY if places == 3 else MAX_MONEY
    if number >= limit:
        raise ValueError(_("This number is too large."))
    return number.quantize(Decimal(1).scaleb(-places))


def parse_when(value: Any) -> datetime | None:
    """A timezone-aware time from a datetime, a date or an ISO string; ``None`` if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(_("Enter a date as YYYY-MM-DD (a time may follow).")) from exc
    if parsed.year < 1900:
        raise ValueError(_("Enter a date as YYYY-MM-DD (a time may follow)."))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _record(model: Any, value: Any, membership: Any) -> Any:
    if value in (None, ""):
        return None
    record = find_visible(model, value, membership) if membership is not None else None
    if membership is None:
        rid = parse_uuid(value)
        stmt = select(model).where(model.id == rid, model.deleted_at.is_(None))
        record = db.session.execute(stmt).unique().scalar_one_or_none() if rid else None
    if record is None:
        raise ValueError(
            _("Choose one of the contacts.")
            if model is Contact
            else _("Choose one of the accounts.")
        )
    return record


def _check_lines(raw: Any, errors: dict[str, str]) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        errors["lines"] = _("Give the lines as a list.")
        return None
    if len(raw) > MAX_LINES:
        errors["lines"] = _("An order can have at most %(num)d lines.", num=MAX_LINES)
        return None
    lines: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            errors[f"lines.{i}"] = _("Give each line as an object.")
            continue
        if all(item.get(k) in (None, "") for k in LINE_FIELDS):
            continue  # an empty row of a form
        line: dict[str, Any] = {}
        checks = {
            "product_name": lambda v: clean_text(v, 200),
            "sku": lambda v: clean_text(v, 80),
            "quantity": lambda v: parse_decimal(v, places=3, positive=True),
            "unit_price": parse_decimal,
            "discount": parse_decimal,
            "tax": parse_decimal,
        }
        for name, check in checks.items():
            try:
                line[name] = check(item.get(name))
            except ValueError as exc:
                errors[f"lines.{i}.{name}"] = str(exc)
        if not line.get("product_name") and f"lines.{i}.product_name" not in errors:
            errors[f"lines.{i}.product_name"] = _("Name the product.")
        if line.get("unit_price") is None and f"lines.{i}.unit_price" not in errors:
            errors[f"lines.{i}.unit_price"] = _("Enter the unit price.")
        line["quantity"] = line.get("quantity") or Decimal("1")
        line["discount"] = line.get("discount") or Decimal("0")
        line["tax"] = line.get("tax") or Decimal("0")
        lines.append(line)
    return lines


def line_amount(line: Mapping[str, Any]) -> Decimal:
    """``quantity × unit_price − discount + tax`` of a checked line, to the cent."""
    raw = line["quantity"] * line["unit_price"] - line["discount"] + line["tax"]
    return raw.quantize(Decimal("0.01"))


def check_order(
    data: Mapping[str, Any], *, order: Order | None = None, membership: Any = None
) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """Clean ``data`` for a new order or an update: (values, lines or ``None``).

    On an update only the fields present in ``data`` change (``lines`` replaces every line).
    The total is the sum of the lines when there are lines; otherwise it must be given.
    Raises ``ValidationFailed``.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    present = [n for n in HEADER_FIELDS if order is None or n in data]
    for name in present:
        raw = data.get(name)
        try:
            if name == "number":
                values[name] = clean_text(raw, 40)
            elif name == "contact_id":
                contact = _record(Contact, raw, membership)
                values[name] = contact.id if contact else None
                values["_contact"] = contact
            elif name == "account_id":
                account = _record(Account, raw, membership)
                values[name] = account.id if account else None
            elif name == "ordered_at":
                values[name] = parse_when(raw) or (order.ordered_at if order else utcnow())
            elif name == "status":
                values[name] = clean_choice(raw or "paid", ORDER_STATUSES, required=True)
            elif name == "currency":
                code = str(raw or "USD").strip().upper()
                if not _CURRENCY.match(code):
                    raise ValueError(_("Use a three-letter currency code, e.g. USD or CNY."))
                values[name] = code
            elif name == "total":
                values[name] = parse_decimal(raw)
            elif name == "external_ref":
                values[name] = clean_text(raw, 100)
            elif name == "notes":
                values[name] = clean_text(raw, 5000, multiline=True)
        except ValueError as exc:
            errors[name] = str(exc)
    lines = _check_lines(data.get("lines"), errors) if "lines" in data else None
    contact = values.pop("_contact", None)
    if order is None or "contact_id" in values or "account_id" in values:
        contact_id = values.get("contact_id", order.contact_id if order else None)
        account_id = values.get("account_id", order.account_id if order else None)
        if account_id is None and contact is not None and "account_id" not in data:
            values["account_id"] = account_id = contact.account_id
        if (
            contact_id is None
            and account_id is None
            and not ({"contact_id", "account_id"} & set(errors))
        ):
            errors["contact_id"] = _("Choose the contact or the account who ordered.")
    has_lines = bool(lines) if lines is not None else bool(order and order.lines)
    if lines and not errors:
        values["total"] = sum((line_amount(x) for x in lines), Decimal("0.00"))
    elif (
        not has_lines
        and values.get("total") is None
        and "total" not in errors
        and (order is None or "total" in data)
    ):
        errors["total"] = _("Enter the total, or add lines.")
    if errors:
        raise ValidationFailed(errors)
    return values, lines


def _default_number(order_id: uuid.UUID, when: datetime) -> str:
    return f"{when:%Y%m%d}-{order_id.hex[-6:].upper()}"


def create_order(
    data: Mapping[str, Any], *, source: str = "manual", actor: Any = None, membership: Any = None
) -> Order:
    """Validate and add an order with its lines; emits ``order.created``. Caller commits."""
    if source not in ORDER_SOURCES:
        raise ValidationFailed({"source": _("Choose one of the listed options.")})
    values, lines = check_order(data, membership=membership)
    ref = values.get("external_ref")
    if ref and db.session.scalar(
        select(Order.id).where(Order.source == source, Order.external_ref == ref)
    ):
        raise ValidationFailed({"external_ref": _("An order with this reference exists.")})
    order = Order(**values, source=source, created_by_id=getattr(actor, "id", None))
    order.id = uuid7()
    if not order.number:
        order.number = _default_number(order.id, order.ordered_at)
    for position, line in enumerate(lines or []):
        order.lines.append(OrderLine(position=position, **line))
    db.session.add(order)
    db.session.flush()
    emit_event("order.created", record_id=order.id, data=order_summary(order), actor=actor)
    return order


def update_order(
    order: Order, data: Mapping[str, Any], *, actor: Any = None, membership: Any = None
) -> list[str]:
    """Validate and apply ``data``; emits ``order.updated`` when anything changed. Returns the
    names of the changed fields. Caller commits."""
    values, lines = check_order(data, order=order, membership=membership)
    ref = values.get("external_ref")
    if ref and ref != order.external_ref:
        clash = select(Order.id).where(
            Order.source == order.source, Order.external_ref == ref, Order.id != order.id
        )
        if db.session.scalar(clash):
            raise ValidationFailed({"external_ref": _("An order with this reference exists.")})
    changed = [name for name, value in values.items() if getattr(order, name) != value]
    for name in changed:
        setattr(order, name, values[name])
    if lines is not None:
        order.lines.clear()
        db.session.flush()
        for position, line in enumerate(lines):
            order.lines.append(OrderLine(position=position, **line))
        changed.append("lines")
    if changed:
        order.updated_at = utcnow()
        db.session.flush()
        data_out = {**order_summary(order), "changed": changed}
        emit_event("order.updated", record_id=order.id, data=data_out, actor=actor)
    return changed


def delete_order(order: Order, *, actor: Any = None) -> None:
    """Delete an order and its lines (an order entered by mistake); emits ``order.deleted``."""
    summary = order_summary(order)
    db.session.delete(order)
    db.session.flush()
    emit_event("order.deleted", record_id=order.id, data=summary, actor=actor)


def order_summary(order: Order) -> dict[str, Any]:
    """What events say about an order (JSON-serialisable)."""
    return {
        "number": order.number,
        "contact_id": str(order.contact_id) if order.contact_id else None,
        "account_id": str(order.account_id) if order.account_id else None,
        "ordered_at": order.ordered_at.isoformat(),
        "status": order.status,
        "currency": order.currency,
        "total": str(order.total),
        "source": order.source,
    }


def visible_orders_clause(membership: Any) -> Any:
    """The SQL condition for orders whose contact or account ``membership`` may see."""
    contact_rule = visible_clause(Contact, membership)
    account_rule = visible_clause(Account, membership)
    if contact_rule is None and account_rule is None:
        return None
    contacts, accounts = select(Contact.id), select(Account.id)
    if contact_rule is not None:
        contacts = contacts.where(contact_rule)
    if account_rule is not None:
        accounts = accounts.where(account_rule)
    return or_(Order.contact_id.in_(contacts), Order.account_id.in_(accounts))


def get_order(order_id: Any, membership: Any) -> Order | None:
    """The order ``order_id`` if ``membership`` may see its customer, else ``None``."""
    oid = parse_uuid(order_id)
    if oid is None:
        return None
    stmt = select(Order).where(Order.id == oid)
    clause = visible_orders_clause(membership)
    if clause is not None:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).unique().scalar_one_or_none()


def orders_of(kind: str, record: Any, limit: int = 50) -> list[Order]:
    """The newest orders of an account or a contact."""
    column = Order.account_id if kind == "account" else Order.contact_id
    stmt = (
        select(Order)
        .where(column == record.id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt).unique())


def move_orders(kind: str, merged_id: uuid.UUID, survivor_id: uuid.UUID) -> None:
    """Orders of a merged account or contact now belong to the survivor. Caller commits."""
    column = Order.account_id if kind == "account" else Order.contact_id
    db.session.execute(
        update(Order)
        .where(column == merged_id)
        .values({column.key: survivor_id})
        .execution_options(synchronize_session=False)
    )
