"""Per-process caches of slow-changing tenant facts, kept honest by change epochs in Redis.

A web or worker process may keep what it read about a tenant (who an API key acts as, the
tenant's billing policy, its switched-on modules, its custom fields) for up to
``TENANT_CACHE_SECONDS`` (default 60), but only while the tenant's *epoch* is the one it
read with. An epoch is a counter in Redis that every committed change of a *watched* table
increments: the tenant's own counter for a row of that tenant, the platform's counter for a
row of no tenant (a user, a plan). A change committed by any process is therefore seen by
every other one on its next request; a request reads the two counters once.

Watching is declared by whoever owns the data (:func:`watch`, also ``sdk.watch_for_cache``):
the core watches tenants, API keys, members, users and module switches; billing watches its
subscriptions, plans and invoices. ORM unit-of-work changes and ORM bulk ``update()`` /
``delete()`` statements are seen; raw SQL is not (it must call :func:`bump` itself). Without
Redis, or with ``TENANT_CACHE_SECONDS = 0``, nothing is cached.

Cached values are shared by the threads of a process: plain values, or ORM objects detached
from any session that callers only read (or ``merge(load=False)`` into their session).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session

from .extensions import db
from .redis_conn import get_redis

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The platform's epoch: rows of no tenant (users, plans).
PLATFORM = "platform"
#: At most this many entries per process (then the cache starts afresh).
MAX_ENTRIES = 20_000
#: Execution option of an ORM ``update()`` that changes nothing a cache holds.
IGNORE = "crm_cache_ignore"
_BUMPS = "crm_cache_bumps"


@dataclass(frozen=True)
class Watch:
    """How changes of one mapped class reach the epochs."""

    tenant_of: Callable[[Any], Any]
    ignore: frozenset[str]


_watched: dict[type, Watch] = {}


def watch(
    cls: type,
    *,
    tenant_of: Callable[[Any], Any] | None = None,
    ignore: Iterable[str] = (),
) -> None:
    """Count committed changes of rows of ``cls`` in their tenant's epoch.

    ``tenant_of(row)`` names the tenant (default ``row.tenant_id``); ``None`` means the
    platform epoch. Changes touching only the ``ignore`` columns (e.g. ``last_used_at``) do
    not count. Bulk ORM statements on ``cls`` count for the tenant in context.
    """
    default = (lambda row: getattr(row, "tenant_id", None)) if tenant_of is None else tenant_of
    _watched[cls] = Watch(default, frozenset(ignore))


def _settings() -> tuple[float, str] | None:
    if not has_app_context():
        return None
    seconds = float(current_app.config.get("TENANT_CACHE_SECONDS", 60))
    if seconds <= 0:
        return None
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "crm"
    return seconds, f"{prefix}:epoch:"


def _store(app: Flask) -> dict[Any, tuple[tuple[int, int], float, Any]]:
    return app.extensions.setdefault("crm_tenant_cache", {})


# --------------------------------------------------------------------------- epochs


def _epoch_keys(prefix: str, tenant_id: Any) -> list[str]:
    return [prefix + PLATFORM, f"{prefix}{tenant_id}"]


def epochs(tenant_id: Any) -> tuple[int, int] | None:
    """The (platform, tenant) epochs for this request (read once), or ``None`` without Redis."""
    settings = _settings()
    return None if settings is None else _read_epochs(tenant_id, settings[1])


def _read_epochs(tenant_id: Any, prefix: str) -> tuple[int, int] | None:
    memo = g.setdefault("crm_epochs", {})
    if tenant_id not in memo:
        try:
            values = get_redis().mget(_epoch_keys(prefix, tenant_id))
        except Exception:  # Redis away: read everything afresh
            log.debug("tenant cache: no epochs", exc_info=True)
            memo[tenant_id] = None
        else:
            memo[tenant_id] = tuple(int(v or 0) for v in values)
    return memo[tenant_id]


def cached(tenant_id: Any, name: str, load: Callable[[], T]) -> T:
    """``load()``'s answer for ``name`` of ``tenant_id``, from the cache while still current.

    ``name`` says what the value is and everything it depends on besides the tenant (e.g.
    ``"fields:contact"``). ``load`` runs in the caller's context (tenant, session).
    """
    settings = _settings()
    current = None if settings is None else _read_epochs(tenant_id, settings[1])
    if current is None or _changing(tenant_id):
        return load()
    store = _store(current_app)
    key = (tenant_id, name)
    now = time.monotonic()
    hit = store.get(key)
    if hit is not None and hit[0] == current and hit[1] > now:
        return hit[2]
    value = load()
    if len(store) >= MAX_ENTRIES:
        store.clear()
    store[key] = (current, now + settings[0], value)  # type: ignore[index]
    return value


def detached(session: Session, rows: Iterable[Any]) -> list[Any]:
    """``rows`` (loaded ORM objects) taken out of ``session``, fit to be cached and shared."""
    out = list(rows)
    for row in out:
        session.expunge(row)
    return out


def _changing(tenant_id: Any) -> bool:
    """Whether this transaction changed (or said it will change) what is cached of the tenant."""
    pending = db.session().info.get(_BUMPS)
    return bool(pending) and bool(pending & {tenant_id, None, "*"})


def forget(tenant_id: Any) -> None:
    """Read ``tenant_id``'s cached facts afresh for the rest of this transaction (after a
    change the ORM has not flushed yet); its commit makes every process read them afresh."""
    if has_app_context():
        _note(db.session(), tenant_id)


def bump(tenant_id: Any = None) -> None:
    """Make every process read ``tenant_id``'s cached facts afresh (``None``: the platform's).

    For changes the ORM events do not see (raw SQL); commits of watched rows call it.
    """
    settings = _settings()
    if settings is None:
        return
    scope = PLATFORM if tenant_id is None else str(tenant_id)
    if has_app_context():
        g.pop("crm_epochs", None)
        store = _store(current_app)
        if tenant_id is None:
            store.clear()
        else:
            for key in [k for k in store if k[0] == tenant_id]:
                store.pop(key, None)
    try:
        get_redis().incr(settings[1] + scope)
    except Exception:  # the other processes keep what they have until it expires
        log.warning("tenant cache: could not count a change of %s", scope, exc_info=True)


# --------------------------------------------------------------------------- ORM events


def _note(session: Session, tenant_id: Any) -> None:
    session.info.setdefault(_BUMPS, set()).add(tenant_id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    if not _watched:
        return
    for row in (*session.new, *session.deleted):
        spec = _watched.get(type(row))
        if spec is not None:
            _note(session, spec.tenant_of(row))
    for row in session.dirty:
        spec = _watched.get(type(row))
        if spec is None:
            continue
        changed = set(inspect(row).committed_state) - spec.ignore
        if changed:
            _note(session, spec.tenant_of(row))


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(IGNORE):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in _watched:
            from .tenancy import current_tenant

            ref = current_tenant()
            tenant_id = getattr(ref, "id", None)
            if tenant_id is None and hasattr(mapper.class_, "tenant_id"):
                tenant_id = "*"  # a cross-tenant statement (provider scope): everything
            _note(state.session, tenant_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for tenant_id in session.info.pop(_BUMPS, ()):
        # "*": a cross-tenant statement; the platform epoch is part of every entry's epochs
        bump(None if tenant_id == "*" else tenant_id)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_BUMPS, None)
