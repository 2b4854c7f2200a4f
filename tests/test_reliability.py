"""Reliability drills: the services a request or a job needs go away mid-work.

- A worker killed with SIGKILL in the middle of a job loses nothing: RQ finds the abandoned
  job (its heartbeat expired), retries it, and its effect happens once (the killed attempt's
  transaction never committed).
- Scheduled jobs are queued once per tenant even when two schedulers tick together.
- PostgreSQL refusing connections and dropping the open ones (what a restart looks like to the
  app): requests answer 503 cleanly (the API in its error shape), nothing is written, and the
  app recovers by itself once the database is back.
- Redis killed and restarted (a private server): pages keep working, readiness says what is
  down, jobs queue again once it is back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from typing import Any

import jobfuncs
import pytest
from conftest import in_tenant, login, make_api_key, post_with_csrf
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Worker
from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, func, select, text

from crm_platform import create_app
from crm_platform.customers import Account
from crm_platform.extensions import db
from crm_platform.jobs import get_queue
from crm_platform.redis_conn import get_redis
from crm_platform.schedules import enqueue_due_schedules
from crm_platform.testing import PG_ADMIN, Factory, free_port, run_jobs, wipe_database


def _wait(predicate: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` is dead but not yet reaped (its parent was killed too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def _work_in_child(app: Any) -> int:
    """Fork a process (its own session) running a forking RQ worker on the app's queue."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.setsid()
        try:
            with app.app_context():
                db.engine.dispose(close=False)
                Worker([get_queue(app)], connection=get_redis(app)).work(
                    burst=True, with_scheduler=False
                )
        finally:
            os._exit(0)
    return pid


# --------------------------------------------------------------------------- jobs


# PostgreSQL only: SQLite (the embedded, single-process default) leaves a killed writer's hot
# journal for the next connection to roll back, which other open connections can block.
@pytest.mark.postgres
def test_worker_killed_mid_job_loses_nothing_and_the_effect_happens_once(
    app: Any, factory: Any
) -> None:
    tenant = factory.tenant("alpha")
    key = f"{app.config['JOBS_QUEUE']}:killed:{uuid.uuid4().hex}"
    with in_tenant(app, tenant):
        queued = jobfuncs.killed_once.enqueue(key, "Drill")
    redis = get_redis(app)
    pid = _work_in_child(app)
    _wait(lambda: redis.get(f"{key}:started") is not None)
    horse = int(redis.get(f"{key}:started"))
    assert horse != pid  # the job runs in a work horse forked by the worker
    os.kill(horse, signal.SIGKILL)  # the horse mid-job, and the worker (its own group)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    _wait(lambda: not os.path.exists(f"/proc/{horse}") or _zombie(horse))
    with in_tenant(app, tenant) as session:  # the killed attempt's insert never committed
        assert session.scalar(select(func.count()).select_from(Account)) == 0
    with app.app_context():
        registry = StartedJobRegistry(queue=get_queue(app))
        assert queued.id in registry.get_job_ids(cleanup=False)
        # What RQ's maintenance does once the dead horse's heartbeat has expired (no waiting
        # for the TTL here): the abandoned job has retries left, so it is queued again.
        registry.cleanup(timestamp=time.time() + 24 * 3600)
        assert queued.id in get_queue(app).job_ids
    run_jobs(app)
    with in_tenant(app, tenant) as session:
        names = list(session.scalars(select(Account.name)))
    assert names == ["Drill (attempt 2)"]
    assert int(redis.get(key)) == 2


def test_two_workers_run_each_job_exactly_once(app: Any, factory: Any) -> None:
    tenant = factory.tenant("alpha")
    with in_tenant(app, tenant):
        for n in range(30):
            jobfuncs.create_account.enqueue(f"Job {n:02d}")
    with app.app_context():
        db.session.commit()
        db.engine.dispose()
    pids = [_work_in_child(app), _work_in_child(app)]
    for pid in pids:
        os.waitpid(pid, 0)
    with in_tenant(app, tenant) as session:
        names = list(session.scalars(select(Account.name).order_by(Account.name)))
    assert names == [f"Job {n:02d} by alpha" for n in range(30)]


