"""The product catalogue and price books: validate, write, and find a product's price.

Prices and unit costs are ``Decimal`` with two decimals, never negative (a cost may be left
empty: not known); tax rates and discounts are percents
between 0 and 100. Bad input raises ``ValidationFailed`` naming each field and nothing is
written. A price book holds prices in one currency for a customer group and/or a channel
(empty: any); per currency one book may be the default (standard) one. ``pick_price_book``
chooses the book of a deal: same currency, then the best match of the account's customer
group and channel (the account's custom fields ``customer_group`` and ``channel``), then the
currency's default book. The caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import false, func, select
from sqlalchemy.orm import aliased

from crm_platform.sdk import ValidationFailed, clean_text, db, parse_uuid, require_tenant, utcnow

from .quote_models import PriceBook, PriceBookEntry, Product
from .settings import clean_currency

MAX_PRICE = Decimal("999999999999.99")
MAX_QUANTITY = Decimal("999999999.999")
HUNDRED = Decimal(100)
#: How many products :func:`prices_of` prices in one query (the size of its ``IN`` list).
PRICE_BATCH = 500


# --------------------------------------------------------------------------- values


def clean_decimal(
    value: Any,
    *,
    places: int = 2,
    high: Decimal = MAX_PRICE,
    required: bool = True,
    default: Decimal | None = None,
    message: str | None = None,
    negative: str | None = None,
) -> Decimal:
    """A non-negative ``Decimal`` with at most ``places`` decimals and at most ``high``.

    Empty input gives ``default`` (or "required" when there is none). Raises ``ValueError``
    with a message for a form field or an API error.
    """
    if isinstance(value, bool):
        raise ValueError(message or _("Enter a number, e.g. 12 or 99.50."))
    if isinstance(value, float):  # a JSON number: read through its shortest text form
        value = repr(value)
    text_value = str(value if value is not None else "").strip().replace(",", "").replace(" ", "")
    if text_value == "":
        if default is not None:
            return default
        if required:
            raise ValueError(_("This field is required."))
        return Decimal(0)
    try:
        number = Decimal(text_value)
    except InvalidOperation as exc:
        raise ValueError(message or _("Enter a number, e.g. 12 or 99.50.")) from exc
    if not number.is_finite():
        raise ValueError(message or _("Enter a number, e.g. 12 or 99.50."))
    if number < 0:
        raise ValueError(negative or _("This cannot be negative."))
    if number > high:
        raise ValueError(_("This is more than %(max)s.", max=str(high)))
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise ValueError(_("Use at most %(num)d decimals.", num=places))
    return number.quantize(step)


def clean_price(value: Any) -> Decimal:
    """A price: two decimals, zero or more."""
    return clean_decimal(value)


def clean_percent(value: Any) -> Decimal:
    """A percent between 0 and 100 with at most two decimals (empty: 0)."""
    return clean_decimal(value, high=HUNDRED, default=Decimal(0))


def _text(limit: int, *, required: bool = False, multiline: bool = False) -> Any:
    def clean(value: Any) -> str | None:
        result = clean_text(value, limit, multiline=multiline)
        if required and not result:
            raise ValueError(_("This field is required."))
        return result

    return clean


def clean_cost(value: Any) -> Decimal | None:
    """A unit cost: empty gives ``None`` (not known), else two decimals, zero or more."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return clean_decimal(value, negative=_("A cost cannot be negative: enter 0 or more."))


def margin_percent(price: Any, cost: Any) -> Decimal | None:
    """The margin in percent of the price, ``(price - cost) / price``, one decimal; ``None``
    when the cost is not known or the price is zero."""
    if cost is None or price is None or Decimal(price) == 0:
        return None
    ratio = (Decimal(price) - Decimal(cost)) / Decimal(price) * HUNDRED
    return ratio.quantize(Decimal("0.1"))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "yes", "y")


def _optional_currency(value: Any) -> str:
    return clean_currency(value)


