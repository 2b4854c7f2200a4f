"""The one place the ERP module touches the Sales module: its product catalogue (written
through its service functions) and a won deal's quote lines.

Everything here is used only when the tenant has Sales on (``module_enabled("sfa")``);
callers check first and log that products were skipped otherwise.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import db, module_enabled, require_tenant


def sales_on() -> bool:
    """True when the tenant has the Sales module (and so a product catalogue) on."""
    return module_enabled("sfa")


def product_by_id(product_id: uuid.UUID) -> Any:
    """The Sales product ``product_id``, or ``None``."""
    from plugins.sfa.quote_models import Product

    return db.session.get(Product, (require_tenant().id, product_id))


def product_by_code(code: str) -> Any:
    """The Sales product with ``code`` (case-insensitive), or ``None``."""
    from sqlalchemy import func

    from plugins.sfa.quote_models import Product

    stmt = select(Product).where(func.lower(Product.code) == code.strip().lower())
    return db.session.scalars(stmt).first()


def create_product(values: dict[str, Any]) -> Any:
    """Add a product through the Sales service (validates; raises ``ValidationFailed``)."""
    from plugins.sfa.products import create_product as create

    return create(values)


def update_product(product: Any, values: dict[str, Any]) -> list[str]:
    """Update a product through the Sales service; the changed field names."""
    from plugins.sfa.products import update_product as update

    return update(product, values)


def product_values(product: Any) -> dict[str, Any]:
    """The CRM values of a product as the mapping names them."""
    return {
        "code": product.code,
        "name": product.name,
        "description": product.description,
        "unit_price": str(product.unit_price),
        "currency": product.currency,
        "active": product.active,
    }


def deal(deal_id: uuid.UUID) -> Any:
    """The deal ``deal_id``, or ``None``."""
    from plugins.sfa.models import Deal

    return db.session.get(Deal, (require_tenant().id, deal_id))


def deal_lines(deal_id: uuid.UUID) -> list[dict[str, Any]]:
    """The lines of the deal's accepted (else newest) quote: product id, name, quantity,
    unit price after the line discount. Empty when the deal has no quote."""
    from plugins.sfa.quote_models import Quote, QuoteLine

    quotes = list(
        db.session.scalars(
            select(Quote).where(Quote.deal_id == deal_id).order_by(Quote.created_at.desc())
        )
    )
    if not quotes:
        return []
    quote = next((q for q in quotes if q.status == "accepted"), quotes[0])
    rows = db.session.scalars(
        select(QuoteLine).where(QuoteLine.quote_id == quote.id).order_by(QuoteLine.position)
    )
    out = []
    for line in rows:
        price = line.unit_price * (Decimal(100) - (line.discount_percent or 0)) / Decimal(100)
        out.append(
            {
                "product_id": line.product_id,
                "name": line.description,
                "quantity": str(line.quantity),
                "unit_price": str(price.quantize(Decimal("0.01"))),
            }
        )
    return out
