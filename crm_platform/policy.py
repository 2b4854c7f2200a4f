"""What a tenant may do, from its plan and subscription, enforced in one place per concern.

A plugin (billing) answers ``crm_tenant_policy`` with a ``TenantPolicy``; :func:`tenant_policy`
is its only reader (cached per request or job, per tenant). The core enforces it here:

* **Read-only** (unpaid, canceled, suspended): :func:`refuse_read_only_request` refuses every
  write to a tenant page (any method but GET, HEAD and OPTIONS) except views marked
  :func:`allowed_while_read_only` (the billing page); :func:`refuse_read_only_api` answers API
  writes with ``403 read_only``; :func:`job_refusal` skips jobs not marked
  ``@job(read_only_ok=True)`` (exports may run); and, as the backstop, an ORM guard
  (``before_flush`` and ``do_orm_execute``) raises :class:`TenantReadOnly` on any write of a
  tenant table except the narrow :data:`READ_ONLY_ALLOWANCE`. Reads and exports keep working,
  and nothing is ever deleted because of billing.
* **Banner**: :func:`init_app` gives ``base.html`` the policy's banner on tenant pages.
* **API rate limit**: ``api.limits.api_rate_limit`` reads ``TenantPolicy.api_rate_limit``.
* **Seats**: :func:`check_seats` when a member is added or invited.
* **Record limits**: :func:`check_record_limit` / :func:`record_limit_problem` when records
  are created (forms, API, imports).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import (
    Flask,
    current_app,
    g,
    has_app_context,
    has_request_context,
    render_template,
    request,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

from .extensions import db
from .plugin_types import TenantPolicy
from .plugins import get_plugin_manager
from .tenancy import PROVIDER_SESSION, TenantScoped, current_tenant, tenant_tables
from .tenant_cache import cached, forget

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The policy of a tenant nobody limits (no plugin answered).
UNLIMITED = TenantPolicy()
INSERT_ONLY = "insert"
#: What may still be written while a tenant is read-only, by table: ``INSERT_ONLY`` (new rows
#: only) or the columns an UPDATE may set. Nothing else of a tenant table may change.
READ_ONLY_ALLOWANCE: dict[str, str | frozenset[str]] = {
    "audit_events": INSERT_ONLY,  # exports and sign-ins are still audited
    "api_keys": frozenset({"last_used_at"}),  # the API stamps a key's last use on reads
}
_CACHE = "crm_tenant_policies"


class TenantReadOnly(RuntimeError):
    """A write of tenant data while the tenant is read-only; the message says why."""


# --------------------------------------------------------------------------- reading


def tenant_policy(tenant: Any = None) -> TenantPolicy:
    """The policy of ``tenant`` (default: the tenant in context); unlimited without one.

    A plugin that raises is logged and the tenant is treated as unlimited (a broken billing
    plugin must not lock every workspace).
    """
    tenant = tenant if tenant is not None else current_tenant()
    if tenant is None:
        return UNLIMITED
    cache: dict[Any, TenantPolicy] | None = None
    if has_app_context():
        cache = g.setdefault(_CACHE, {})
        if tenant.id in cache:
            return cache[tenant.id]
    if has_request_context():  # the policy's texts are in the request's language
        policy = cached(tenant.id, f"policy:{get_locale()}", lambda: _ask_plugins(tenant))
    else:
        policy = _ask_plugins(tenant)
    if cache is not None:
        cache[tenant.id] = policy
    return policy


def _ask_plugins(tenant: Any) -> TenantPolicy:
    try:
        with db.session.no_autoflush:
            answer = get_plugin_manager().hook.crm_tenant_policy(tenant=tenant)
    except Exception:
        log.exception("crm_tenant_policy failed for tenant %s", getattr(tenant, "slug", tenant))
        answer = None
    return answer if isinstance(answer, TenantPolicy) else UNLIMITED


def forget_policy(tenant: Any = None) -> None:
    """Read the policy afresh from now on (call after a subscription changed in this request
    or job; ``tenant`` defaults to the tenant in context)."""
    if has_app_context():
        g.pop(_CACHE, None)
    tenant = tenant if tenant is not None else current_tenant()
    if tenant is not None:
        forget(tenant.id)


def read_only_reason(tenant: Any = None) -> str | None:
    """Why ``tenant`` (default: the tenant in context) is read-only, or ``None``."""
    return tenant_policy(tenant).read_only


# ------------------------------------------------------------- read-only: web, API, jobs


def allowed_while_read_only(view: F) -> F:
    """Mark a tenant view whose writes stay allowed while the tenant is read-only (billing)."""
    view.crm_read_only_ok = True  # type: ignore[attr-defined]
    return view


def refuse_read_only_request() -> Any:
    """``before_request``: a write to a read-only tenant's page answers 403 with the reason."""
    if request.method in SAFE_METHODS or g.get("tenant") is None:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "crm_read_only_ok", False):
        return None
    reason = read_only_reason(g.tenant)
    if reason is None:
        return None
    return _read_only_page(reason)


def _read_only_page(reason: str) -> Any:
    return render_template("errors/read_only.html", reason=reason), 403


