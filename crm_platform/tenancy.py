"""Tenant isolation: the one chokepoint every tenant-owned row passes through.

* ``TenantScoped`` is the mixin of every tenant-owned model: ``(tenant_id, id)`` primary key.
* One tenant context (a context variable) serves requests, jobs and CLI commands.
* A ``do_orm_execute`` hook adds ``tenant_id = current`` to every ORM query that touches a
  tenant table, and raises ``NoTenantContext`` when no tenant is set (fail closed).
* A ``before_flush`` hook stamps ``tenant_id`` on inserts and refuses cross-tenant writes.
* On PostgreSQL an ``after_begin`` hook (and entering a context mid-transaction) sets
  ``app.tenant_id`` with ``set_config(..., true)`` so row-level security is the second wall.
* ``provider_scope`` is the only way to cross tenants: explicit, audited, on its own engine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import (
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    and_,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    foreign,
    mapped_column,
    relationship,
    with_loader_criteria,
)
from sqlalchemy.sql import visitors

from .extensions import Base, db
from .ids import uuid7

PROVIDER_SESSION = "crm_provider_session"
OWN_MEMBERSHIPS = "crm_own_memberships"


class NoTenantContext(RuntimeError):
    """A query or write of tenant data was attempted with no tenant in context."""


class CrossTenantWrite(RuntimeError):
    """A write would move or touch a row of another tenant than the current one."""


class ProviderScopeRequired(RuntimeError):
    """A provider (cross-tenant) session was used outside ``provider_scope``."""


@dataclass(frozen=True)
class TenantRef:
    """The tenant in context: its id and URL slug."""

    id: uuid.UUID
    slug: str


_tenant: ContextVar[TenantRef | None] = ContextVar("crm_tenant", default=None)
_user: ContextVar[uuid.UUID | None] = ContextVar("crm_user", default=None)
_provider: ContextVar[str | None] = ContextVar("crm_provider", default=None)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


# --------------------------------------------------------------------------- the mixin


class TenantScoped:
    """Mixin of every tenant-owned model: ``tenant_id`` leads the ``(tenant_id, id)`` key.

    Unique constraints and foreign keys to other tenant tables must lead with ``tenant_id``
    too: use :func:`tenant_foreign_key` and :func:`tenant_relationship`.
    """

    __crm_tenant_scoped__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(
            Uuid,
            ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
            sort_order=-100,
        )

    @declared_attr
    def id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(Uuid, primary_key=True, default=uuid7, sort_order=-99)


def is_tenant_scoped(cls: Any) -> bool:
    """True when ``cls`` (a mapped class) is tenant-owned."""
    return isinstance(cls, type) and issubclass(cls, TenantScoped)


def tenant_foreign_key(
    column: str, target_table: str, *, ondelete: str | None = None
) -> ForeignKeyConstraint:
    """A composite foreign key ``(tenant_id, column) -> target_table(tenant_id, id)``."""
    return ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target_table}.tenant_id", f"{target_table}.id"],
        ondelete=ondelete,
    )


def tenant_relationship(local: str, target: str, **kwargs: Any) -> Any:
    """A relationship over ``(tenant_id, x_id)`` where only ``x_id`` is the foreign column.

    ``local`` is ``"Model.column"`` on the owning side; ``target`` the related class name.
    """
    owner, column = local.split(".", 1)

    def _join() -> Any:
        registry = Base.registry._class_registry
        owner_cls, target_cls = registry[owner], registry[target]
        return and_(
            owner_cls.tenant_id == target_cls.tenant_id,
            foreign(getattr(owner_cls, column)) == target_cls.id,
        )

    return relationship(target, primaryjoin=_join, **kwargs)


_tenant_tables_cache: tuple[int, frozenset[Table]] = (-1, frozenset())


def tenant_tables() -> frozenset[Table]:
    """Every table mapped by a ``TenantScoped`` class (cached per mapper count)."""
    global _tenant_tables_cache
    mappers = Base.registry.mappers
    if _tenant_tables_cache[0] != len(mappers):
        tables = frozenset(m.local_table for m in mappers if is_tenant_scoped(m.class_))
        _tenant_tables_cache = (len(mappers), tables)
    return _tenant_tables_cache[1]


# --------------------------------------------------------------------------- context


def current_tenant() -> TenantRef | None:
    """The tenant in context, or ``None``."""
    return _tenant.get()


def require_tenant() -> TenantRef:
    """The tenant in context; raises :class:`NoTenantContext` when there is none."""
    ref = _tenant.get()
    if ref is None:
        raise NoTenantContext("no tenant in context")
    return ref


def enter_tenant(tenant: Any) -> Token:
    """Set ``tenant`` (a Tenant or TenantRef) as current; pair with :func:`leave_tenant`."""
    token = _tenant.set(TenantRef(tenant.id, tenant.slug))
    _apply_rls_to_open_transaction()
    return token


def leave_tenant(token: Token) -> None:
    """Restore the tenant context that :func:`enter_tenant` replaced."""
    _tenant.reset(token)
    _apply_rls_to_open_transaction()


@contextmanager
def tenant_context(tenant: Any) -> Iterator[TenantRef]:
    """Run a block as ``tenant``: ORM criteria, insert stamping and RLS all follow it."""
    token = enter_tenant(tenant)
    try:
        yield _tenant.get()  # type: ignore[misc]
    finally:
        leave_tenant(token)


def current_user_id() -> uuid.UUID | None:
    """The signed-in user recorded for this context (see :func:`set_current_user_id`)."""
    return _user.get()


def set_current_user_id(user_id: uuid.UUID | None) -> Token:
    """Record the signed-in user (lets RLS show a user their own memberships)."""
    token = _user.set(user_id)
    _apply_rls_to_open_transaction()
    return token


def _rls_params() -> dict[str, str]:
    ref, uid = _tenant.get(), _user.get()
    return {"t": str(ref.id) if ref else "", "u": str(uid) if uid else ""}


_SET_RLS = text("select set_config('app.tenant_id', :t, true), set_config('app.user_id', :u, true)")


_RLS_APPLIED = "crm_rls_applied"


def _apply_rls(
    connection: Connection, session: Session | None = None, *, beginning: bool = False
) -> None:
    if connection.dialect.name == "postgresql":
        params = _rls_params()
        if not (beginning and _begin_with_rls(connection, params)):
            connection.execute(_SET_RLS, params)
        if session is not None:
            session.info[_RLS_APPLIED] = params


#: What a tenant or user id looks like as text (a UUID, or empty): safe inside quotes.
_ID_TEXT = re.compile(r"[0-9a-fA-F-]{0,36}")


def _begin_with_rls(connection: Connection, params: dict[str, str]) -> bool:
    """Start the driver's transaction and set the RLS values in one round trip (psycopg).

    psycopg would send ``BEGIN`` on its own before the first statement, then the settings:
    two waits for the database on every request. When the driver's connection is idle in
    plain transactional mode (no autocommit, isolation level, read-only or deferrable
    option, which psycopg's own ``BEGIN`` would carry), both go as one simple query; psycopg
    then sees the open transaction and sends no ``BEGIN`` of its own. Returns False (the
    caller sets the values the ordinary way) when that does not hold or the query failed.
    """
    raw = connection.connection.driver_connection
    pgconn = getattr(raw, "pgconn", None)
    if (
        pgconn is None
        or raw.autocommit
        or raw.isolation_level is not None
        or raw.read_only is not None
        or raw.deferrable is not None
        or pgconn.transaction_status != TransactionStatus.IDLE
        or not all(_ID_TEXT.fullmatch(v) for v in params.values())
    ):
        return False
    sql = (
        f"BEGIN; SELECT set_config('app.tenant_id', '{params['t']}', true), "
        f"set_config('app.user_id', '{params['u']}', true)"
    )
    with raw.lock:
        result = pgconn.exec_(sql.encode())
    # On any failure (a lost connection, say) the caller's ordinary statement runs and fails
    # through SQLAlchemy, which invalidates the connection and reports the error as usual.
    return result.status == ExecStatus.TUPLES_OK


def _apply_rls_to_open_transaction() -> None:
    """Tell the database of a new tenant or user, if the session's transaction already holds
    a connection and the values changed (otherwise ``after_begin`` does it when it connects)."""
    if not has_app_context():
        return
    session = db.session()
    applied = session.info.get(_RLS_APPLIED)
    if applied is None or session.info.get(PROVIDER_SESSION) or applied == _rls_params():
        return
    _apply_rls(session.connection(), session)


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, transaction: Any, connection: Connection) -> None:
    if not session.info.get(PROVIDER_SESSION):
        _apply_rls(connection, session, beginning=True)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost: its SET LOCAL values are gone
        session.info.pop(_RLS_APPLIED, None)


# --------------------------------------------------------------------------- ORM hooks


def _statement_tenant_tables(statement: Any) -> bool:
    tables = tenant_tables()
    return any(isinstance(el, Table) and el in tables for el in visitors.iterate(statement))


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if state.session.info.get(PROVIDER_SESSION):
        if _provider.get() is None:
            raise ProviderScopeRequired("provider session used outside provider_scope()")
        return
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    involved = any(is_tenant_scoped(m.class_) for m in state.all_mappers)
    if not involved and not _statement_tenant_tables(state.statement):
        return
    own = state.execution_options.get(OWN_MEMBERSHIPS)
    if own is not None:
        _restrict_to_own_memberships(state, own)
        return
    ref = _tenant.get()
    if ref is None:
        raise NoTenantContext("tenant data queried with no tenant in context")
    if state.is_insert:
        return  # bulk inserts are checked by RLS WITH CHECK; unit-of-work inserts are stamped
    tid = ref.id
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tid, include_aliases=True)
    )


def _restrict_to_own_memberships(state: ORMExecuteState, user_id: uuid.UUID) -> None:
    from .identity import Membership

    others = [
        m for m in state.all_mappers if is_tenant_scoped(m.class_) and m.class_ is not Membership
    ]
    if others or not state.is_select or _user.get() != user_id:
        raise NoTenantContext("own-memberships reads may select memberships of the user only")
    state.statement = state.statement.options(
        with_loader_criteria(Membership, lambda cls: cls.user_id == user_id)
    )


@event.listens_for(Session, "before_flush")
def _stamp_and_guard(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(PROVIDER_SESSION):
        if _provider.get() is None:
            raise ProviderScopeRequired("provider session used outside provider_scope()")
        return
    ref = None
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if ref is None:
            ref = _tenant.get()
            if ref is None:
                raise NoTenantContext(f"write of {type(obj).__name__} with no tenant in context")
        if obj in session.new and obj.tenant_id is None:
            obj.tenant_id = ref.id
        if obj.tenant_id != ref.id:
            raise CrossTenantWrite(f"{type(obj).__name__} belongs to another tenant")
        for name in ("tenant_id", "id"):
            hist = db.inspect(obj).attrs[name].history
            if obj not in session.new and hist.deleted:
                raise CrossTenantWrite(f"{type(obj).__name__}.{name} cannot change")


# --------------------------------------------------------------------------- provider scope


class ProviderAccess(Base):
    """Append-only log of every entry into the cross-tenant provider scope."""

    __tablename__ = "provider_access_log"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)


def provider_engine() -> Engine:
    """The engine for cross-tenant work: ``PROVIDER_DATABASE_URL`` (may bypass RLS)."""
    app = current_app._get_current_object()
    engine = app.extensions.get("crm_provider_engine")
    if engine is None:
        url = app.config["PROVIDER_DATABASE_URL"]
        if url == app.config["DATABASE_URL"]:
            engine = db.engine
        else:
            from .config import engine_options

            engine = create_engine(url, **engine_options(url))
        app.extensions["crm_provider_engine"] = engine
    return engine


@contextmanager
def provider_scope(reason: str, actor: str) -> Iterator[Session]:
    """Yield a session that sees every tenant; the entry is logged with actor and reason."""
    if not reason or not reason.strip():
        raise ValueError("a provider scope needs a reason")
    if not actor or not actor.strip():
        raise ValueError("a provider scope needs an actor")
    token = _provider.set(actor)
    session = Session(bind=provider_engine(), info={PROVIDER_SESSION: True})
    try:
        session.add(ProviderAccess(actor=actor.strip(), reason=reason.strip()))
        session.commit()
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        _provider.reset(token)