def test_two_schedulers_ticking_together_queue_each_schedule_once(app: Any, factory: Any) -> None:
    factory.tenant("alpha")
    factory.tenant("beta")
    results: list[dict[str, int]] = []
    start = threading.Barrier(2)

    def tick() -> None:
        start.wait()
        results.append(enqueue_due_schedules(app))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals: dict[str, int] = {}
    for result in results:
        for name, count in result.items():
            assert name not in totals, f"{name} was queued by both schedulers"
            totals[name] = count
    assert totals, "no schedule was due"
    with app.app_context():
        assert len(get_queue(app).job_ids) == sum(totals.values())


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def database_down(app_config: dict[str, Any]) -> Any:
    """A switch that makes the test database refuse connections and drops the open ones
    (what a restart looks like to the app), and lets them in again."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = app_config["PG_DATABASE"]

    def switch(down: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not down)}'))
            if down:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )

    yield switch
    switch(False)
    admin.dispose()


@pytest.mark.postgres
def test_database_restart_fails_requests_cleanly_and_recovers(
    app: Any, client: Any, factory: Any, database_down: Any
) -> None:
    tenant = factory.tenant("alpha")
    login(client, tenant.owner_email)
    key = make_api_key(app, tenant, tenant.owner_email)
    api = {"Authorization": f"Bearer {key}"}
    form_page = f"/t/{tenant.slug}/accounts/new"
    assert client.get(form_page).status_code == 200
    assert client.get("/api/v1/accounts", headers=api).status_code == 200

    database_down(True)
    page = client.get(f"/t/{tenant.slug}/accounts")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "Temporarily unavailable" in page.text and "暂时无法使用" in page.text
    listed = client.get("/api/v1/accounts", headers=api)
    assert listed.status_code == 503
    assert listed.json["error"]["code"] == "unavailable"
    written = client.post("/api/v1/accounts", json={"name": "Lost Co"}, headers=api)
    assert written.status_code == 503
    assert client.get("/readyz").status_code == 503

    database_down(False)  # back: the next requests work without restarting anything
    assert client.get(f"/t/{tenant.slug}/accounts").status_code == 200
    saved = post_with_csrf(client, form_page, form_page, {"name": "Kept Co"})
    assert saved.status_code in (302, 303)
    assert client.get("/readyz").status_code == 200
    with in_tenant(app, tenant) as session:
        assert list(session.scalars(select(Account.name))) == ["Kept Co"]


# --------------------------------------------------------------------------- Redis


def _start_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    _wait(answers, 10)
    return proc


def test_redis_restart_keeps_pages_up_and_jobs_queue_again(app_config: dict[str, Any]) -> None:
    port = free_port()
    server = _start_redis(port)
    try:
        app = create_app({**app_config, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
        wipe_database(app_config)
        tenant = Factory(app).tenant("alpha")
        client = app.test_client()
        login(client, tenant.owner_email)
        home = f"/t/{tenant.slug}/"
        assert client.get(home).status_code == 200

        server.kill()
        server.wait()
        assert client.get(home).status_code == 200  # pages need no Redis
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["checks"]["redis"] != "ok"
        # queueing needs Redis: the caller hears it (and its request answers 503)
        with in_tenant(app, tenant), pytest.raises(RedisConnectionError):
            jobfuncs.create_account.enqueue("While down")

        server = _start_redis(port)
        assert client.get("/readyz").status_code == 200
        with in_tenant(app, tenant):
            jobfuncs.create_account.enqueue("After restart")
        run_jobs(app)
        with in_tenant(app, tenant) as session:
            assert list(session.scalars(select(Account.name))) == ["After restart by alpha"]
    finally:
        server.kill()
        server.wait()


# --------------------------------------------------------------------------- proxy


def test_behind_a_proxy_the_forwarded_scheme_and_client_count(app_config: dict[str, Any]) -> None:
    """With ``CRM_PROXY_HOPS=1`` the proxy's X-Forwarded-Proto makes the request HTTPS (HSTS
    is sent) and X-Forwarded-For is the client the rate limits count; without it, neither is
    trusted (a client could forge them)."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    trusting = create_app({**app_config, "PROXY_HOPS": 1}).test_client()
    answer = trusting.get("/login", headers=headers)
    assert "Strict-Transport-Security" in answer.headers
    plain = create_app(app_config).test_client()
    assert "Strict-Transport-Security" not in plain.get("/login", headers=headers).headers
