"""Job functions for the job, mail and embedded-run tests.

RQ resolves a job's function by its dotted path inside the worker, so this module must be
importable there as ``jobfuncs``: pytest puts ``tests/`` on ``sys.path`` (a forked work
horse inherits it), and the embedded-run test sets ``PYTHONPATH`` for ``crm serve``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from crm_platform.customers import Account
from crm_platform.extensions import db
from crm_platform.jobs import job, set_progress
from crm_platform.redis_conn import get_redis
from crm_platform.tenancy import current_tenant


def _bump(key: str) -> int:
    """Count an attempt in Redis (survives the work horse, unlike a Python global)."""
    redis = get_redis()
    attempt = int(redis.incr(key))
    redis.expire(key, 600)
    return attempt


@job(retries=0)
def create_account(label: str) -> str:
    """Add an account named after ``label`` and the tenant the job runs as."""
    tenant = current_tenant()
    slug = tenant.slug if tenant else "no-tenant"
    db.session.add(Account(name=f"{label} by {slug}"))
    return slug


@job(retries=0)
def count_accounts() -> int:
    """Query tenant data (raises NoTenantContext when the job runs with no tenant)."""
    return int(db.session.scalar(select(func.count()).select_from(Account)) or 0)


@job(retries=3)
def flaky(key: str, label: str) -> int:
    """Fail on the first attempt, succeed (adding an account) on the next."""
    attempt = _bump(key)
    if attempt == 1:
        raise RuntimeError("first attempt fails on purpose")
    db.session.add(Account(name=f"{label} on attempt {attempt}"))
    return attempt


@job(retries=2)
def always_fails(key: str) -> None:
    """Fail on every attempt."""
    attempt = _bump(key)
    raise RuntimeError(f"attempt {attempt} fails on purpose")


@job(retries=0)
def report_progress(total: int) -> int:
    """Report progress step by step."""
    for done in range(1, total + 1):
        set_progress(done, total, f"step {done} of {total}")
    return total


@job(retries=0)
def write_file(path: str, text: str) -> str:
    """Leave a trace on disk (for a worker whose database the test cannot reach)."""
    Path(path).write_text(text)
    return text


@job(retries=2)
def killed_once(key: str, label: str) -> int:
    """Add an account; on the first attempt, say which process runs it (the work horse) and
    wait to be killed before the job's transaction commits (the reliability drill SIGKILLs
    the worker and its horse)."""
    import os
    import time

    attempt = _bump(key)
    db.session.add(Account(name=f"{label} (attempt {attempt})"))
    db.session.flush()
    if attempt == 1:
        get_redis().set(f"{key}:started", str(os.getpid()), ex=600)
        time.sleep(120)  # killed long before this ends
    return attempt