def _run(fields: Mapping[str, Any], data: Mapping[str, Any], partial: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, clean in fields.items():
        if partial and name not in data:
            continue
        try:
            values[name] = clean(data.get(name))
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return values


# --------------------------------------------------------------------------- products

PRODUCT_FIELDS: dict[str, Any] = {
    "code": _text(60, required=True),
    "name": _text(200, required=True),
    "description": _text(5000, multiline=True),
    "unit_price": clean_price,
    "currency": _optional_currency,
    "tax_rate": clean_percent,
    "cost": clean_cost,
    "product_line": _text(60),
    "active": _flag,
}


def all_products(
    *, active_only: bool = False, q: str | None = None, product_line: str | None = None
) -> list[Product]:
    """The catalogue by code (``active_only``: what can go on a quote; ``product_line``: only
    that line's products, ``""`` those without a line)."""
    stmt = select(Product).order_by(Product.code)
    if active_only:
        stmt = stmt.where(Product.active.is_(True))
    if product_line is not None:
        stmt = stmt.where(
            Product.product_line.is_(None)
            if product_line == ""
            else Product.product_line == product_line
        )
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(Product.code).like(like) | func.lower(Product.name).like(like))
    return list(db.session.scalars(stmt))


def product_lines() -> list[str]:
    """The product lines in use, by name."""
    stmt = (
        select(Product.product_line)
        .where(Product.product_line.is_not(None))
        .distinct()
        .order_by(Product.product_line)
    )
    return [line for line in db.session.scalars(stmt) if line]


def find_product(product_id: Any) -> Product | None:
    """The tenant's product ``product_id`` (any form of id), or ``None``."""
    pid = parse_uuid(product_id)
    return db.session.get(Product, (require_tenant().id, pid)) if pid else None


def find_products(product_ids: Iterable[Any]) -> dict[uuid.UUID, Product]:
    """The tenant's products among ``product_ids`` (any form of id; malformed ones and other
    tenants' are left out), by id, in one query."""
    ids = {pid for pid in map(parse_uuid, product_ids) if pid is not None}
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))}


def _check_code(code: str, product: Product | None) -> None:
    stmt = select(Product.id).where(func.lower(Product.code) == code.lower())
    if product is not None:
        stmt = stmt.where(Product.id != product.id)
    if db.session.scalar(stmt) is not None:
        raise ValidationFailed({"code": _("Another product already has this code.")})


def create_product(data: Mapping[str, Any], *, default_currency: str = "USD") -> Product:
    """Validate and add a product (currency: ``default_currency`` when not given)."""
    data = dict(data)
    if data.get("currency") in (None, ""):
        data["currency"] = default_currency
    data.setdefault("active", True)
    values = _run(PRODUCT_FIELDS, data, partial=False)
    _check_code(values["code"], None)
    product = Product(**values)
    db.session.add(product)
    db.session.flush()
    return product


def update_product(product: Product, data: Mapping[str, Any]) -> list[str]:
    """Validate and apply the fields present in ``data``; the changed names."""
    values = _run(PRODUCT_FIELDS, data, partial=True)
    if "code" in values:
        _check_code(values["code"], product)
    changed = [k for k, v in values.items() if getattr(product, k) != v]
    for name in changed:
        setattr(product, name, values[name])
    if changed:
        product.updated_at = utcnow()
        db.session.flush()
    return changed


# --------------------------------------------------------------------------- price books

BOOK_FIELDS: dict[str, Any] = {
    "name": _text(100, required=True),
    "currency": clean_currency,
    "customer_group": _text(60),
    "channel": _text(60),
    "is_default": _flag,
    "active": _flag,
}


def all_price_books(*, currency: str | None = None, active_only: bool = False) -> list[PriceBook]:
    """Price books, default ones first, then by name."""
    stmt = select(PriceBook).order_by(PriceBook.is_default.desc(), PriceBook.name)
    if currency:
        stmt = stmt.where(PriceBook.currency == currency)
    if active_only:
        stmt = stmt.where(PriceBook.active.is_(True))
    return list(db.session.scalars(stmt))


def find_price_book(book_id: Any) -> PriceBook | None:
    """The tenant's price book ``book_id`` (any form of id), or ``None``."""
    bid = parse_uuid(book_id)
    return db.session.get(PriceBook, (require_tenant().id, bid)) if bid else None