def refuse_read_only_api() -> None:
    """Raise a ``403 read_only`` API error for a write while the tenant is read-only."""
    if request.method in SAFE_METHODS:
        return
    reason = read_only_reason()
    if reason is not None:
        from .api.errors import ApiError

        raise ApiError(403, "read_only", reason)


def job_refusal(func: Callable[..., Any]) -> str | None:
    """Why the job ``func`` must not run now for the tenant in context, or ``None``.

    Jobs marked ``@job(read_only_ok=True)`` (exports, billing) run while read-only.
    """
    if current_tenant() is None or getattr(func, "crm_job_options", {}).get("read_only_ok"):
        return None
    if has_app_context():  # a worker may run many jobs in one app context
        g.pop(_CACHE, None)
    reason = read_only_reason()
    return f"the workspace is read-only: {reason}" if reason else None


# ------------------------------------------------------------- read-only: ORM guard


def _allowed(table: str, kind: str, columns: frozenset[str] | None) -> bool:
    allowance = READ_ONLY_ALLOWANCE.get(table)
    if allowance is None:
        return False
    if allowance == INSERT_ONLY:
        return kind == "insert"
    return kind == "update" and columns is not None and columns <= allowance


def _changed_columns(obj: Any) -> frozenset[str]:
    state = inspect(obj)
    return frozenset(a.key for a in state.attrs if a.history.has_changes())


def _unit_of_work_writes(session: Session) -> Iterator[tuple[str, str, frozenset[str] | None]]:
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            yield obj.__table__.name, "insert", None
    for obj in session.dirty:
        if isinstance(obj, TenantScoped) and session.is_modified(obj):
            yield obj.__table__.name, "update", _changed_columns(obj)
    for obj in session.deleted:
        if isinstance(obj, TenantScoped):
            yield obj.__table__.name, "delete", None


def _refuse_if_read_only() -> None:
    reason = read_only_reason()
    if reason is not None:
        raise TenantReadOnly(reason)


def _guarded(session: Session) -> bool:
    return current_tenant() is not None and not session.info.get(PROVIDER_SESSION)


@event.listens_for(Session, "before_flush")
def _guard_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if not _guarded(session):
        return
    if any(not _allowed(*write) for write in _unit_of_work_writes(session)):
        _refuse_if_read_only()


def _set_columns(statement: Any) -> frozenset[str] | None:
    values = getattr(statement, "_values", None)
    if not values:
        return None
    return frozenset(str(getattr(k, "key", None) or getattr(k, "name", None) or k) for k in values)


@event.listens_for(Session, "do_orm_execute")
def _guard_statement(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete) or not _guarded(state.session):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name not in {t.name for t in tenant_tables()}:
        return
    kind = "insert" if state.is_insert else "update" if state.is_update else "delete"
    columns = _set_columns(state.statement) if state.is_update else None
    if not _allowed(name, kind, columns):
        _refuse_if_read_only()


# --------------------------------------------------------------------------- seats and records


def check_seats(adding: int = 1) -> None:
    """Raise ``ValidationFailed`` (field ``seats``) when ``adding`` members exceed the seats."""
    from .identity import Membership
    from .provisioning import ValidationFailed

    limit = tenant_policy().max_seats
    if limit is None:
        return
    used = db.session.scalar(select(func.count()).select_from(Membership)) or 0
    if used + adding > limit:
        raise ValidationFailed(
            {
                "seats": _(
                    "All %(num)d seats of your plan are taken: add seats on the billing page "
                    "first.",
                    num=limit,
                )
            }
        )


def record_limit_problem(
    kind: str, count: Callable[[], int], adding: int = 1, label: str | None = None
) -> str | None:
    """Why ``adding`` more records of ``kind`` (``"contacts"``) exceed the plan, or ``None``.

    ``count`` is called only when the plan limits ``kind``; ``adding=0`` checks records that
    are already written (an import before it commits).
    """
    limit = tenant_policy().record_limits.get(kind)
    if limit is None or count() + adding <= limit:
        return None
    return _(
        "Your plan allows at most %(num)s %(kind)s: upgrade on the billing page to add more.",
        num=f"{limit:,}",
        kind=label or kind,
    )


def check_record_limit(
    kind: str, count: Callable[[], int], adding: int = 1, label: str | None = None
) -> None:
    """Raise ``ValidationFailed`` (field ``limit``) when the plan's limit of ``kind`` is hit."""
    from .provisioning import ValidationFailed

    problem = record_limit_problem(kind, count, adding, label)
    if problem:
        raise ValidationFailed({"limit": problem})


# --------------------------------------------------------------------------- web shell


def _read_only_error(exc: TenantReadOnly) -> Any:
    """A write that reached the ORM guard: the same answers as the request guards."""
    db.session.rollback()
    if request.path.startswith("/api/"):
        from .api.errors import ApiError, error_response

        return error_response(ApiError(403, "read_only", str(exc)))
    return _read_only_page(str(exc))


def init_app(app: Flask) -> None:
    """Refuse read-only writes after the tenant is resolved; give the layout the banner."""
    app.before_request(refuse_read_only_request)
    app.register_error_handler(TenantReadOnly, _read_only_error)

    @app.context_processor
    def _policy_banner() -> dict[str, Any]:
        if g.get("membership") is None or "tenant" not in g:
            return {"tenant_policy": None}
        return {"tenant_policy": tenant_policy(g.tenant)}
