"""Rate limits counted in Redis: the one fixed-window counter of the app (re-exported by
``crm_platform.sdk``).

:func:`hit_limits` counts one hit in each of several windows in one round trip (a Lua
script per window, pipelined); the API's per-key limits (``crm_platform.api.limits``) and
:func:`over_rate_limit` both count with it. While Redis is away the limits fail open
(``RATELIMIT_SWALLOW_ERRORS``, the default; logged), as the sign-in limits do.

For pages whose limit depends on more than the route, such as a public form per workspace:
``over_rate_limit("5 per minute;50 per day", "webform", ip)`` counts one hit in a bucket of
the tenant in context and says how long to wait when it is over. Buckets live in the same
Redis and under the same ``RATELIMIT_KEY_PREFIX`` as the sign-in limits;
``CRM_RATELIMIT_ENABLED=0`` switches them off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import current_app
from limits import RateLimitItem, parse_many

from .redis_conn import get_redis
from .tenancy import current_tenant

log = logging.getLogger(__name__)

#: Count one hit of a window (KEYS[1], ARGV[1] seconds long): its count and seconds left.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
"""


def hit_limits(
    items: Sequence[RateLimitItem], *identifiers: str
) -> list[tuple[RateLimitItem, int, int]] | None:
    """Count one hit in the window of each of ``items`` for the bucket ``identifiers`` name, in
    one round trip to Redis: ``(item, hits so far, seconds left)`` each; ``None`` when Redis is
    away and the limits fail open."""
    try:
        redis = get_redis()
        script = current_app.extensions.get("crm_rate_hit")
        if script is None:
            script = current_app.extensions["crm_rate_hit"] = redis.register_script(_HIT)
        pipe = redis.pipeline(transaction=False)
        for item in items:
            script(keys=[item.key_for(*identifiers)], args=[item.get_expiry()], client=pipe)
        counted = pipe.execute()
    except Exception:
        if not current_app.config.get("RATELIMIT_SWALLOW_ERRORS", True):
            raise
        log.warning("rate limits not counted: Redis is away", exc_info=True)
        return None
    return [(item, int(n), int(ttl)) for item, (n, ttl) in zip(items, counted, strict=True)]


def over_rate_limit(limit: str, *identifiers: str) -> int | None:
    """Count one hit of ``limit`` in the bucket ``identifiers`` names (per tenant in context).

    ``limit`` is one or more limits separated by ``;`` (``"5 per minute;50 per day"``); a
    hit counts in each of them. Returns ``None`` while under every limit, else the seconds to
    wait before retrying (until the longest-lasting window that is over ends).
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    tenant = current_tenant()
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "crm-rl")
    keys = (prefix, "throttle", str(tenant.id) if tenant else "-", *identifiers)
    counted = hit_limits(parse_many(limit), *keys)
    if counted is None:
        return None
    waits = [max(1, ttl) for item, hits, ttl in counted if hits > item.amount]
    return max(waits) if waits else None
