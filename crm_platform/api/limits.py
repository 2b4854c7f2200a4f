"""Per-key rate limits of the API: fixed windows counted in Redis (``throttle.hit_limits``),
one round trip a request.

:func:`api_rate_limit` is the one place that says how many requests a key may make: the
tenant's plan (``crm_tenant_policy``), else the platform default. Buckets are per tenant and
key. While Redis is away the limits fail open (``RATELIMIT_SWALLOW_ERRORS``, logged).
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import current_app, g
from limits import parse_many

from ..policy import tenant_policy
from ..throttle import hit_limits
from .errors import ApiError

DEFAULT_RATE_LIMIT = "600 per minute"


def api_rate_limit() -> str:
    """The rate limit of the tenant's API keys: its plan's, else ``CRM_API_RATELIMIT``.

    E.g. ``"600 per minute"``; several limits may be given separated by ``;``. Read through
    this function only. The plan's limit comes from ``policy.tenant_policy`` (the tenant in
    context).
    """
    planned = tenant_policy().api_rate_limit
    return planned or current_app.config.get("API_RATELIMIT") or DEFAULT_RATE_LIMIT


def check_rate_limit(tenant_id: Any, key_id: Any) -> None:
    """Count one request of a key; raise a 429 :class:`ApiError` with Retry-After when over."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "crm-rl")
    counted = hit_limits(parse_many(api_rate_limit()), prefix, "api", str(tenant_id), str(key_id))
    if counted is None:
        return
    now = time.time()
    tightest: tuple[int, int, float] | None = None
    for item, hits, ttl in counted:
        retry = max(ttl, 1)
        reset = now + retry
        remaining = item.amount - hits
        if remaining < 0:
            raise ApiError(
                429,
                "rate_limited",
                f"Rate limit of {item} exceeded; retry in {retry} seconds.",
                headers={
                    "Retry-After": str(retry),
                    "X-RateLimit-Limit": str(item.amount),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(math.ceil(reset)),
                },
            )
        if tightest is None or remaining < tightest[1]:
            tightest = (item.amount, remaining, reset)
    g.crm_api_rate = tightest


def rate_limit_headers(response: Any) -> Any:
    """Add ``X-RateLimit-*`` headers of the request's tightest limit to ``response``."""
    rate = g.get("crm_api_rate")
    if rate is not None:
        amount, remaining, reset = rate
        response.headers.setdefault("X-RateLimit-Limit", str(amount))
        response.headers.setdefault("X-RateLimit-Remaining", str(max(0, remaining)))
        response.headers.setdefault("X-RateLimit-Reset", str(math.ceil(reset)))
    return response
