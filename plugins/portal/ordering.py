"""The partner's product and price configurator and its B2B order requests.

A partner picks products and quantities from the catalogue, priced from the partner's price
book (the one its channel manager chose, else the workspace's default book); the totals are
worked out on the server as the quantities change. Sending the order makes, in one
transaction, an open deal for the partner's linked account, a draft quote of those lines in
Sales (priced from the same book) and the order request the partner follows; the deal is
shared with the partner and the channel feed says so. A sent quote can be accepted online.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import g
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Account,
    ValidationFailed,
    audit_record,
    clean_text,
    db,
    module_enabled,
    parse_uuid,
)

from . import channel_feed, partners, shared_deals
from .customer import actor_of
from .models import PortalUser
from .partner_models import OrderRequest, PartnerOrg

MAX_QUANTITY = 100_000
MAX_LINES = 50
CATALOGUE_LIMIT = 200
QTY_FIELD = re.compile(r"^qty-([0-9a-fA-F-]{32,36})$")


@dataclass(frozen=True)
class Offer:
    """One product of the catalogue at the partner's price."""

    product: Any
    unit_price: Decimal


@dataclass(frozen=True)
class Basket:
    """The chosen lines (offer, quantity, amount) and their total."""

    lines: list[tuple[Offer, int, Decimal]]
    total: Decimal
    currency: str


def sales_on() -> bool:
    """Ordering needs Sales (its catalogue, price books and quotes)."""
    return module_enabled("sfa")


def price_book(org: PartnerOrg) -> Any:
    """The partner's active price book, else the workspace's default one, else ``None``.

    Read once per request and organisation (the order page asks several times)."""
    key = (org.id, org.price_book_id)
    known = g.setdefault("portal_price_books", {})
    if key not in known:
        known[key] = _find_price_book(org)
    return known[key]


def _find_price_book(org: PartnerOrg) -> Any:
    from plugins.sfa.products import all_price_books, find_price_book

    if org.price_book_id is not None:
        book = find_price_book(org.price_book_id)
        if book is not None and book.active:
            return book
    return next((b for b in all_price_books(active_only=True) if b.is_default), None)


def price_books() -> list[Any]:
    """The active price books a channel manager can give a partner."""
    from plugins.sfa.products import all_price_books

    return all_price_books(active_only=True) if sales_on() else []


def not_ready(org: PartnerOrg) -> str | None:
    """Why the organisation cannot order yet (``None``: it can)."""
    if not sales_on():
        return _("Ordering is not available.")
    if org.account_id is None or price_book(org) is None:
        return _(
            "Ordering is not set up for your organisation yet: ask your channel manager to "
            "link your account and price book."
        )
    return None


def catalogue(org: PartnerOrg, query: str = "") -> list[Offer]:
    """Active products with a price in the partner's book's currency (matching ``query``),
    at most :data:`CATALOGUE_LIMIT`, by code; priced a page of products per query."""
    from plugins.sfa.products import all_products, prices_of

    book = price_book(org)
    if book is None:
        return []
    products = all_products(active_only=True, q=(query or "").strip()[:100] or None)
    offers: list[Offer] = []
    for start in range(0, len(products), CATALOGUE_LIMIT):
        page = products[start : start + CATALOGUE_LIMIT]
        prices = prices_of(page, book)
        offers.extend(Offer(p, prices[p.id]) for p in page if p.id in prices)
        if len(offers) >= CATALOGUE_LIMIT:
            break
    return offers[:CATALOGUE_LIMIT]


def basket(org: PartnerOrg, data: Any) -> tuple[Basket, dict[str, str]]:
    """The lines the form asks for (``qty-<product id>`` fields), priced; with the problems
    found per field (a quantity that is not a whole number from 0 to 100,000, a product that
    is not for sale). The products are read and priced in one query each."""
    from plugins.sfa.products import find_products, prices_of

    book = price_book(org)
    errors: dict[str, str] = {}
    wanted: list[tuple[str, str, int]] = []  # field, product id, quantity
    for name in list(data.keys())[: MAX_LINES * 20]:
        match = QTY_FIELD.match(name)
        if not match:
            continue
        raw = str(data.get(name) or "").strip()
        if raw in ("", "0"):
            continue
        if not raw.isdigit() or not 0 < int(raw) <= MAX_QUANTITY:
            errors[name] = _("Enter a whole number from 0 to %(max)d.", max=MAX_QUANTITY)
            continue
        wanted.append((name, match.group(1), int(raw)))
    products = find_products(pid for _n, pid, _q in wanted)
    prices = prices_of(products.values(), book) if book is not None else {}
    lines: list[tuple[Offer, int, Decimal]] = []
    for name, pid, quantity in wanted:
        product = products.get(parse_uuid(pid))
        price = prices.get(product.id) if product is not None else None
        if product is None or not product.active or price is None:
            errors[name] = _("This product is not for sale.")
            continue
        lines.append((Offer(product, price), quantity, price * quantity))
    if len(lines) > MAX_LINES:
        errors["lines"] = _("An order has at most %(num)d lines.", num=MAX_LINES)
    total = sum((amount for _o, _q, amount in lines), Decimal(0))
    return Basket(lines, total, book.currency if book else ""), errors


