"""Tenant deletion with a grace period, then erasure of every row and file of the tenant.

* :func:`schedule_deletion` (provider staff, the tenant's owner, or the CLI) marks the tenant
  ``deletion_requested_at`` / ``delete_after`` (``CRM_TENANT_DELETION_GRACE_DAYS``, default
  30 days). From then on the workspace is locked: its pages show when it will be erased and
  how to cancel, the API and impersonation refuse it, schedules skip it. Plugins hear a
  ``tenant.deletion_scheduled`` domain event (billing suspends the subscription).
* :func:`cancel_deletion` (owner or staff, during the grace period) unlocks it
  (``tenant.deletion_canceled``: billing resumes).
* :func:`erase_due_tenants` (a daily platform schedule, or ``crm tenant erase-due``) erases
  every tenant past its date with :func:`erase_tenant`: on the provider engine (the role
  that may see every tenant's rows), every row of every tenant table, children first
  (memberships, invitations, the audit log, stored files and exports included), Redis keys
  that carry the tenant's id (rate-limit buckets), then the ``tenants`` row itself (billing
  rows go with it by ``ON DELETE CASCADE``). No tombstone stays: the erasure is recorded in
  the staff action log (slug, id, row counts).
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from . import audit
from .extensions import db
from .jobs import job
from .provisioning import ValidationFailed
from .tenancy import provider_scope, tenant_context, utcnow

log = logging.getLogger(__name__)
DEFAULT_GRACE_DAYS = 30


def grace_days() -> int:
    """Days between scheduling a deletion and the erasure (``TENANT_DELETION_GRACE_DAYS``)."""
    value = current_app.config.get("TENANT_DELETION_GRACE_DAYS")
    if value is None:
        value = os.environ.get("CRM_TENANT_DELETION_GRACE_DAYS", DEFAULT_GRACE_DAYS)
    return max(0, int(value))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=utcnow().tzinfo)
    return value


def delete_after(tenant: Any) -> datetime | None:
    """When ``tenant`` will be erased (aware UTC), or ``None`` when no deletion is scheduled."""
    return _aware(tenant.delete_after) if tenant.deletion_requested_at else None


def _emit(tenant: Any, name: str, actor: Any) -> None:
    from .modules import emit_event

    emit_event(name, data={"slug": tenant.slug}, actor=actor)


def schedule_deletion(
    tenant: Any, *, actor_label: str, actor: Any = None, days: int | None = None
) -> datetime:
    """Lock ``tenant`` and schedule its erasure in ``days`` (default: the grace period).

    Audited in the tenant's log; the caller commits. Returns the erasure date.
    """
    if tenant.deletion_requested_at is not None:
        raise ValidationFailed(
            {"tenant": _("The deletion of this workspace is already scheduled.")}
        )
    now = utcnow()
    when = now + timedelta(days=grace_days() if days is None else max(0, days))
    tenant.deletion_requested_at = now
    tenant.delete_after = when
    tenant.deletion_requested_by = actor_label[:254]
    with tenant_context(tenant):
        audit.record(
            "tenant.deletion_scheduled",
            target=tenant.slug,
            actor=actor,
            actor_label=actor_label,
            details={"delete_after": when.isoformat()},
        )
        _emit(tenant, "tenant.deletion_scheduled", actor)
        db.session.flush()
    return when


def cancel_deletion(tenant: Any, *, actor_label: str, actor: Any = None) -> None:
    """Unlock ``tenant`` during its grace period (audited; the caller commits)."""
    if tenant.deletion_requested_at is None:
        raise ValidationFailed({"tenant": _("No deletion of this workspace is scheduled.")})
    tenant.deletion_requested_at = None
    tenant.delete_after = None
    tenant.deletion_requested_by = None
    with tenant_context(tenant):
        audit.record(
            "tenant.deletion_canceled", target=tenant.slug, actor=actor, actor_label=actor_label
        )
        _emit(tenant, "tenant.deletion_canceled", actor)
        db.session.flush()


def _erase_redis_keys(tenant_id: uuid.UUID) -> int:
    """Delete Redis keys that carry the tenant's id (rate-limit buckets, counters)."""
    from .redis_conn import get_redis

    try:
        redis = get_redis(current_app._get_current_object())
        keys = list(redis.scan_iter(match=f"*{tenant_id}*", count=1000))
        for start in range(0, len(keys), 500):
            redis.delete(*keys[start : start + 500])
        return len(keys)
    except Exception:  # Redis away: the keys expire by themselves; the rows matter
        log.warning("could not erase Redis keys of tenant %s", tenant_id, exc_info=True)
        return 0


def erase_tenant(tenant_id: uuid.UUID, *, actor: str = "system:tenant-deletion") -> dict[str, int]:
    """Erase every row of ``tenant_id`` in every tenant table, then the tenant; row counts.

    Runs in one transaction of the provider scope (the provider role sees and may delete
    every tenant's rows), children first so foreign keys never block.
    """
    from .identity import Tenant
    from .provider.actions import record_staff_action
    from .tenant_archive import archive_tables

    counts: dict[str, int] = {}
    with provider_scope(f"erase tenant {tenant_id}", actor) as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            return counts
        slug = tenant.slug
        for table in reversed(archive_tables()):
            result = session.execute(delete(table).where(table.c.tenant_id == tenant_id))
            if result.rowcount:
                counts[table.name] = result.rowcount
        from .tenant_exports import TenantExport

        session.execute(delete(TenantExport).where(TenantExport.target_tenant_id == tenant_id))
        session.execute(delete(Tenant).where(Tenant.id == tenant_id))
        session.flush()
    counts["redis keys"] = _erase_redis_keys(tenant_id)
    record_staff_action(
        "tenant.erased",
        target=slug,
        details={"tenant_id": str(tenant_id), "rows": counts},
        actor=actor,
    )
    db.session.commit()
    log.info("tenant %s (%s) erased: %s", slug, tenant_id, counts)
    return counts


def due_tenants(now: datetime | None = None) -> list[tuple[uuid.UUID, str]]:
    """Tenants whose grace period is over: (id, slug)."""
    from .identity import Tenant

    now = now or utcnow()
    stmt = select(Tenant.id, Tenant.slug, Tenant.delete_after).where(
        Tenant.deletion_requested_at.is_not(None)
    )
    return [(tid, slug) for tid, slug, when in db.session.execute(stmt) if _aware(when) <= now]


def erase_due_tenants(now: datetime | None = None) -> list[str]:
    """Erase every tenant past its deletion date; returns their slugs."""
    done = []
    for tenant_id, slug in due_tenants(now):
        erase_tenant(tenant_id)
        done.append(slug)
    return done


@job(retries=3, timeout=3600)
def erase_due_tenants_job() -> list[str]:
    """The daily platform schedule: erase the tenants whose grace period is over."""
    return erase_due_tenants()
