"""Periodic jobs from plugins (``crm_schedules``), queued once per period for each tenant.

The worker runs :func:`run_scheduler` in a thread. Every tick it asks Redis, with ``SET NX
EX``, whether a schedule is due; so however many workers run, each period queues each
schedule once, for every active tenant that has the schedule's module on.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy import select

from .extensions import db
from .identity import Tenant
from .jobs import enqueue
from .modules import module_enabled
from .plugin_types import Schedule
from .plugins import get_plugin_manager, module_registry
from .redis_conn import get_redis
from .tenancy import TenantRef, tenant_context

log = logging.getLogger(__name__)
TICK_SECONDS = 15


def plugin_schedules(app: Flask) -> list[tuple[str | None, Schedule]]:
    """Every plugin's schedules with the module key that owns each (``None``: always on)."""
    pm = get_plugin_manager(app)
    registry = module_registry(app)
    out: list[tuple[str | None, Schedule]] = []
    for impl in pm.hook.crm_schedules.get_hookimpls():
        key = registry.module_of_plugin(impl.plugin_name)
        out.extend((key, schedule) for schedule in impl.function() or [])
    return out


def enqueue_due_schedules(app: Flask, *, force: bool = False) -> dict[str, int]:
    """Queue each due schedule for every tenant that has its module on; jobs queued per name."""
    redis = get_redis(app)
    queued: dict[str, int] = {}
    tenants: list[TenantRef] | None = None
    with app.app_context():
        for module_key, schedule in plugin_schedules(app):
            lock = f"crm:{app.config['JOBS_QUEUE']}:schedule:{schedule.name}"
            if not force and not redis.set(lock, "1", nx=True, ex=max(1, schedule.every)):
                continue
            queued[schedule.name] = 0
            if tenants is None:  # read once per tick, and only when a schedule is due
                active = select(Tenant.id, Tenant.slug).where(
                    Tenant.status == "active", Tenant.deletion_requested_at.is_(None)
                )
                tenants = [TenantRef(tid, slug) for tid, slug in db.session.execute(active)]
            for tenant in tenants:
                with tenant_context(tenant):
                    if module_key is None or module_enabled(module_key):
                        enqueue(schedule.func)
                        queued[schedule.name] += 1
            db.session.rollback()
        for schedule in platform_schedules():  # platform-wide jobs: no tenant context
            lock = f"crm:{app.config['JOBS_QUEUE']}:schedule:{schedule.name}"
            if force or redis.set(lock, "1", nx=True, ex=max(1, schedule.every)):
                enqueue(schedule.func)
                queued[schedule.name] = 1
        db.session.remove()
    return queued


def platform_schedules() -> list[Schedule]:
    """The core's platform-wide periodic jobs (run once per period, not per tenant)."""
    from .tenant_deletion import erase_due_tenants_job
    from .tenant_exports import purge_expired_exports

    return [
        Schedule("platform.erase_deleted_tenants", erase_due_tenants_job, every=86400),
        Schedule("platform.purge_tenant_exports", purge_expired_exports, every=3600),
    ]


def run_scheduler(app: Flask, stop: threading.Event, tick: float = TICK_SECONDS) -> None:
    """Loop until ``stop`` is set, queueing due schedules every ``tick`` seconds."""
    while not stop.is_set():
        try:
            for name, count in enqueue_due_schedules(app).items():
                log.info("schedule %s queued for %d tenants", name, count)
        except Exception:  # a broken plugin or a lost connection must not stop the worker
            log.exception("scheduler tick failed")
        stop.wait(tick)


def start_scheduler_thread(app: Flask) -> tuple[threading.Thread, threading.Event]:
    """Start :func:`run_scheduler` in a daemon thread; set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(app, stop), name="crm-scheduler", daemon=True
    )
    thread.start()
    return thread, stop
