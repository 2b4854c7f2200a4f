"""Background jobs on a real RQ worker: tenant context, retries, after-commit queueing.

Jobs run in a real worker in burst mode: a ``SimpleWorker`` in this process (inside an app
context, so ``run_job`` uses the test app), and a forking ``Worker`` to prove the work horse
does not reuse the parent's pooled database connections.
"""

from __future__ import annotations

import uuid
from typing import Any

import jobfuncs
import pytest
from conftest import in_tenant
from rq import SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from sqlalchemy import delete, func, select

from crm_platform.customers import Account
from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.jobs import get_queue, run_job
from crm_platform.redis_conn import get_redis
from crm_platform.tenancy import provider_scope


def run_worker(app: Any, worker_class: type[Worker] = SimpleWorker, **kwargs: Any) -> None:
    """Run every queued job (and its immediate retries) in a burst worker."""
    with app.app_context():
        worker = worker_class([get_queue(app)], connection=get_redis(app))
        worker.work(burst=True, with_scheduler=False, **kwargs)


def fetch(app: Any, job: Job) -> Job:
    """The job as Redis has it now."""
    return Job.fetch(job.id, connection=get_redis(app))


def account_names(app: Any, tenant: Any) -> list[str]:
    """Names of the tenant's accounts, read in a fresh app context."""
    with in_tenant(app, tenant):
        return list(db.session.scalars(select(Account.name).order_by(Account.name)))


def failure_text(job: Job) -> str:
    result = job.latest_result()
    assert result is not None, "the job has no result"
    return result.exc_string or ""


def redis_key(app: Any, name: str) -> str:
    """A Redis key private to this test (cleaned up by its expiry)."""
    return f"{app.config['JOBS_QUEUE']}:{name}:{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- tenant context


def test_job_runs_in_the_tenant_context_it_was_queued_in(app, factory):
    a, b = factory.tenant("alpha"), factory.tenant("beta")
    with in_tenant(app, a):
        queued = jobfuncs.create_account.enqueue("Job account")
    assert queued.meta["tenant_id"] == str(a.id)
    assert queued.args[1] == str(a.id)

    run_worker(app)

    job = fetch(app, queued)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "alpha"
    assert account_names(app, a) == ["Job account by alpha"]
    assert account_names(app, b) == []


def test_jobs_of_two_tenants_stay_apart(app, factory):
    a, b = factory.tenant("alpha"), factory.tenant("beta")
    with in_tenant(app, a):
        jobfuncs.create_account.enqueue("First")
    with in_tenant(app, b):
        jobfuncs.create_account.enqueue("Second")
    with in_tenant(app, a):
        jobfuncs.create_account.enqueue("Third")

    run_worker(app)

    assert account_names(app, a) == ["First by alpha", "Third by alpha"]
    assert account_names(app, b) == ["Second by beta"]


def test_job_queued_with_no_tenant_runs_with_no_tenant(app, factory):
    factory.tenant("alpha")
    with app.app_context():
        queued = jobfuncs.count_accounts.enqueue()
    assert queued.meta["tenant_id"] is None

    run_worker(app)

    job = fetch(app, queued)
    assert job.get_status() == JobStatus.FAILED
    with app.app_context():
        assert job.id in FailedJobRegistry(queue=get_queue(app))
    assert "NoTenantContext" in failure_text(job)


def test_job_with_no_tenant_cannot_write_tenant_data(app, factory):
    a = factory.tenant("alpha")
    with app.app_context():
        queued = jobfuncs.create_account.enqueue("Orphan")

    run_worker(app)

    job = fetch(app, queued)
    assert job.get_status() == JobStatus.FAILED
    assert "NoTenantContext" in failure_text(job)
    assert account_names(app, a) == []


def test_job_for_a_tenant_that_no_longer_exists_fails_clearly(app, factory):
    a = factory.tenant("alpha")
    with in_tenant(app, a):
        queued = jobfuncs.create_account.enqueue("Too late")
    with app.app_context(), provider_scope("test: delete a tenant", "pytest") as session:
        session.execute(delete(Tenant).where(Tenant.id == a.id))

    run_worker(app)

    job = fetch(app, queued)
    assert job.get_status() == JobStatus.FAILED
    text = failure_text(job)
    assert "LookupError" in text
    assert str(a.id) in text and "no longer exists" in text


