"""Authentication of every API request (core and plugin resources share this function).

``Authorization: Bearer <key>`` is the only credential: session cookies are ignored. The key
names its tenant; the tenant's context (ORM criteria and row-level security) is entered
before the key row is read, and the request then acts as the member who created the key,
with that member's role and record visibility.

What a key stands for (its tenant, the key row, the member it acts as) is read once per
process and then kept in :mod:`~crm_platform.tenant_cache` while the tenant's epoch stands:
revoking a key, removing a member or suspending the tenant changes the epoch, so every
process sees it on its next request.

Answers: no, malformed, unknown or revoked key, or a creator who left the workspace → 401;
a suspended tenant → 403; a read-only key on a write → 403; a write while the tenant is
read-only (unpaid, canceled) → 403 ``read_only``; a plugin resource whose module
is off for the tenant → 404; over the key's rate limit → 429.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel import Locale
from flask import current_app, g, request
from sqlalchemy import select, update

from ..extensions import db
from ..identity import Membership, Tenant
from ..modules import module_enabled
from ..plugins import module_registry
from ..policy import refuse_read_only_api
from ..tenancy import enter_tenant, tenant_context, utcnow
from ..tenant_cache import IGNORE, cached, detached
from .errors import ApiError
from .limits import check_rate_limit
from .models import ApiKey, ParsedToken, find_key, hash_token, parse_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``last_used_at`` is written at most this often per key.
LAST_USED_GRANULARITY = timedelta(seconds=60)


def _unauthorized(message: str = "Send a valid API key as 'Authorization: Bearer <key>'.") -> Any:
    return ApiError(401, "unauthorized", message)


def _api_locale() -> None:
    """API messages follow ``Accept-Language`` (else English), never a stored preference."""
    supported = current_app.config["LANGUAGES"]
    primaries = {code.split("_")[0]: code for code in reversed(supported)}
    best = request.accept_languages.best_match([*supported, *primaries]) or "en"
    from flask_babel import _get_current_context

    ctx = _get_current_context()
    if ctx is not None:
        ctx.babel_locale = Locale.parse(primaries.get(best, best))


@dataclass
class KeyFacts:
    """What a key stands for, detached from any session (shared by a process's requests)."""

    tenant: Tenant
    key: ApiKey
    membership: Membership
    #: When this process last stamped ``last_used_at`` (the cached row does not follow it).
    touched_at: datetime | None


def _load_key(token: str, parsed: ParsedToken) -> KeyFacts:
    """Read the key's tenant, row and member from the database (raises 401 when not valid)."""
    tenant = db.session.get(Tenant, parsed.tenant_id)
    if tenant is None:
        raise _unauthorized("This API key is not valid.")
    with tenant_context(tenant):
        key = find_key(token, parsed)
        if key is None:
            raise _unauthorized("This API key is not valid or was revoked.")
        membership = None
        if key.created_by_id is not None:
            membership = db.session.execute(
                select(Membership).where(Membership.user_id == key.created_by_id)
            ).scalar_one_or_none()
        if membership is None or not membership.user.active:
            raise _unauthorized(
                "The member who created this API key is no longer in the workspace."
            )
        detached(db.session, {tenant, key, membership, membership.user})
    return KeyFacts(tenant, key, membership, key.last_used_at)


def authenticate() -> None:
    """``before_request`` of every API blueprint: resolve the key, tenant and member."""
    # Never a session's user: the API knows only its key (Flask-Login reads this first).
    g._login_user = current_app.login_manager.anonymous_user()
    _api_locale()
    limit = current_app.config["API_MAX_BODY"]
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"The body may have at most {limit} bytes.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized()
    parsed = parse_token(token)
    if parsed is None:
        raise _unauthorized("This API key is not valid.")
    facts = cached(
        parsed.tenant_id, "api-key:" + hash_token(token), lambda: _load_key(token, parsed)
    )
    tenant = db.session.merge(facts.tenant, load=False)
    g.crm_tenant_token = enter_tenant(tenant)
    key = db.session.merge(facts.key, load=False)
    membership = db.session.merge(facts.membership, load=False)
    if tenant.deletion_requested_at is not None:
        raise ApiError(403, "tenant_deletion_scheduled", "This workspace is being deleted.")
    if not tenant.is_active:
        raise ApiError(403, "tenant_suspended", "This workspace is suspended.")
    check_rate_limit(tenant.id, key.id)
    if request.method not in SAFE_METHODS and not key.can_write:
        raise ApiError(403, "insufficient_scope", "This API key may only read.")
    refuse_read_only_api()
    owners = module_registry().blueprint_module
    for name in request.blueprints:  # the blueprint and those it is nested in
        module = owners.get(name)
        if module is not None and not module_enabled(module):
            raise ApiError(404, "not_found", "Not found.")
    _touch(facts)
    g.tenant = tenant
    g.membership = membership
    g.api_key = key
    g._login_user = membership.user


def _touch(facts: KeyFacts) -> None:
    """Record when the key was last used (at most once a minute, in its own commit)."""
    now = utcnow()
    last = facts.touched_at
    if last is not None and last.tzinfo is None:  # SQLite returns naive datetimes
        last = last.replace(tzinfo=now.tzinfo)
    if last is not None and now - last < LAST_USED_GRANULARITY:
        return
    facts.touched_at = now
    db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == facts.key.id)
        .values(last_used_at=now)
        .execution_options(**{IGNORE: True})
    )
    db.session.commit()


def api_membership() -> Membership:
    """The member the API key of this request acts as."""
    return g.membership
