"""Background jobs: one RQ wrapper that carries the tenant into the job.

``@job`` marks a function as a job and gives it ``.enqueue(...)``. The job records the
tenant in context when it was enqueued and re-enters that tenant's context in the worker, so
the job's queries are isolated exactly like the request that queued it. Jobs retry with
backoff and should be idempotent. ``enqueue_after_commit`` queues only if the transaction
that asked for it commits.
"""

from __future__ import annotations

import functools
import gc
import importlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, get_current_job
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .policy import job_refusal
from .redis_conn import get_redis
from .tenancy import current_tenant, tenant_context

F = TypeVar("F", bound=Callable[..., Any])
_PENDING = "crm_jobs_after_commit"
_worker_app: Flask | None = None
log = logging.getLogger(__name__)


def get_queue(app: Flask | None = None) -> Queue:
    """The app's job queue."""
    app = app or current_app._get_current_object()
    return Queue(app.config["JOBS_QUEUE"], connection=get_redis(app))


def _path(func: Callable[..., Any]) -> str:
    target = getattr(func, "__wrapped__", func)
    return f"{target.__module__}:{target.__qualname__}"


def _retry(app: Flask, retries: int) -> Retry | None:
    if retries <= 0:
        return None
    intervals = [int(x) for x in str(app.config["JOBS_RETRY_INTERVALS"]).split(",") if x.strip()]
    return Retry(max=retries, interval=intervals or [0])


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
    """Queue ``func(*args, **kwargs)`` as a job in the current tenant's context."""
    return _enqueue(func, current_tenant(), args, kwargs)


def enqueue_in(seconds: float, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
    """Queue ``func(*args, **kwargs)`` to run in ``seconds`` (the worker's scheduler moves it
    to the queue then), in the current tenant's context; ``0`` or less queues it now."""
    return _enqueue(func, current_tenant(), args, kwargs, delay=seconds)


def _enqueue(
    func: Callable[..., Any], tenant: Any, args: tuple, kwargs: dict, delay: float = 0
) -> Job:
    from .plugins import module_of_callable

    app = current_app._get_current_object()
    options = getattr(func, "crm_job_options", {"retries": 3, "timeout": 600})
    module = options.get("module") or module_of_callable(func)
    queue = get_queue(app)
    schedule = (
        functools.partial(queue.enqueue_in, timedelta(seconds=delay))
        if delay > 0
        else queue.enqueue
    )
    return schedule(
        run_job,
        _path(func),
        str(tenant.id) if tenant else None,
        args,
        kwargs,
        retry=_retry(app, options["retries"]),
        job_timeout=options["timeout"],
        meta={
            "tenant_id": str(tenant.id) if tenant else None,
            "func": _path(func),
            "module": module,
        },
        description=_path(func),
    )


def enqueue_after_commit(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Queue the job once the current database transaction commits (never if it rolls back)."""
    session = db.session()
    if not session.in_transaction():
        # A rollback of a session that never began emits no event; begin so one will.
        session.begin()
    session.info.setdefault(_PENDING, []).append((func, current_tenant(), args, kwargs))


@event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    # The tenant is passed, not entered: entering a tenant context here would try to set
    # RLS on the transaction that has just committed.
    pending = session.info.pop(_PENDING, [])
    for func, tenant, args, kwargs in pending:
        _enqueue(func, tenant, args, kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending_at_end(session: Session, transaction: Any) -> None:
    # After a commit the jobs are already queued; a close() without commit drops them.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def job(
    func: F | None = None,
    *,
    retries: int = 3,
    timeout: int = 600,
    module: str | None = None,
    read_only_ok: bool = False,
) -> Any:
    """Mark ``func`` as a job: ``func.enqueue(...)`` queues it in the current tenant context.

    A job of a plugin's module (found from the function's package, or named by ``module``)
    does not run for a tenant that has switched the module off by the time it starts: it
    ends with a ``skipped`` result and its arguments stay on the job record. Nor does a job
    run while its tenant is read-only (unpaid, canceled), unless ``read_only_ok`` says it
    only reads (an export) or must go on (billing).
    """

    def wrap(f: F) -> F:
        f.crm_job_options = {  # type: ignore[attr-defined]
            "retries": retries,
            "timeout": timeout,
            "module": module,
            "read_only_ok": read_only_ok,
        }
        f.enqueue = functools.partial(enqueue, f)  # type: ignore[attr-defined]
        f.enqueue_after_commit = functools.partial(enqueue_after_commit, f)  # type: ignore[attr-defined]
        return f

    return wrap(func) if func is not None else wrap


def set_progress(done: int, total: int, message: str = "") -> None:
    """Report progress of the running job (shown by the UI as a progress bar)."""
    current = get_current_job()
    if current is None:
        return
    current.meta.update({"progress_done": done, "progress_total": total, "progress_msg": message})
    current.save_meta()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep Python's cyclic garbage collector off the objects that exist before a long loop.

    A loop that makes many objects (an import: dicts, tuples and lists for every row) sets
    off collections of the oldest generation, and each walks every object of the app
    (modules, SQLAlchemy's mappings, Jinja's templates ...): half of an import's CPU time.
    Inside this block those objects are frozen (``gc.freeze``) and only the loop's own
    objects are scanned; afterwards they are thawed. No collection comes first (it would
    cost a fifth of a second): garbage frozen with them waits for the first full
    collection after the block. Reference counting frees memory as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def set_worker_app(app: Flask) -> None:
    """Give this worker process the app that jobs run in."""
    global _worker_app
    _worker_app = app


def _resolve(path: str) -> Callable[..., Any]:
    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def run_job(path: str, tenant_id: str | None, args: tuple, kwargs: dict) -> Any:
    """Entry point RQ runs: resolve the function, enter the app and tenant, run, commit."""
    if has_app_context():
        _after_fork(current_app._get_current_object())
        return _run_in_app(path, tenant_id, args, kwargs)
    app = _worker_app
    if app is None:
        from . import create_app

        app = create_app()
        set_worker_app(app)
    with app.app_context():
        _after_fork(app)
        return _run_in_app(path, tenant_id, args, kwargs)


def _after_fork(app: Flask) -> None:
    """In a forked work horse, never reuse the parent's pooled database connections."""
    if app.extensions.get("crm_pid") != os.getpid():
        db.engine.dispose(close=False)
        app.extensions["crm_pid"] = os.getpid()


def _module_off(func: Callable[..., Any]) -> str | None:
    """Why ``func`` must not run for the tenant in context (its module is off), or ``None``."""
    from .modules import module_enabled
    from .plugins import module_of_callable

    current = get_current_job()
    key = (current.meta.get("module") if current else None) or module_of_callable(func)
    if key is None or module_enabled(key):
        return None
    return f"module {key} is off for this tenant"


def _run_in_app(path: str, tenant_id: str | None, args: tuple, kwargs: dict) -> Any:
    from .identity import Tenant

    func = _resolve(path)
    try:
        if tenant_id is None:
            result = func(*args, **kwargs)
        else:
            tenant = db.session.get(Tenant, uuid.UUID(tenant_id))
            if tenant is None:
                raise LookupError(f"tenant {tenant_id} no longer exists")
            with tenant_context(tenant):
                skipped = _module_off(func) or job_refusal(func)
                if skipped:
                    log.warning("job %s for tenant %s skipped: %s", path, tenant.slug, skipped)
                    return {"skipped": skipped}
                result = func(*args, **kwargs)
                db.session.commit()
                return result
        db.session.commit()
        return result
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