def _check_book(values: dict[str, Any], book: PriceBook | None) -> None:
    if "name" in values:
        stmt = select(PriceBook.id).where(func.lower(PriceBook.name) == values["name"].lower())
        if book is not None:
            stmt = stmt.where(PriceBook.id != book.id)
        if db.session.scalar(stmt) is not None:
            raise ValidationFailed({"name": _("Another price book already has this name.")})
    changes_currency = book is not None and values.get("currency", book.currency) != book.currency
    if changes_currency and entry_count(book) > 0:
        raise ValidationFailed(
            {"currency": _("Remove the book's prices before changing its currency.")}
        )


def _single_default(book: PriceBook) -> None:
    """Only one default book per currency: the others stop being it."""
    if not book.is_default:
        return
    others = select(PriceBook).where(
        PriceBook.currency == book.currency, PriceBook.id != book.id, PriceBook.is_default
    )
    for other in db.session.scalars(others):
        other.is_default = False


def create_price_book(data: Mapping[str, Any]) -> PriceBook:
    """Validate and add a price book."""
    data = dict(data)
    data.setdefault("active", True)
    values = _run(BOOK_FIELDS, data, partial=False)
    _check_book(values, None)
    book = PriceBook(**values)
    db.session.add(book)
    db.session.flush()
    _single_default(book)
    db.session.flush()
    return book


def update_price_book(book: PriceBook, data: Mapping[str, Any]) -> list[str]:
    """Validate and apply the fields present in ``data``; the changed names."""
    values = _run(BOOK_FIELDS, data, partial=True)
    _check_book(values, book)
    changed = [k for k, v in values.items() if getattr(book, k) != v]
    for name in changed:
        setattr(book, name, values[name])
    _single_default(book)
    db.session.flush()
    return changed


def entries(book: PriceBook) -> list[PriceBookEntry]:
    """The book's prices by product code."""
    stmt = (
        select(PriceBookEntry)
        .join(
            Product,
            (Product.tenant_id == PriceBookEntry.tenant_id)
            & (Product.id == PriceBookEntry.product_id),
        )
        .where(PriceBookEntry.price_book_id == book.id)
        .order_by(Product.code)
    )
    return list(db.session.scalars(stmt).unique())


def entry_count(book: PriceBook) -> int:
    """How many prices the book holds."""
    stmt = select(func.count()).where(PriceBookEntry.price_book_id == book.id)
    return db.session.scalar(stmt.select_from(PriceBookEntry)) or 0


