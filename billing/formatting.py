"""Money and dates as the reader writes them."""

from __future__ import annotations

from datetime import datetime

from flask_babel import format_currency, format_date

from .models import aware


def money(cents: int | None, currency: str = "usd") -> str:
    """``cents`` of ``currency`` in the reader's format (``$15.00``)."""
    return format_currency((cents or 0) / 100, (currency or "usd").upper())


def day(value: datetime | None) -> str:
    """A date in the reader's format (``—`` for none)."""
    return format_date(aware(value), "medium") if value else "—"
