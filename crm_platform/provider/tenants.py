"""Tenants as the console sees them: search, filters, keyset pages, usage, one tenant's facts.

Every read of tenant tables (memberships, records, modules, audit) runs inside the audited
``provider_scope``; ``tenants`` and ``users`` are platform tables. Results are plain values
(the provider session closes when the scope ends).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..audit import AuditEvent
from ..customers import Account, Contact
from ..extensions import db
from ..identity import Membership, Tenant, User
from ..modules import TenantModule, installed_modules
from ..tenancy import provider_scope
from .hooks import tenant_summaries
from .models import Impersonation, StaffAction

PAGE_SIZE = 50
STATUSES = ("active", "suspended")


@dataclass
class TenantRow:
    """One line of the tenants list."""

    id: uuid.UUID
    slug: str
    name: str
    status: str
    created_at: datetime
    owner_email: str = ""
    members: int = 0
    accounts: int = 0
    contacts: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantQuery:
    """The list's search and filters: text (name, slug, owner e-mail), status, module."""

    q: str = ""
    status: str = ""
    module: str = ""

    @classmethod
    def from_args(cls, args: Any) -> TenantQuery:
        """Read the query from request arguments; unknown filter values are dropped."""
        status = args.get("status", "")
        module = args.get("module", "")
        return cls(
            q=(args.get("q") or "").strip()[:200],
            status=status if status in STATUSES else "",
            module=module if module in installed_modules() else "",
        )

    @property
    def filtered(self) -> bool:
        """True when any search or filter is set."""
        return bool(self.q or self.status or self.module)


def _matching(query: TenantQuery) -> Any:
    stmt = select(Tenant)
    if query.status:
        stmt = stmt.where(Tenant.status == query.status)
    if query.module:
        uses = (
            select(TenantModule.id)
            .where(
                TenantModule.tenant_id == Tenant.id,
                TenantModule.module_key == query.module,
                TenantModule.enabled.is_(True),
            )
            .exists()
        )
        stmt = stmt.where(uses)
    if query.q:
        text = query.q.lower()
        owner = (
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.tenant_id == Tenant.id,
                Membership.role == "owner",
                func.lower(User.email).contains(text, autoescape=True),
            )
            .exists()
        )
        stmt = stmt.where(
            or_(
                func.lower(Tenant.name).contains(text, autoescape=True),
                Tenant.slug.contains(text, autoescape=True),
                owner,
            )
        )
    return stmt


def _counts(session: Session, column: Any, ids: Sequence[uuid.UUID], *where: Any) -> dict:
    stmt = select(column, func.count()).where(column.in_(ids), *where).group_by(column)
    return dict(session.execute(stmt).all())


