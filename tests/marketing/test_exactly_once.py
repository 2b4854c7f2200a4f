"""The must-show: a campaign sent to a segment arrives at a real local SMTP server exactly
once per recipient, even when the worker sending it is killed mid-send.

A real ``crm worker`` process (RQ) sends to a real aiosmtpd server. The server kills the
worker's work horse with SIGKILL while it is in the middle of one message's SMTP transaction
(after ``RCPT TO``, before ``DATA``); RQ retries the job (same arguments, so the same lane
token), which takes back its claimed rows and skips the ones already sent. In the second
test the whole worker dies; another worker takes the rows over once their lease has run out
(the dispatcher queues a new lane for a campaign that stopped making progress).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import in_tenant
from helpers_marketing import add_contact, tagged
from sqlalchemy import func, select

from plugins.marketing.campaigns import create_campaign, start_campaign
from plugins.marketing.models import Campaign, Message
from plugins.marketing.segments import create_segment

RECIPIENTS = 30
KILL_AT = 12
LEASE = 3


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MARKETING_SEND_CHUNK": 5, "MARKETING_SEND_LEASE": LEASE}


def worker_env(app: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``crm worker`` on the test's database, Redis, queue and SMTP."""
    cfg = app.config
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "MAIL_"))}
    env.update(
        DATABASE_URL=cfg["DATABASE_URL"],
        MIGRATION_DATABASE_URL=cfg["MIGRATION_DATABASE_URL"],
        PROVIDER_DATABASE_URL=cfg["PROVIDER_DATABASE_URL"],
        REDIS_URL=cfg["REDIS_URL"],
        CRM_JOBS_QUEUE=cfg["JOBS_QUEUE"],
        CRM_JOBS_RETRY_INTERVALS="0",
        CRM_SECRET_KEY=cfg["SECRET_KEY"],
        CRM_BASE_URL="http://localhost",
        CRM_INSTANCE_PATH=str(tmp_path),
        CRM_MARKETING_SEND_CHUNK="5",
        CRM_MARKETING_SEND_LEASE=str(LEASE),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(cfg["MAIL_PORT"]),
        MAIL_FROM="Shop <news@shop.example>",
        PYTHONUNBUFFERED="1",
    )
    for key in ("DB_APP_ROLE", "DB_PROVIDER_ROLE"):
        if cfg.get(key):
            env[f"CRM_{key}"] = cfg[key]
    return env


class Workers:
    """The ``crm worker`` processes a test starts (and stops, by pid)."""

    def __init__(self, app: Any, tmp_path: Path) -> None:
        self.env = worker_env(app, tmp_path)
        self.log = tmp_path / "worker.log"
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        crm = str(Path(sys.executable).parent / "crm")
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [crm, "worker"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)
        return proc

    def horse_of(self, proc: subprocess.Popen, smtp_port: int) -> int:
        """The pid of the work horse the worker forked for its current job: the child
        process talking to the SMTP server (not RQ's scheduler, another child)."""
        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(c.raddr and c.raddr.port == smtp_port for c in child.net_connections()):
                    return child.pid
        raise AssertionError("no process of the worker is sending mail")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)


@pytest.fixture
def workers(app: Any, tmp_path: Path, smtp: Any) -> Iterator[Workers]:
    group = Workers(app, tmp_path)
    yield group
    group.stop()


def start_sending(app: Any, shop: Any) -> str:
    for i in range(RECIPIENTS):
        add_contact(app, shop, first_name=f"R{i}", email=f"r{i}@x.example", tags=["all"])
    with in_tenant(app, shop) as session:
        segment = create_segment({"name": "Everyone", "definition": tagged("all")})
        campaign = create_campaign(
            {
                "name": "Once only",
                "segment_id": str(segment.id),
                "subject": "For {{ contact.first_name }}",
                "body_html": "<p>Hello {{ contact.first_name }}</p>",
            }
        )
        session.flush()
        start_campaign(campaign)
        session.commit()
        return str(campaign.id)


def wait_until_sent(app: Any, shop: Any, campaign_id: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with in_tenant(app, shop) as session:
            status = session.scalar(
                select(Campaign.status).where(Campaign.id == uuid.UUID(campaign_id))
            )
        if status == "sent":
            return
        time.sleep(0.2)
    raise AssertionError(f"campaign still {status}; worker log:\n{log.read_text()[-6000:]}")


def assert_exactly_once(app: Any, shop: Any, smtp: Any) -> None:
    counts = smtp.per_recipient()
    assert sorted(counts) == sorted(f"r{i}@x.example" for i in range(RECIPIENTS))
    assert set(counts.values()) == {1}, counts
    assert len({m.message_id for m in smtp.received}) == RECIPIENTS
    with in_tenant(app, shop) as session:
        rows = dict(session.execute(select(Message.email, Message.message_id)).all())
        statuses = dict(
            session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
        )
    assert statuses == {"sent": RECIPIENTS}
    for received in smtp.received:  # the Message-ID claimed with the row is the one sent
        assert rows[received.recipients[0]] == received.message_id


def test_killed_work_horse_is_retried_and_every_recipient_gets_one_message(
    app, shop, smtp, workers
) -> None:
    worker = workers.start()
    killed: list[str] = []

    def kill_mid_send(address: str) -> None:
        if not killed and len(smtp.received) == KILL_AT - 1:
            os.kill(workers.horse_of(worker, smtp.port), signal.SIGKILL)
            killed.append(address)

    smtp.on_rcpt = kill_mid_send
    campaign_id = start_sending(app, shop)
    wait_until_sent(app, shop, campaign_id, workers.log)
    assert killed, "the work horse was never killed"
    assert len(smtp.to(killed[0])) == 1  # the message cut off mid-send arrived once, later
    deadline = time.monotonic() + 15
    while "terminated unexpectedly" not in workers.log.read_text():  # RQ saw the horse die
        assert time.monotonic() < deadline, workers.log.read_text()
        time.sleep(0.1)
    assert_exactly_once(app, shop, smtp)


def test_killed_worker_is_replaced_and_its_rows_taken_over(app, shop, smtp, workers) -> None:
    first = workers.start()
    killed: list[str] = []

    def kill_worker(address: str) -> None:
        if not killed and len(smtp.received) == KILL_AT - 1:
            horse = workers.horse_of(first, smtp.port)
            os.kill(first.pid, signal.SIGKILL)  # the worker itself, then its horse
            os.kill(horse, signal.SIGKILL)
            killed.append(address)

    smtp.on_rcpt = kill_worker
    campaign_id = start_sending(app, shop)
    deadline = time.monotonic() + 60
    while not killed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert killed, "the worker was never killed"
    first.wait(timeout=15)
    time.sleep(LEASE + 1)  # the dead lane's lease runs out; nobody retries its job
    workers.start()
    with in_tenant(app, shop) as session:
        from plugins.marketing.jobs import dispatch

        dispatch()  # what the scheduler does every minute: resume a stalled campaign
        session.commit()
    wait_until_sent(app, shop, campaign_id, workers.log)
    assert len(smtp.to(killed[0])) == 1
    assert_exactly_once(app, shop, smtp)