def submit(user: PortalUser, data: Any) -> OrderRequest:
    """Send the order: deal, draft quote and order request in the caller's transaction;
    ``ValidationFailed`` with every problem first, nothing written. Caller commits."""
    from plugins.sfa.deals import create_deal
    from plugins.sfa.quotes import add_line, create_quote

    org = partners.organisation_of(user)
    if org is None:
        raise ValidationFailed({"partner": _("Your partner access is not active.")})
    reason = not_ready(org)
    if reason:
        raise ValidationFailed({"lines": reason})
    chosen, errors = basket(org, data)
    if not chosen.lines and not errors:
        errors["lines"] = _("Enter a quantity for at least one product.")
    values: dict[str, str] = {}
    for name, limit in (("reference", 60), ("notes", 2000)):
        try:
            values[name] = clean_text(data.get(name), limit, multiline=name == "notes") or ""
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    book = price_book(org)
    label = values["reference"] or date.today().isoformat()
    owner_id = db.session.scalar(select(Account.owner_id).where(Account.id == org.account_id))
    deal = create_deal(
        {
            "owner_id": str(owner_id) if owner_id else "",
            "name": _(
                "Order %(reference)s (partner %(partner)s)", reference=label, partner=org.name
            )[:200],
            "account_id": str(org.account_id),
            "amount": str(chosen.total),
            "currency": book.currency,
        }
    )
    quote = create_quote(
        deal, {"price_book_id": str(book.id), "notes": values["notes"]}, actor=None
    )
    for offer, quantity, _amount in chosen.lines:
        add_line(quote, {"product_id": str(offer.product.id), "quantity": str(quantity)})
    row = OrderRequest(
        partner_id=org.id,
        portal_user_id=user.id,
        reference=values["reference"],
        status="quoted",
        currency=book.currency,
        total=chosen.total,
        lines=[
            {
                "product_id": str(offer.product.id),
                "code": offer.product.code,
                "name": offer.product.name,
                "quantity": quantity,
                "unit_price": str(offer.unit_price),
                "amount": str(amount),
            }
            for offer, quantity, amount in chosen.lines
        ],
        notes=values["notes"],
        deal_id=deal.id,
        quote_id=quote.id,
    )
    db.session.add(row)
    db.session.flush()
    shared_deals.share(deal.id, org.id, feed=False)
    channel_feed.record(
        "order_requested", org.id, reference=label, quote=quote.label, total=chosen.total
    )
    audit_record(
        "portal.order_requested",
        target=str(row.id),
        details={"partner": org.name, "quote": quote.label, "total": str(chosen.total)},
        actor=actor_of(user),
        actor_label=f"portal:{user.email}",
    )
    return row


# --------------------------------------------------------------------------- partner side


def of_partner(user: PortalUser) -> list[OrderRequest]:
    """The order requests of the partner user's organisation, newest first."""
    stmt = (
        select(OrderRequest)
        .where(partners.own(OrderRequest, user))
        .order_by(OrderRequest.created_at.desc())
        .limit(500)
    )
    return list(db.session.scalars(stmt))


def one_of_partner(user: PortalUser, order_id: Any) -> OrderRequest | None:
    """One order request of the partner user's organisation, or ``None`` (missing, another
    partner's and another workspace's alike)."""
    oid = parse_uuid(str(order_id or ""))
    if oid is None:
        return None
    stmt = select(OrderRequest).where(OrderRequest.id == oid, partners.own(OrderRequest, user))
    return db.session.scalars(stmt).first()


def quote_of(order: OrderRequest, *, lock: bool = False) -> Any:
    """The Sales quote the order became (``None`` without Sales or once deleted)."""
    if order.quote_id is None or not sales_on():
        return None
    from plugins.sfa.quote_models import Quote

    stmt = select(Quote).where(Quote.id == order.quote_id)
    if lock:
        stmt = stmt.with_for_update(of=Quote)
    return db.session.scalars(stmt).unique().first()


def accept(user: PortalUser, order: OrderRequest) -> Any:
    """The partner accepts the quote its order became, once Sales has sent it (the deal is
    won). ``ValidationFailed`` when it is not sent, or has expired. Caller commits."""
    from .customer import accept as accept_quote_online

    quote = quote_of(order, lock=True)
    if quote is None:
        raise ValidationFailed({"status": _("This quote is no longer available.")})
    accept_quote_online(user, quote)
    return quote
