"""Conversions learned from other modules' domain events (no import of their code).

``deal.won`` (emitted by a sales module) becomes a ``marketing_conversions`` row naming the
deal's contact (``data.contact_id``) and/or account (``data.account_id``), its value
(``data.amount``) and currency, once per deal. Campaign effectiveness and the ``Won a deal``
segment filter read these rows.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import DomainEvent, db, parse_uuid, utcnow

from .models import Conversion


def _amount(raw: Any) -> Decimal | None:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not value.is_finite() or value < 0 or value >= Decimal("1e11"):
        return None
    return value.quantize(Decimal("0.01"))


def record_deal_won(event: DomainEvent) -> Conversion | None:
    """Record a won deal as a conversion (once per deal); caller's transaction."""
    found = db.session.scalars(
        select(Conversion).where(
            Conversion.kind == "deal_won", Conversion.record_id == event.record_id
        )
    ).first()
    if found is not None:
        return found
    contact_id = parse_uuid(str(event.data.get("contact_id") or ""))
    account_id = parse_uuid(str(event.data.get("account_id") or ""))
    if contact_id is None and account_id is None:
        return None
    currency = str(event.data.get("currency") or "")[:3].upper() or None
    conversion = Conversion(
        kind="deal_won",
        record_id=event.record_id,
        contact_id=contact_id,
        account_id=account_id,
        value=_amount(event.data.get("amount")),
        currency=currency,
        occurred_at=utcnow(),
    )
    db.session.add(conversion)
    db.session.flush()
    return conversion