# --------------------------------------------------------------------------- retries


def test_job_that_fails_once_is_retried_and_finishes(app, factory):
    a = factory.tenant("alpha")
    key = redis_key(app, "flaky")
    with in_tenant(app, a):
        queued = jobfuncs.flaky.enqueue(key, "Flaky")
    assert queued.retries_left == 3
    assert queued.retry_intervals == [0]

    run_worker(app)

    job = fetch(app, queued)
    assert job.get_status() == JobStatus.FINISHED
    assert int(get_redis(app).get(key)) == 2
    assert job.return_value() == 2
    assert job.retries_left == 2
    with app.app_context():
        assert job.id in FinishedJobRegistry(queue=get_queue(app))
        assert job.id not in FailedJobRegistry(queue=get_queue(app))
    # the failed first attempt left nothing behind; the second one committed its account
    assert account_names(app, a) == ["Flaky on attempt 2"]


def test_job_that_always_fails_ends_failed_after_all_retries(app, factory):
    a = factory.tenant("alpha")
    key = redis_key(app, "doomed")
    with in_tenant(app, a):
        queued = jobfuncs.always_fails.enqueue(key)

    run_worker(app)

    job = fetch(app, queued)
    assert int(get_redis(app).get(key)) == 1 + 2  # the first attempt and both retries
    assert job.get_status() == JobStatus.FAILED
    assert not job.retries_left
    with app.app_context():
        assert job.id in FailedJobRegistry(queue=get_queue(app))
        assert get_queue(app).count == 0
    assert "attempt 3 fails on purpose" in failure_text(job)


def test_retry_intervals_come_from_the_config(app_config, request):
    app_config["JOBS_RETRY_INTERVALS"] = "10, 60,300"
    app = request.getfixturevalue("app")
    with app.app_context():
        queued = jobfuncs.always_fails.enqueue("unused")
        assert queued.retry_intervals == [10, 60, 300]
        assert queued.retries_left == 2
        no_retry = jobfuncs.count_accounts.enqueue()
        assert no_retry.retries_left is None
        get_queue(app).empty()


# --------------------------------------------------------------------------- after commit


def test_enqueue_after_commit_queues_nothing_when_the_transaction_rolls_back(app, factory):
    a = factory.tenant("alpha")
    with in_tenant(app, a) as session:
        session.add(Account(name="Rolled back"))
        session.flush()
        jobfuncs.create_account.enqueue_after_commit("Never")
        assert get_queue(app).count == 0
        session.rollback()
        assert get_queue(app).count == 0
        session.commit()  # a later commit of the same session must not bring it back
        assert get_queue(app).count == 0
    assert account_names(app, a) == []


def test_enqueue_after_commit_dropped_by_rollback_of_an_unstarted_transaction(app, factory):
    a = factory.tenant("alpha")
    with in_tenant(app, a) as session:
        jobfuncs.create_account.enqueue_after_commit("Never")
        session.rollback()
        session.commit()
        assert get_queue(app).count == 0


def test_enqueue_after_commit_queues_one_job_when_the_transaction_commits(app, factory):
    a, b = factory.tenant("alpha"), factory.tenant("beta")
    with in_tenant(app, a) as session:
        session.add(Account(name="Committed"))
        jobfuncs.create_account.enqueue_after_commit("After commit")
        assert get_queue(app).count == 0
        session.commit()
        assert get_queue(app).count == 1
        session.commit()  # nothing pending any more
        assert get_queue(app).count == 1
        [queued] = get_queue(app).get_jobs()
    assert queued.meta["tenant_id"] == str(a.id)

    run_worker(app)

    assert account_names(app, a) == ["After commit by alpha", "Committed"]
    assert account_names(app, b) == []


def test_enqueue_after_commit_with_no_tenant_queues_a_tenantless_job(app):
    with app.app_context():
        jobfuncs.report_progress.enqueue_after_commit(2)
        db.session.commit()
        [queued] = get_queue(app).get_jobs()
    assert queued.meta["tenant_id"] is None
    run_worker(app)
    assert fetch(app, queued).get_status() == JobStatus.FINISHED


# --------------------------------------------------------------------------- progress, commit


