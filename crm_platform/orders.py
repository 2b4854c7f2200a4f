"""Customer orders: a shared fact of the customer record, like activities.

An order belongs to a contact and/or an account and has lines (product, quantity, price,
discount, tax). Orders are entered on the record pages, imported from spreadsheets, created
through the API, or written by modules (ERP sync, portal) through the one write path in
:mod:`crm_platform.order_service`. Modules read them for analysis (RFM scoring, lifetime value,
campaign conversions). ``external_ref`` is the order's id in the system it came from: unique
per tenant and ``source``, so a sync can upsert.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from .extensions import Base
from .tenancy import TenantScoped, tenant_foreign_key, tenant_relationship, utcnow

if TYPE_CHECKING:
    from .customers import Account, Contact

ORDER_STATUSES = ("pending", "paid", "shipped", "completed", "cancelled", "refunded")
#: Statuses whose orders count as revenue (analysis, lifetime value, conversions).
REVENUE_STATUSES = ("pending", "paid", "shipped", "completed")
ORDER_SOURCES = ("manual", "import", "api", "erp", "portal")
STATUS_LABELS = {
    "pending": _l("pending"),
    "paid": _l("paid"),
    "shipped": _l("shipped"),
    "completed": _l("completed"),
    "cancelled": _l("cancelled"),
    "refunded": _l("refunded"),
}
SOURCE_LABELS = {
    "manual": _l("entered"),
    "import": _l("imported"),
    "api": _l("API"),
    "erp": _l("ERP"),
    "portal": _l("portal"),
}
MONEY = Numeric(14, 2)
QUANTITY = Numeric(12, 3)


class Order(TenantScoped, Base):
    """An order a customer (contact and/or account) placed."""

    __tablename__ = "orders"
    __table_args__ = (
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("contact_id", "contacts"),
        UniqueConstraint("tenant_id", "source", "external_ref"),
        Index("ix_orders_tenant_contact", "tenant_id", "contact_id", "ordered_at"),
        Index("ix_orders_tenant_account", "tenant_id", "account_id", "ordered_at"),
        Index("ix_orders_tenant_ordered_at", "tenant_id", "ordered_at"),
        Index("ix_orders_tenant_number", "tenant_id", "number"),
    )

    number: Mapped[str] = mapped_column(String(40))
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ordered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="paid")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    source: Mapped[str] = mapped_column(String(20), default="manual")
    external_ref: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    account: Mapped[Account | None] = tenant_relationship("Order.account_id", "Account")
    contact: Mapped[Contact | None] = tenant_relationship("Order.contact_id", "Contact")
    lines: Mapped[list[OrderLine]] = relationship(
        "OrderLine",
        primaryjoin=lambda: and_(
            Order.tenant_id == OrderLine.tenant_id, Order.id == foreign(OrderLine.order_id)
        ),
        order_by=lambda: OrderLine.position,
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    @property
    def status_label(self) -> str:
        """The translated status."""
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def source_label(self) -> str:
        """Where the order came from, translated."""
        return str(SOURCE_LABELS.get(self.source, self.source))

    @property
    def counts_as_revenue(self) -> bool:
        """False for cancelled and refunded orders."""
        return self.status in REVENUE_STATUSES


class OrderLine(TenantScoped, Base):
    """One product line of an order: ``quantity × unit_price − discount + tax``."""

    __tablename__ = "order_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"], ondelete="CASCADE"
        ),
        Index("ix_order_lines_tenant_order", "tenant_id", "order_id", "position"),
        Index("ix_order_lines_tenant_sku", "tenant_id", "sku"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(80))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    discount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    @property
    def amount(self) -> Decimal:
        """What the line adds to the order's total."""
        raw = self.quantity * self.unit_price - self.discount + self.tax
        return raw.quantize(Decimal("0.01"))