def set_entry(book: PriceBook, product_id: Any, price: Any) -> PriceBookEntry:
    """Set (add or change) the price of a product in a book.

    The product must be one of the tenant's (another tenant's id: "no such product").
    """
    errors: dict[str, str] = {}
    product = find_product(product_id)
    if product is None:
        errors["product_id"] = _("There is no such product.")
    try:
        value = clean_price(price)
    except ValueError as exc:
        errors["unit_price"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    entry = db.session.scalars(
        select(PriceBookEntry).where(
            PriceBookEntry.price_book_id == book.id, PriceBookEntry.product_id == product.id
        )
    ).first()
    if entry is None:
        entry = PriceBookEntry(price_book_id=book.id, product_id=product.id, unit_price=value)
        db.session.add(entry)
    else:
        entry.unit_price = value
    db.session.flush()
    return entry


def remove_entry(book: PriceBook, entry_id: Any) -> bool:
    """Remove one price from a book; ``False`` if it is not there."""
    eid = parse_uuid(entry_id)
    if eid is None:
        return False
    entry = db.session.get(PriceBookEntry, (require_tenant().id, eid))
    if entry is None or entry.price_book_id != book.id:
        return False
    db.session.delete(entry)
    db.session.flush()
    return True


# --------------------------------------------------------------------------- pricing


def customer_terms(account: Any) -> tuple[str | None, str | None]:
    """The account's customer group and channel (its custom fields ``customer_group`` and
    ``channel``; empty when it has none)."""
    custom = getattr(account, "custom", None) or {}
    group = str(custom.get("customer_group") or "").strip() or None
    channel = str(custom.get("channel") or "").strip() or None
    return group, channel


def pick_price_book(
    currency: str, customer_group: str | None = None, channel: str | None = None
) -> PriceBook | None:
    """The active price book for a deal in ``currency`` and for this group and channel.

    Books of other currencies never match. Among the rest, a book naming the group and the
    channel wins over one naming only one of them (group first), then over a book for
    anyone; a default book is preferred among equals. ``None``: no book in that currency.
    """
    group = (customer_group or "").lower()
    chan = (channel or "").lower()
    best: tuple[int, PriceBook] | None = None
    for book in all_price_books(currency=currency, active_only=True):
        book_group = (book.customer_group or "").lower()
        book_chan = (book.channel or "").lower()
        if (book_group and book_group != group) or (book_chan and book_chan != chan):
            continue
        score = (4 if book_group else 0) + (2 if book_chan else 0) + (1 if book.is_default else 0)
        if best is None or score > best[0]:
            best = (score, book)
    return best[1] if best else None


def default_book(currency: str) -> PriceBook | None:
    """The currency's default (standard) book, if any (one query)."""
    return db.session.scalars(_default_book_stmt(currency)).first()


def _default_book_stmt(currency: str) -> Any:
    """The currency's default book first (by name, should two be marked default)."""
    return (
        select(PriceBook)
        .where(PriceBook.currency == currency, PriceBook.is_default.is_(True))
        .order_by(PriceBook.name)
        .limit(1)
    )


def prices_of(
    products: Iterable[Product | Any], book: PriceBook | None, currency: str | None = None
) -> dict[uuid.UUID, Decimal]:
    """The unit prices of many products for a quote in ``currency`` (default: the book's)
    priced from ``book``, by product id, in one query per :data:`PRICE_BATCH` products.

    ``products`` are ``Product`` rows or ids (any form; another tenant's or a malformed id is
    left out). Per product: the book's entry (when the book is in ``currency``); else the
    currency's default book's; else the product's list price when it is in ``currency``. A
    product without a price in that currency is not in the answer.
    """
    if currency is None:
        if book is None:
            raise ValueError("prices_of needs a currency when there is no book")
        currency = book.currency
    wanted = (item.id if isinstance(item, Product) else parse_uuid(item) for item in products)
    ids = list(dict.fromkeys(pid for pid in wanted if pid is not None))
    own = aliased(PriceBookEntry)  # the book's entry
    standard = aliased(PriceBookEntry)  # the default book's entry
    own_book = book.id if book is not None and book.currency == currency else None
    default_id = _default_book_stmt(currency).with_only_columns(PriceBook.id).scalar_subquery()
    prices: dict[uuid.UUID, Decimal] = {}
    for start in range(0, len(ids), PRICE_BATCH):
        stmt = (
            select(Product.id, Product.currency, Product.unit_price)
            .add_columns(own.unit_price, standard.unit_price)
            .select_from(Product)
            .outerjoin(
                own,
                (own.tenant_id == Product.tenant_id)
                & (own.product_id == Product.id)
                & ((own.price_book_id == own_book) if own_book is not None else false()),
            )
            .outerjoin(
                standard,
                (standard.tenant_id == Product.tenant_id)
                & (standard.product_id == Product.id)
                & (standard.price_book_id == default_id),
            )
            .where(Product.id.in_(ids[start : start + PRICE_BATCH]))
        )
        for pid, list_currency, list_price, book_price, default_price in db.session.execute(stmt):
            if book_price is not None:
                prices[pid] = Decimal(book_price)
            elif default_price is not None:
                prices[pid] = Decimal(default_price)
            elif list_currency == currency:
                prices[pid] = Decimal(list_price)
    return prices


def price_of(product: Product, book: PriceBook | None, currency: str) -> Decimal | None:
    """The product's unit price for a quote in ``currency`` priced from ``book`` (the rules of
    :func:`prices_of`). ``None``: the product has no price in that currency."""
    return prices_of([product], book, currency).get(product.id)
