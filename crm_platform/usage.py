"""Metered usage: plugins count what a plan may bill by use (``sdk.record_usage``).

The core only validates and passes the record on through ``crm_usage_recorded``; billing
stores it and reports it to the payment gateway.
"""

from __future__ import annotations

import re

from .plugins import get_plugin_manager
from .tenancy import require_tenant

_METRIC = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def record_usage(metric: str, quantity: int = 1, idempotency_key: str | None = None) -> None:
    """Record ``quantity`` units of ``metric`` (e.g. ``"marketing_emails"``) for the tenant in
    context, in the caller's transaction. The same ``idempotency_key`` counts once.

    Raises ``ValueError`` for a malformed metric name (``[a-z][a-z0-9_]+``, at most 40
    characters), a quantity below 1, or a key longer than 200 characters.
    """
    if not _METRIC.match(metric or ""):
        raise ValueError(f"usage metric {metric!r} must match {_METRIC.pattern}")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError("usage quantity must be a whole number of at least 1")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
        raise ValueError("an idempotency key has 1 to 200 characters")
    get_plugin_manager().hook.crm_usage_recorded(
        tenant=require_tenant(),
        metric=metric,
        quantity=quantity,
        idempotency_key=idempotency_key,
    )
