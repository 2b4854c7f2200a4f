"""The tables of products, price books and quotes (tenant-scoped, migration ``sfa_0002_quotes``).

* ``Product``: the catalogue (code, name, list price in its currency, tax rate, unit cost,
  product line, active);
* ``PriceBook`` with its ``PriceBookEntry`` rows: prices per customer group, channel and
  currency; one book per currency may be the default (standard) one;
* ``Quote`` on a deal with its ``QuoteLine`` rows; all money of a quote is kept in integer
  cents, worked out with ``Decimal`` (see ``quotes.py``);
* ``SalesSequence``: per-tenant counters (quote numbers).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_platform.sdk import (
    Base,
    TenantScoped,
    User,
    tenant_foreign_key,
    tenant_relationship,
    utcnow,
)

from .models import AMOUNT, Deal

#: A quote's life: drafted, sent to the customer, then accepted (the deal is won) or rejected.
QUOTE_STATUSES = ("draft", "sent", "accepted", "rejected")
PERCENT = Numeric(5, 2)
QUANTITY = Numeric(12, 3)


class SalesSequence(TenantScoped, Base):
    """A per-tenant counter (``quote``: quote numbers 1, 2, 3 ...)."""

    __tablename__ = "sfa_sequences"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(Integer, default=0)


class Product(TenantScoped, Base):
    """Something the tenant sells, with its list price (the fallback when no price book
    names it), its usual tax rate in percent, and optionally its unit cost and product line
    (the margin analysis)."""

    __tablename__ = "sfa_products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_sfa_products_tenant_line", "tenant_id", "product_line"),
    )

    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    unit_price: Mapped[Decimal] = mapped_column(AMOUNT, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3))
    tax_rate: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    #: What one unit costs the tenant, in the product's currency (``None``: not known).
    cost: Mapped[Decimal | None] = mapped_column(AMOUNT)
    #: The product line it belongs to ("Hardware"), for grouping reports.
    product_line: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class PriceBook(TenantScoped, Base):
    """Prices in one currency, for a customer group and/or a channel (empty: any)."""

    __tablename__ = "sfa_price_books"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    customer_group: Mapped[str | None] = mapped_column(String(60))
    channel: Mapped[str | None] = mapped_column(String(60))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PriceBookEntry(TenantScoped, Base):
    """A product's price in a price book."""

    __tablename__ = "sfa_price_book_entries"
    __table_args__ = (
        tenant_foreign_key("price_book_id", "sfa_price_books", ondelete="CASCADE"),
        tenant_foreign_key("product_id", "sfa_products", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "price_book_id", "product_id"),
    )

    price_book_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    unit_price: Mapped[Decimal] = mapped_column(AMOUNT)

    product: Mapped[Product] = tenant_relationship(
        "PriceBookEntry.product_id", "Product", lazy="joined"
    )


class Quote(TenantScoped, Base):
    """An offer on a deal: numbered lines, totals in cents, a status and a validity date."""

    __tablename__ = "sfa_quotes"
    __table_args__ = (
        tenant_foreign_key("deal_id", "sfa_deals", ondelete="CASCADE"),
        tenant_foreign_key("price_book_id", "sfa_price_books"),
        UniqueConstraint("tenant_id", "number"),
        Index("ix_sfa_quotes_tenant_deal", "tenant_id", "deal_id"),
    )

    deal_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    currency: Mapped[str] = mapped_column(String(3))
    price_book_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    valid_until: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    deal: Mapped[Deal] = tenant_relationship("Quote.deal_id", "Deal")
    price_book: Mapped[PriceBook | None] = tenant_relationship("Quote.price_book_id", "PriceBook")
    created_by: Mapped[User | None] = relationship(User, lazy="joined")

    @property
    def label(self) -> str:
        """The number as shown (``Q-00042``)."""
        return f"Q-{self.number:05d}"

    @property
    def editable(self) -> bool:
        """Only drafts change."""
        return self.status == "draft"


class QuoteLine(TenantScoped, Base):
    """One line of a quote; its cent amounts are worked out from the others when saved."""

    __tablename__ = "sfa_quote_lines"
    __table_args__ = (
        tenant_foreign_key("quote_id", "sfa_quotes", ondelete="CASCADE"),
        tenant_foreign_key("product_id", "sfa_products"),
        Index("ix_sfa_quote_lines_tenant_quote", "tenant_id", "quote_id", "position"),
    )

    quote_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(AMOUNT)
    #: The product's unit cost when the line was priced (a snapshot: later changes of the
    #: product's cost leave it); ``None``: a free line, no cost known, or another currency.
    unit_cost: Mapped[Decimal | None] = mapped_column(AMOUNT)
    discount_percent: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    tax_rate: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    product: Mapped[Product | None] = tenant_relationship(
        "QuoteLine.product_id", "Product", lazy="joined"
    )
