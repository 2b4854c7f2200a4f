"""API resources of the catalogue and quotes: ``/api/v1/products``, ``/api/v1/price-books``
and ``/api/v1/quotes``.

Same rules as ``api.py``: the key acts as its member (a quote is seen by whoever sees its
deal; another tenant's or an invisible record answers 404), writes go through the services of
the pages, errors use the API's one shape (400 ``validation_failed`` naming each field, 409
``conflict`` for a stale deal ``version`` when accepting). Money: prices and percents are
decimal strings; a quote's amounts are integer cents (``*_cents``).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm_platform.sdk import (
    ApiResource,
    ValidationFailed,
    api_blueprint,
    api_doc,
    api_error,
    api_json,
    api_page,
    db,
    parse_uuid,
    require_permission,
)

from .api import STAMP, TEXT, UUID, _by_id, _choice, _conflict, _input, _json, _param, _refused
from .deals import StaleDeal
from .models import Deal
from .products import (
    create_price_book,
    create_product,
    entries,
    find_price_book,
    find_product,
    set_entry,
    update_price_book,
    update_product,
)
from .quote_models import QUOTE_STATUSES, PriceBook, Product, Quote
from .quote_pdf import render_quote_pdf
from .quotes import (
    accept_quote,
    add_line,
    create_quote,
    find_line,
    lines_of,
    mark_sent,
    reject_quote,
    remove_line,
    update_quote,
    visible_quote,
)
from .settings import sales_settings
from .visibility import get_visible_or_404, visible

products_api = api_blueprint("products", __name__)
price_books_api = api_blueprint("price-books", __name__)
quotes_api = api_blueprint("quotes", __name__)

DECIMAL = {"type": "string", "pattern": r"^\d+(\.\d+)?$"}
NULL_DECIMAL = {"type": ["string", "null"], "pattern": r"^\d+(\.\d+)?$"}
CENTS = {"type": "integer", "readOnly": True}

PRODUCT_SCHEMA = {
    "type": "object",
    "required": ["code", "name", "unit_price"],
    "properties": {
        "id": {**UUID, "readOnly": True},
        "object": {"const": "product", "readOnly": True},
        "code": {"type": "string", "maxLength": 60},
        "name": {"type": "string", "maxLength": 200},
        "description": TEXT,
        "unit_price": {**DECIMAL, "description": "List price, two decimals, zero or more."},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
        "tax_rate": {**DECIMAL, "description": "Percent, 0 to 100."},
        "cost": {
            **NULL_DECIMAL,
            "description": "Unit cost in the product's currency, two decimals, zero or more; "
            "null: not known.",
        },
        "product_line": {
            "type": ["string", "null"],
            "maxLength": 60,
            "description": "The product line it belongs to (groups reports).",
        },
        "active": {"type": "boolean"},
        "created_at": STAMP,
        "updated_at": STAMP,
    },
}
PRICE_BOOK_SCHEMA = {
    "type": "object",
    "required": ["name", "currency"],
    "properties": {
        "id": {**UUID, "readOnly": True},
        "object": {"const": "price_book", "readOnly": True},
        "name": {"type": "string", "maxLength": 100},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
        "customer_group": TEXT,
        "channel": TEXT,
        "is_default": {"type": "boolean"},
        "active": {"type": "boolean"},
        "entries": {
            "type": "array",
            "readOnly": True,
            "items": {
                "type": "object",
                "properties": {"id": UUID, "product_id": UUID, "unit_price": DECIMAL},
            },
        },
        "created_at": STAMP,
    },
}
LINE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {**UUID, "readOnly": True},
        "product_id": {"type": ["string", "null"], "format": "uuid"},
        "description": TEXT,
        "quantity": DECIMAL,
        "unit_price": {**DECIMAL, "description": "Leave out: the price book's price."},
        "unit_cost": {
            **NULL_DECIMAL,
            "readOnly": True,
            "description": "The product's unit cost when the line was priced (kept when the "
            "product's cost changes); null: a free line, no cost known, or a product in "
            "another currency.",
        },
        "discount_percent": DECIMAL,
        "tax_rate": {**DECIMAL, "description": "Leave out: the product's rate."},
        "subtotal_cents": CENTS,
        "discount_cents": CENTS,
        "tax_cents": CENTS,
        "total_cents": CENTS,
    },
}
QUOTE_SCHEMA = {
    "type": "object",
    "required": ["deal_id"],
    "properties": {
        "id": {**UUID, "readOnly": True},
        "object": {"const": "quote", "readOnly": True},
        "deal_id": UUID,
        "number": {"type": "integer", "readOnly": True},
        "label": {"type": "string", "readOnly": True},
        "status": {"type": "string", "enum": list(QUOTE_STATUSES), "readOnly": True},
        "currency": {"type": "string", "readOnly": True},
        "price_book_id": {
            "type": ["string", "null"],
            "format": "uuid",
            "description": "Leave out: picked by the deal's currency and the account's group "
            "and channel. A book in another currency is refused.",
        },
        "valid_until": {"type": ["string", "null"], "format": "date"},
        "notes": TEXT,
        "lines": {"type": "array", "items": LINE_SCHEMA},
        "subtotal_cents": CENTS,
        "discount_cents": CENTS,
        "tax_cents": CENTS,
        "total_cents": CENTS,
        "created_at": STAMP,
        "updated_at": STAMP,
    },
}


def _fields(row: Any, schema: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        name: _json(getattr(row, name))
        for name in schema["properties"]
        if name not in ("object", *skip)
    }


def product_json(product: Product) -> dict[str, Any]:
    """A product as the API shows it."""
    return {"object": "product", **_fields(product, PRODUCT_SCHEMA)}


def price_book_json(book: PriceBook) -> dict[str, Any]:
    """A price book with its prices."""
    return {
        "object": "price_book",
        **_fields(book, PRICE_BOOK_SCHEMA, ("entries",)),
        "entries": [
            {"id": str(e.id), "product_id": str(e.product_id), "unit_price": str(e.unit_price)}
            for e in entries(book)
        ],
    }


def quote_json(quote: Quote) -> dict[str, Any]:
    """A quote with its lines."""
    return {
        "object": "quote",
        **_fields(quote, QUOTE_SCHEMA, ("lines",)),
        "lines": [
            {name: _json(getattr(line, name)) for name in LINE_SCHEMA["properties"]}
            for line in lines_of(quote)
        ],
    }


def _filtered(stmt: Any, allowed: dict[str, Any]) -> Any:
    errors: dict[str, str] = {}
    for name, value in request.args.items():
        if name in ("limit", "cursor"):
            continue
        if name not in allowed:
            errors[name] = "Unknown query parameter."
            continue
        try:
            stmt = allowed[name](stmt, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        api_error(400, "validation_failed", "Some query parameters are not valid.", errors)
    return stmt


def _active(stmt: Any, value: str) -> Any:
    if value not in ("true", "false"):
        raise ValueError("true or false.")
    return stmt.where(Product.active.is_(value == "true"))


def _or_404(row: Any) -> Any:
    if row is None:
        api_error(404, "not_found", "There is no such record.")
    return row


# --------------------------------------------------------------------------- products

PRODUCT_WRITABLE = {
    "code",
    "name",
    "description",
    "unit_price",
    "currency",
    "tax_rate",
    "cost",
    "product_line",
    "active",
}


@products_api.get("")
@require_permission("sfa.read")
@api_doc(
    response_schema="Products",
    many=True,
    parameters=[
        _param("active", "'true' or 'false'."),
        _param("q", "Code or name contains."),
        _param("product_line", "The products of this product line."),
    ],
)
def list_products() -> Any:
    def text(stmt: Any, value: str) -> Any:
        like = f"%{value.strip().lower()[:100]}%"
        return stmt.where(
            Product.code.ilike(like) | Product.name.ilike(like)  # type: ignore[operator]
        )

    def line(stmt: Any, value: str) -> Any:
        return stmt.where(Product.product_line == " ".join(value.split())[:60])

    stmt = _filtered(select(Product), {"active": _active, "q": text, "product_line": line})
    return api_page(stmt, Product.id, product_json, list_name="products")


@products_api.post("")
@require_permission("sfa.manage")
def create_product_api() -> Any:
    data = _input(api_json(), PRODUCT_WRITABLE)
    try:
        product = create_product(data, default_currency=sales_settings().currency)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    location = url_for("api_products.get_product", product_id=product.id)
    return product_json(product), 201, {"Location": location}


@products_api.get("/<product_id>")
@require_permission("sfa.read")
def get_product(product_id: str) -> Any:
    return product_json(_or_404(find_product(product_id)))


@products_api.patch("/<product_id>")
@require_permission("sfa.manage")
def update_product_api(product_id: str) -> Any:
    product = _or_404(find_product(product_id))
    data = _input(api_json(), PRODUCT_WRITABLE)
    try:
        update_product(product, data)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return product_json(product)


# --------------------------------------------------------------------------- price books

BOOK_WRITABLE = {"name", "currency", "customer_group", "channel", "is_default", "active"}


@price_books_api.get("")
@require_permission("sfa.read")
@api_doc(response_schema="PriceBooks", many=True)
def list_price_books() -> Any:
    stmt = _filtered(select(PriceBook), {})
    return api_page(stmt, PriceBook.id, price_book_json, list_name="price-books")


@price_books_api.post("")
@require_permission("sfa.manage")
def create_price_book_api() -> Any:
    data = _input(api_json(), BOOK_WRITABLE)
    try:
        book = create_price_book(data)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    location = url_for("api_price_books.get_price_book", book_id=book.id)
    return price_book_json(book), 201, {"Location": location}


@price_books_api.get("/<book_id>")
@require_permission("sfa.read")
def get_price_book(book_id: str) -> Any:
    return price_book_json(_or_404(find_price_book(book_id)))


@price_books_api.patch("/<book_id>")
@require_permission("sfa.manage")
def update_price_book_api(book_id: str) -> Any:
    book = _or_404(find_price_book(book_id))
    data = _input(api_json(), BOOK_WRITABLE)
    try:
        update_price_book(book, data)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return price_book_json(book)


@price_books_api.post("/<book_id>/entries")
@require_permission("sfa.manage")
@api_doc("Set a product's price in the book (adds or changes it).", status=200)
def set_entry_api(book_id: str) -> Any:
    book = _or_404(find_price_book(book_id))
    body = _input(api_json(), {"product_id", "unit_price"})
    try:
        set_entry(book, body.get("product_id"), body.get("unit_price"))
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return price_book_json(book)


# --------------------------------------------------------------------------- quotes

QUOTE_WRITABLE = {"deal_id", "price_book_id", "valid_until", "notes", "lines"}
LINE_WRITABLE = {
    "product_id",
    "description",
    "quantity",
    "unit_price",
    "discount_percent",
    "tax_rate",
}


def _quote_or_404(quote_id: str) -> Quote:
    return _or_404(visible_quote(quote_id, g.membership))


def _visible_quotes() -> Any:
    return (
        select(Quote)
        .join(Deal, (Deal.tenant_id == Quote.tenant_id) & (Deal.id == Quote.deal_id))
        .where(*visible(Deal, g.membership))
    )


@quotes_api.get("")
@require_permission("sfa.read")
@api_doc(
    response_schema="Quotes",
    many=True,
    parameters=[
        _param("deal_id", "Quotes of this deal."),
        _param("status", "draft, sent, accepted or rejected."),
    ],
)
def list_quotes() -> Any:
    allowed = {"deal_id": _by_id(Quote.deal_id), "status": _choice(Quote.status, QUOTE_STATUSES)}
    stmt = _filtered(_visible_quotes(), allowed)
    return api_page(stmt, Quote.id, quote_json, list_name="quotes", descending=True)


def _line_input(raw: Any, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        api_error(
            400,
            "validation_failed",
            "Some fields are not valid.",
            {f"lines[{index}]": "An object."},
        )
    unknown = {f"lines[{index}].{k}": "Unknown field." for k in raw if k not in LINE_WRITABLE}
    if unknown:
        api_error(400, "validation_failed", "Some fields are not valid.", unknown)
    return {
        k: (str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
        for k, v in raw.items()
    }


@quotes_api.post("")
@require_permission("sfa.write")
@api_doc("Draft a quote on a deal, with its lines (all or nothing).", status=201)
def create_quote_api() -> Any:
    body = _input(api_json(), QUOTE_WRITABLE)
    raw_lines = body.pop("lines", None) or []
    if not isinstance(raw_lines, list):
        api_error(400, "validation_failed", "Some fields are not valid.", {"lines": "A list."})
    lines = [_line_input(raw, i) for i, raw in enumerate(raw_lines)]
    if parse_uuid(body.get("deal_id")) is None:
        api_error(
            400,
            "validation_failed",
            "Some fields are not valid.",
            {"deal_id": "Choose one of the deals."},
        )
    deal = get_visible_or_404(Deal, body["deal_id"], g.membership)
    try:
        quote = create_quote(deal, body, actor=current_user)
        for index, line in enumerate(lines):
            try:
                add_line(quote, line)
            except ValidationFailed as exc:
                raise ValidationFailed(
                    {f"lines[{index}].{k}": v for k, v in exc.errors.items()}
                ) from exc
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    location = url_for("api_quotes.get_quote", quote_id=quote.id)
    return quote_json(quote), 201, {"Location": location}


@quotes_api.get("/<quote_id>")
@require_permission("sfa.read")
def get_quote(quote_id: str) -> Any:
    return quote_json(_quote_or_404(quote_id))


@quotes_api.patch("/<quote_id>")
@require_permission("sfa.write")
def update_quote_api(quote_id: str) -> Any:
    quote = _quote_or_404(quote_id)
    data = _input(api_json(), {"price_book_id", "valid_until", "notes"})
    try:
        update_quote(quote, data)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return quote_json(quote)


@quotes_api.post("/<quote_id>/lines")
@require_permission("sfa.write")
@api_doc("Add a line to a draft quote; the totals are worked out again.", status=201)
def add_line_api(quote_id: str) -> Any:
    quote = _quote_or_404(quote_id)
    data = _line_input(api_json(), 0)
    try:
        add_line(quote, data)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return quote_json(quote), 201


@quotes_api.delete("/<quote_id>/lines/<line_id>")
@require_permission("sfa.write")
def remove_line_api(quote_id: str, line_id: str) -> Any:
    quote = _quote_or_404(quote_id)
    line = _or_404(find_line(quote, line_id))
    try:
        remove_line(quote, line)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return quote_json(quote)


def _transition(quote_id: str, action: Any) -> Any:
    quote = _quote_or_404(quote_id)
    try:
        action(quote)
        db.session.commit()
    except (StaleDeal, StaleDataError):
        _conflict(str(quote.deal_id))
    except ValidationFailed as exc:
        _refused(exc)
    return quote_json(quote)


@quotes_api.post("/<quote_id>/send")
@require_permission("sfa.write")
@api_doc("Mark a draft as sent to the customer.", status=200)
def send_quote_api(quote_id: str) -> Any:
    return _transition(quote_id, lambda q: mark_sent(q, actor=current_user))


@quotes_api.post("/<quote_id>/accept")
@require_permission("sfa.write")
@api_doc(
    "The customer accepted: the deal's amount becomes the quote's total and the deal is won.",
    status=200,
    description="Send the deal's `version` to refuse (409) when someone changed the deal.",
)
def accept_quote_api(quote_id: str) -> Any:
    body = _input(api_json() if request.data else {}, {"version"})
    return _transition(
        quote_id, lambda q: accept_quote(q, actor=current_user, version=body.get("version"))
    )


@quotes_api.post("/<quote_id>/reject")
@require_permission("sfa.write")
@api_doc("The customer said no.", status=200)
def reject_quote_api(quote_id: str) -> Any:
    return _transition(quote_id, lambda q: reject_quote(q, actor=current_user))


@quotes_api.get("/<quote_id>/pdf")
@require_permission("sfa.read")
@api_doc("The quote as a PDF document.", status=200)
def quote_pdf_api(quote_id: str) -> Any:
    quote = _quote_or_404(quote_id)
    return Response(render_quote_pdf(quote, g.tenant.name), mimetype="application/pdf")


def quote_api_resources() -> list[ApiResource]:
    """The resources this part adds (``plugin.crm_api_resources`` lists them)."""
    return [
        ApiResource("products", products_api, PRODUCT_SCHEMA),
        ApiResource("price-books", price_books_api, PRICE_BOOK_SCHEMA),
        ApiResource("quotes", quotes_api, QUOTE_SCHEMA),
    ]