def _owners(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    stmt = (
        select(Membership.tenant_id, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id.in_(ids), Membership.role == "owner")
        .order_by(Membership.created_at)
    )
    owners: dict[uuid.UUID, str] = {}
    for tenant_id, email in session.execute(stmt):
        owners.setdefault(tenant_id, email)
    return owners


def _usage(session: Session, rows: list[TenantRow]) -> None:
    ids = [r.id for r in rows]
    if not ids:
        return
    members = _counts(session, Membership.tenant_id, ids)
    accounts = _counts(session, Account.tenant_id, ids, Account.deleted_at.is_(None))
    contacts = _counts(session, Contact.tenant_id, ids, Contact.deleted_at.is_(None))
    owners = _owners(session, ids)
    for row in rows:
        row.members = members.get(row.id, 0)
        row.accounts = accounts.get(row.id, 0)
        row.contacts = contacts.get(row.id, 0)
        row.owner_email = owners.get(row.id, "")


def _row(t: Tenant) -> TenantRow:
    return TenantRow(t.id, t.slug, t.name, t.status, t.created_at)


def _with_summaries(rows: list[TenantRow]) -> None:
    tenants = db.session.scalars(select(Tenant).where(Tenant.id.in_([r.id for r in rows]))).all()
    facts = tenant_summaries(tenants)
    for row in rows:
        row.summary = facts.get(row.id, {})


def list_tenants(
    query: TenantQuery, after: uuid.UUID | None, actor: str
) -> tuple[list[TenantRow], uuid.UUID | None]:
    """One page of tenants, newest first, after the id ``after``; and the next page's key."""
    stmt = _matching(query).order_by(Tenant.id.desc()).limit(PAGE_SIZE + 1)
    if after is not None:
        stmt = stmt.where(Tenant.id < after)
    with provider_scope("console: tenants list", actor) as session:
        rows = [_row(t) for t in session.scalars(stmt)]
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        _usage(session, rows)
    _with_summaries(rows)
    return rows, (rows[-1].id if more else None)


@dataclass
class MemberRow:
    """A member of a tenant, as the console shows it."""

    user_id: uuid.UUID
    email: str
    name: str
    role: str
    joined_at: datetime
    last_login_at: datetime | None
    active: bool


@dataclass
class AuditRow:
    """One entry of a tenant's audit log."""

    at: datetime
    action: str
    actor: str
    target: str
    details: dict[str, Any]


@dataclass
class TenantDetail:
    """Everything the console's tenant page shows."""

    tenant: Tenant
    row: TenantRow
    members: list[MemberRow]
    modules: dict[str, bool]
    audit: list[AuditRow]
    impersonations: list[Impersonation]
    staff_actions: list[StaffAction]


def _members(session: Session, tenant: Tenant) -> list[MemberRow]:
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant.id)
        .order_by(Membership.created_at, User.email)
    )
    return [
        MemberRow(u.id, u.email, u.name, m.role, m.created_at, u.last_login_at, u.active)
        for m, u in session.execute(stmt)
    ]


def tenant_members(tenant: Tenant, actor: str) -> list[MemberRow]:
    """The members of ``tenant``, oldest first (a cross-tenant read, audited)."""
    with provider_scope(f"console: members of {tenant.slug}", actor) as session:
        return _members(session, tenant)


def tenant_detail(tenant: Tenant, actor: str, audit_limit: int = 20) -> TenantDetail:
    """Members, modules, recent audit entries, impersonations and staff actions of ``tenant``."""
    row = _row(tenant)
    with provider_scope(f"console: tenant {tenant.slug}", actor) as session:
        _usage(session, [row])
        members = _members(session, tenant)
        modules = {
            key: enabled
            for key, enabled in session.execute(
                select(TenantModule.module_key, TenantModule.enabled).where(
                    TenantModule.tenant_id == tenant.id
                )
            )
        }
        audit = [
            AuditRow(e.at, e.action, e.actor_label or "", e.target or "", dict(e.details or {}))
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == tenant.id)
                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                .limit(audit_limit)
            )
        ]
    row.summary = tenant_summaries([tenant]).get(tenant.id, {})
    impersonations = db.session.scalars(
        select(Impersonation)
        .where(Impersonation.target_tenant_id == tenant.id)
        .order_by(Impersonation.started_at.desc())
        .limit(10)
    ).all()
    actions = db.session.scalars(
        select(StaffAction)
        .where(StaffAction.target_tenant_id == tenant.id)
        .order_by(StaffAction.at.desc(), StaffAction.id.desc())
        .limit(10)
    ).all()
    return TenantDetail(tenant, row, members, modules, audit, list(impersonations), list(actions))


def module_usage(actor: str) -> dict[str, int]:
    """How many tenants have each module on."""
    with provider_scope("console: plugin catalogue", actor) as session:
        stmt = (
            select(TenantModule.module_key, func.count(func.distinct(TenantModule.tenant_id)))
            .where(TenantModule.enabled.is_(True))
            .group_by(TenantModule.module_key)
        )
        return dict(session.execute(stmt).all())
