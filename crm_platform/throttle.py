"""Rate limits a view counts itself (re-exported by ``crm_platform.sdk``).

For pages whose limit depends on more than the route, such as a public form per workspace:
``over_rate_limit("5 per minute;50 per day", "webform", ip)`` counts one hit in a bucket of
the tenant in context and says how long to wait when it is over. Buckets live in the same
storage (Redis) and under the same ``RATELIMIT_KEY_PREFIX`` as the sign-in limits;
``CRM_RATELIMIT_ENABLED=0`` switches them off.
"""

from __future__ import annotations

import math
import time

from flask import current_app
from limits import parse_many

from .extensions import limiter
from .tenancy import current_tenant


def over_rate_limit(limit: str, *identifiers: str) -> int | None:
    """Count one hit of ``limit`` in the bucket ``identifiers`` names (per tenant in context).

    ``limit`` is one or more limits separated by ``;`` (``"5 per minute;50 per day"``).
    Returns ``None`` while under every limit, else the seconds to wait before retrying.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    tenant = current_tenant()
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "crm-rl")
    keys = (prefix, "throttle", str(tenant.id) if tenant else "-", *identifiers)
    strategy = limiter.limiter
    for item in parse_many(limit):
        if not strategy.hit(item, *keys):
            stats = strategy.get_window_stats(item, *keys)
            return max(1, math.ceil(stats.reset_time - time.time()))
    return None
