"""Quotes on deals: numbering, lines, totals in integer cents, statuses, and quote → won.

Money is worked out with ``Decimal`` and kept in integer cents (no floats anywhere). For a
line: ``subtotal = quantity × unit price``, ``discount = subtotal × discount %``, ``tax =
(subtotal − discount) × tax rate %``, ``total = subtotal − discount + tax``, each rounded half
up to the cent; the quote's amounts are the sums of its lines'.

A quote is in its deal's currency and priced from a price book of that currency (picked by
the account's customer group and channel unless one is chosen; a book in another currency is
refused). Only drafts change. Accepting a quote wins its deal: the deal's amount becomes the
quote's total and the deal moves to its pipeline's won stage through ``deals.move_deal``
(stage history, ``deal.stage_changed`` and ``deal.won``). Bad input raises
``ValidationFailed`` naming each field and nothing is written. The caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from crm_platform.sdk import (
    ValidationFailed,
    approval_hold,
    clean_date,
    clean_text,
    db,
    emit_event,
    parse_uuid,
    require_tenant,
    utcnow,
)

from .deals import move_deal, update_deal
from .models import Deal
from .pipelines import stages_of
from .products import (
    MAX_QUANTITY,
    clean_decimal,
    clean_percent,
    clean_price,
    customer_terms,
    find_price_book,
    find_product,
    pick_price_book,
    price_of,
)
from .quote_models import Quote, QuoteLine, SalesSequence
from .visibility import visible

STATUS_LABELS = {
    "draft": _l("Draft"),
    "sent": _l("Sent"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
}
VALID_DAYS = 30
MAX_LINES = 200
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


# --------------------------------------------------------------------------- money


def to_cents(amount: Decimal) -> int:
    """``Decimal`` money to integer cents, rounded half up."""
    return int((amount * HUNDRED).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _percent_of(cents: int, percent: Decimal) -> int:
    return int((Decimal(cents) * percent / HUNDRED).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_amounts(
    quantity: Decimal, unit_price: Decimal, discount_percent: Decimal, tax_rate: Decimal
) -> dict[str, int]:
    """A line's ``subtotal``, ``discount``, ``tax`` and ``total`` in cents."""
    subtotal = to_cents(Decimal(quantity) * Decimal(unit_price))
    discount = _percent_of(subtotal, Decimal(discount_percent))
    tax = _percent_of(subtotal - discount, Decimal(tax_rate))
    return {
        "subtotal": subtotal,
        "discount": discount,
        "tax": tax,
        "total": subtotal - discount + tax,
    }


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents as a two-decimal amount (``123456`` → ``1234.56``)."""
    return (Decimal(int(cents)) / HUNDRED).quantize(CENT)


# --------------------------------------------------------------------------- reading


def next_number() -> int:
    """The tenant's next quote number (1, 2, 3 ...), safe under concurrent writers."""
    bump = (
        update(SalesSequence)
        .where(SalesSequence.name == "quote")
        .values(value=SalesSequence.value + 1)
        .returning(SalesSequence.value)
        .execution_options(synchronize_session=False)
    )
    value = db.session.execute(bump).scalar_one_or_none()
    if value is None:
        highest = db.session.scalar(select(func.max(Quote.number))) or 0
        db.session.add(SalesSequence(name="quote", value=highest + 1))
        db.session.flush()
        value = highest + 1
    return int(value)


def quotes_of(deal: Deal) -> list[Quote]:
    """A deal's quotes, newest first."""
    stmt = select(Quote).where(Quote.deal_id == deal.id).order_by(Quote.number.desc())
    return list(db.session.scalars(stmt).unique())


def lines_of(quote: Quote) -> list[QuoteLine]:
    """A quote's lines in order."""
    stmt = (
        select(QuoteLine)
        .where(QuoteLine.quote_id == quote.id)
        .order_by(QuoteLine.position, QuoteLine.id)
    )
    return list(db.session.scalars(stmt).unique())


def visible_quote(quote_id: Any, membership: Any) -> Quote | None:
    """The quote ``quote_id`` when ``membership`` may see its deal, else ``None``."""
    qid = parse_uuid(quote_id)
    if qid is None:
        return None
    stmt = (
        select(Quote)
        .join(Deal, (Deal.tenant_id == Quote.tenant_id) & (Deal.id == Quote.deal_id))
        .where(Quote.id == qid, *visible(Deal, membership))
    )
    return db.session.execute(stmt).unique().scalar_one_or_none()