def test_set_progress_is_stored_in_job_meta(app):
    with app.app_context():
        queued = jobfuncs.report_progress.enqueue(4)
    assert "progress_done" not in queued.meta

    run_worker(app)

    job = fetch(app, queued)
    assert job.get_status() == JobStatus.FINISHED
    assert job.meta["progress_done"] == 4
    assert job.meta["progress_total"] == 4
    assert job.meta["progress_msg"] == "step 4 of 4"
    assert job.meta["func"] == "jobfuncs:report_progress"


def test_set_progress_outside_a_job_does_nothing(app):
    from crm_platform.jobs import set_progress

    with app.app_context():
        set_progress(1, 2, "not in a job")  # must not raise


def test_job_effect_is_committed(app, factory):
    a = factory.tenant("alpha")
    with in_tenant(app, a):
        jobfuncs.create_account.enqueue("Durable")

    run_worker(app)

    # a different session on the provider engine sees the row: it was committed
    with app.app_context(), provider_scope("test: check a job committed", "pytest") as session:
        count = session.scalar(
            select(func.count()).select_from(Account).where(Account.tenant_id == a.id)
        )
    assert count == 1
    assert account_names(app, a) == ["Durable by alpha"]


def test_run_job_outside_an_app_context_builds_the_worker_app(app, factory, monkeypatch):
    """A worker process without a pushed context uses the app given to set_worker_app."""
    from crm_platform import jobs

    a = factory.tenant("alpha")
    monkeypatch.setattr(jobs, "_worker_app", app)
    assert run_job("jobfuncs:create_account", str(a.id), ("Direct",), {}) == "alpha"
    assert account_names(app, a) == ["Direct by alpha"]


# --------------------------------------------------------------------------- forking worker


def test_forking_worker_runs_jobs_on_fresh_database_connections(app, factory):
    a, b = factory.tenant("alpha"), factory.tenant("beta")
    with in_tenant(app, a):
        jobfuncs.create_account.enqueue("Forked one")
        jobfuncs.create_account.enqueue("Forked two")
    with in_tenant(app, b):
        jobfuncs.create_account.enqueue("Forked three")

    with app.app_context():
        # the parent holds pooled connections that a work horse must not reuse
        assert db.session.scalar(select(func.count()).select_from(Tenant)) == 2
        db.session.commit()
        worker = Worker([get_queue(app)], connection=get_redis(app))
        worker.work(burst=True, with_scheduler=False)
        # ...and the parent's pool still works after the children exited
        assert db.session.scalar(select(func.count()).select_from(Tenant)) == 2

    assert account_names(app, a) == ["Forked one by alpha", "Forked two by alpha"]
    assert account_names(app, b) == ["Forked three by beta"]
    with app.app_context():
        assert FinishedJobRegistry(queue=get_queue(app)).count == 3
        assert FailedJobRegistry(queue=get_queue(app)).count == 0


@pytest.mark.parametrize("worker_class", [SimpleWorker, Worker], ids=["simple", "forking"])
def test_retry_counts_survive_the_worker_kind(app, factory, worker_class):
    a = factory.tenant("alpha")
    key = redis_key(app, "flaky")
    with in_tenant(app, a):
        queued = jobfuncs.flaky.enqueue(key, "Kind")

    run_worker(app, worker_class)

    assert fetch(app, queued).get_status() == JobStatus.FINISHED
    assert int(get_redis(app).get(key)) == 2
    assert account_names(app, a) == ["Kind on attempt 2"]


def test_enqueue_after_commit_dropped_when_the_session_closes(app, factory):
    a = factory.tenant("alpha")
    with in_tenant(app, a) as session:
        session.add(Account(name="Discarded"))
        session.flush()
        jobfuncs.create_account.enqueue_after_commit("Never")
        session.close()
        session.commit()
        assert get_queue(app).count == 0
    assert account_names(app, a) == []


def test_frozen_heap_freezes_the_objects_before_a_loop_and_thaws_them_after() -> None:
    import gc

    from crm_platform.jobs import frozen_heap

    assert gc.get_freeze_count() == 0
    with frozen_heap():
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the app's modules, classes, functions ...
        made = [[i] for i in range(1000)]
        # the loop's own objects are not frozen: the collector still scans them
        assert gc.get_freeze_count() == frozen and all(map(gc.is_tracked, made))
    assert gc.get_freeze_count() == 0
    try:
        with frozen_heap():
            raise RuntimeError("the loop failed")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0  # thawed on errors too