# --------------------------------------------------------------------------- writing


def _book_for(deal: Deal, value: Any) -> Any:
    """The price book a quote of ``deal`` uses (chosen by id, or picked); checks currency."""
    if value not in (None, ""):
        book = find_price_book(value)
        if book is None:
            raise ValidationFailed({"price_book_id": _("There is no such price book.")})
        if book.currency != deal.currency:
            raise ValidationFailed(
                {
                    "price_book_id": _(
                        "The price book “%(book)s” is in %(book_currency)s but the deal is in "
                        "%(deal_currency)s.",
                        book=book.name,
                        book_currency=book.currency,
                        deal_currency=deal.currency,
                    )
                }
            )
        return book
    group, channel = customer_terms(deal.account) if deal.account_id else (None, None)
    return pick_price_book(deal.currency, group, channel)


def _quote_values(data: Mapping[str, Any], partial: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if not partial or "valid_until" in data:
        try:
            values["valid_until"] = clean_date(data.get("valid_until"))
        except ValueError as exc:
            errors["valid_until"] = str(exc)
    if not partial or "notes" in data:
        try:
            values["notes"] = clean_text(data.get("notes"), 5000, multiline=True)
        except ValueError as exc:
            errors["notes"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return values


def create_quote(deal: Deal, data: Mapping[str, Any] | None = None, *, actor: Any = None) -> Quote:
    """A new draft quote on ``deal`` (``price_book_id``, ``valid_until``, ``notes``; default
    validity: 30 days). Refused on a closed deal."""
    data = data or {}
    if deal.status != "open":
        raise ValidationFailed({"deal_id": _("The deal is closed: quotes are for open deals.")})
    values = _quote_values(data, partial=False)
    book = _book_for(deal, data.get("price_book_id"))
    quote = Quote(
        deal_id=deal.id,
        number=next_number(),
        status="draft",
        currency=deal.currency,
        price_book_id=book.id if book else None,
        valid_until=values["valid_until"] or date.today() + timedelta(days=VALID_DAYS),
        notes=values["notes"],
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(quote)
    db.session.flush()
    return quote


def _editable(quote: Quote) -> None:
    if not quote.editable:
        raise ValidationFailed(
            {
                "status": _(
                    "Only draft quotes can be changed; this one is %(status)s.",
                    status=str(STATUS_LABELS[quote.status]).lower(),
                )
            }
        )


def update_quote(quote: Quote, data: Mapping[str, Any]) -> None:
    """Change a draft's ``valid_until``, ``notes`` or ``price_book_id`` (same currency)."""
    _editable(quote)
    values = _quote_values(data, partial=True)
    if "price_book_id" in data:
        book = _book_for(quote.deal, data.get("price_book_id"))
        quote.price_book_id = book.id if book else None
    for name, value in values.items():
        setattr(quote, name, value)
    quote.updated_at = utcnow()
    db.session.flush()


def check_line(quote: Quote, data: Mapping[str, Any], line: QuoteLine | None = None) -> dict:
    """Cleaned values of a line: a product of the tenant (its price from the quote's price
    book unless ``unit_price`` is given, its tax rate unless ``tax_rate`` is, and a snapshot
    of its unit cost), or a free line with a description and a price (no cost). Every
    problem at once in ``ValidationFailed``."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    product = None
    raw_product = data.get("product_id") if "product_id" in data or line is None else None
    if raw_product not in (None, ""):
        product = find_product(raw_product)
        if product is None:
            errors["product_id"] = _("There is no such product.")
        elif not product.active and (line is None or line.product_id != product.id):
            errors["product_id"] = _("“%(name)s” is no longer sold.", name=product.name)
        values["product_id"] = product.id if product else None
    elif "product_id" in data or line is None:
        values["product_id"] = None
    cleaners = {
        "quantity": lambda v: clean_decimal(v, places=3, high=MAX_QUANTITY),
        "discount_percent": clean_percent,
        "tax_rate": clean_percent,
        "unit_price": clean_price,
    }
    for name, clean in cleaners.items():
        raw = data.get(name)
        if raw in (None, "") and (line is not None or name != "quantity"):
            continue
        try:
            values[name] = clean(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    if "quantity" in values and values["quantity"] == 0:
        errors["quantity"] = _("The quantity must be more than zero.")
    try:
        description = clean_text(data.get("description"), 500)
    except ValueError as exc:
        errors["description"] = str(exc)
        description = None
    if errors:
        raise ValidationFailed(errors)
    if product is not None:
        values.setdefault("description", description or product.name)
        if "unit_price" not in values:
            price = price_of(product, quote.price_book, quote.currency)
            if price is None:
                errors["product_id"] = _(
                    "“%(name)s” has no price in %(currency)s: add it to the price book "
                    "or enter a price.",
                    name=product.name,
                    currency=quote.currency,
                )
            values["unit_price"] = price
        values.setdefault("tax_rate", Decimal(product.tax_rate))
        values["unit_cost"] = unit_cost_of(product, quote.currency)
    elif description:
        values["description"] = description
    elif line is None:
        errors["description"] = _("Choose a product or describe the line.")
    if product is None and "product_id" in values:  # a free line, or its product taken off
        values["unit_cost"] = None
    if line is None and "unit_price" not in values and "product_id" not in errors:
        errors["unit_price"] = _("This field is required.")
    if errors:
        raise ValidationFailed(errors)
    return values


def unit_cost_of(product: Any, currency: str) -> Decimal | None:
    """The product's unit cost for a line of a quote in ``currency`` (a snapshot kept on the
    line): its cost when the product is priced in that currency, else ``None`` (costs are
    not converted)."""
    if product.cost is None or product.currency != currency:
        return None
    return Decimal(product.cost)


def _apply_amounts(line: QuoteLine) -> None:
    amounts = line_amounts(line.quantity, line.unit_price, line.discount_percent, line.tax_rate)
    line.subtotal_cents = amounts["subtotal"]
    line.discount_cents = amounts["discount"]
    line.tax_cents = amounts["tax"]
    line.total_cents = amounts["total"]


def recompute(quote: Quote) -> None:
    """The quote's totals from its lines."""
    lines = lines_of(quote)
    quote.subtotal_cents = sum(x.subtotal_cents for x in lines)
    quote.discount_cents = sum(x.discount_cents for x in lines)
    quote.tax_cents = sum(x.tax_cents for x in lines)
    quote.total_cents = sum(x.total_cents for x in lines)
    quote.updated_at = utcnow()
    db.session.flush()


def add_line(quote: Quote, data: Mapping[str, Any]) -> QuoteLine:
    """Validate and add a line to a draft; totals recomputed."""
    _editable(quote)
    values = check_line(quote, data)
    count = db.session.scalar(
        select(func.count()).select_from(QuoteLine).where(QuoteLine.quote_id == quote.id)
    )
    if (count or 0) >= MAX_LINES:
        raise ValidationFailed(
            {"product_id": _("A quote has at most %(num)d lines.", num=MAX_LINES)}
        )
    highest = db.session.scalar(
        select(func.max(QuoteLine.position)).where(QuoteLine.quote_id == quote.id)
    )
    values.setdefault("discount_percent", Decimal(0))
    values.setdefault("tax_rate", Decimal(0))
    line = QuoteLine(quote_id=quote.id, position=(highest or 0) + 1, **values)
    _apply_amounts(line)
    db.session.add(line)
    db.session.flush()
    recompute(quote)
    return line


def find_line(quote: Quote, line_id: Any) -> QuoteLine | None:
    """A line of ``quote`` (``None`` for any other id)."""
    lid = parse_uuid(line_id)
    line = db.session.get(QuoteLine, (require_tenant().id, lid)) if lid else None
    return line if line is not None and line.quote_id == quote.id else None


def update_line(quote: Quote, line: QuoteLine, data: Mapping[str, Any]) -> None:
    """Change a line of a draft (the fields present); totals recomputed."""
    _editable(quote)
    values = check_line(quote, data, line)
    for name, value in values.items():
        setattr(line, name, value)
    _apply_amounts(line)
    db.session.flush()
    recompute(quote)


def remove_line(quote: Quote, line: QuoteLine) -> None:
    """Remove a line from a draft; totals recomputed."""
    _editable(quote)
    db.session.delete(line)
    db.session.flush()
    recompute(quote)


def _emit(quote: Quote, event: str, actor: Any) -> None:
    """``quote.sent`` / ``quote.accepted`` / ``quote.rejected`` with the quote's figures."""
    emit_event(
        event,
        record_id=quote.id,
        data={
            "number": quote.label,
            "deal_id": str(quote.deal_id),
            "status": quote.status,
            "total": str(cents_to_decimal(quote.total_cents)),
            "currency": quote.currency,
        },
        actor=actor,
    )


def mark_sent(quote: Quote, *, actor: Any = None) -> None:
    """A draft with lines goes to the customer (it no longer changes); ``quote.sent``.

    Refused while an approval step holds it (``sdk.approval_hold``: the largest line
    discount is the fact an approval policy checks)."""
    _editable(quote)
    lines = lines_of(quote)
    if not lines:
        raise ValidationFailed({"status": _("Add a line before sending the quote.")})
    top = max(Decimal(line.discount_percent or 0) for line in lines)
    held = approval_hold("quote", quote, "send", {"discount_percent": str(top)}, actor=actor)
    if held:  # an approval step (e.g. a discount above a threshold) is not passed yet
        raise ValidationFailed({"status": held})
    quote.status = "sent"
    quote.sent_at = utcnow()
    db.session.flush()
    _emit(quote, "quote.sent", actor)


def reject_quote(quote: Quote, *, actor: Any = None) -> None:
    """The customer said no (a draft or sent quote); ``quote.rejected``."""
    if quote.status not in ("draft", "sent"):
        raise ValidationFailed({"status": _("Only draft or sent quotes can be rejected.")})
    quote.status = "rejected"
    quote.decided_at = utcnow()
    db.session.flush()
    _emit(quote, "quote.rejected", actor)


def won_stage(deal: Deal) -> Any:
    """The first won stage of the deal's pipeline (``None`` if it has none)."""
    return next((s for s in stages_of(deal.pipeline_id) if s.is_won), None)


def accept_quote(quote: Quote, *, actor: Any = None, version: Any = None) -> None:
    """The customer accepted: the quote is accepted (``quote.accepted``), the deal's amount
    becomes the quote's total and the deal moves to the won stage (history, ``deal.won``).

    Refused when the quote is not draft or sent, has no lines, the deal is closed, or its
    currency is no longer the quote's. ``version``: the deal version the user saw (stale:
    ``StaleDeal``).
    """
    deal = quote.deal
    if quote.status not in ("draft", "sent"):
        raise ValidationFailed({"status": _("Only draft or sent quotes can be accepted.")})
    if not lines_of(quote):
        raise ValidationFailed({"status": _("Add a line before accepting the quote.")})
    if deal.status != "open":
        raise ValidationFailed({"deal_id": _("The deal is already closed.")})
    if deal.currency != quote.currency:
        raise ValidationFailed(
            {
                "currency": _(
                    "The quote is in %(quote)s but the deal is now in %(deal)s.",
                    quote=quote.currency,
                    deal=deal.currency,
                )
            }
        )
    stage = won_stage(deal)
    if stage is None:
        raise ValidationFailed({"deal_id": _("The deal's pipeline has no won stage.")})
    update_deal(deal, {"amount": str(cents_to_decimal(quote.total_cents))}, version=version)
    move_deal(
        deal,
        stage.id,
        reason=_("Quote %(number)s accepted.", number=quote.label),
        actor=actor,
    )
    quote.status = "accepted"
    quote.decided_at = utcnow()
    db.session.flush()
    _emit(quote, "quote.accepted", actor)


def quote_summary(quote: Quote) -> dict[str, Any]:
    """Amounts of a quote as ``Decimal`` (for pages and the PDF)."""
    return {
        "subtotal": cents_to_decimal(quote.subtotal_cents),
        "discount": cents_to_decimal(quote.discount_cents),
        "tax": cents_to_decimal(quote.tax_cents),
        "total": cents_to_decimal(quote.total_cents),
    }


def quote_ids_of_deal(deal_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of a deal's quotes."""
    return list(db.session.scalars(select(Quote.id).where(Quote.deal_id == deal_id)))
