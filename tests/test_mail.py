"""Outgoing mail: the outbox with no SMTP server; delivery over real SMTP (aiosmtpd) with one.

Delivery runs in a real RQ worker in burst mode (``SimpleWorker`` inside an app context).
"""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import csrf_token_from, login
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from crm_platform.extensions import db
from crm_platform.jobs import get_queue
from crm_platform.mail import OutboxMessage, deliver_mail, send_mail
from crm_platform.redis_conn import get_redis
from crm_platform.testing import free_port

TO = "pat@example.com"


class Collector:
    """An aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Collector()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def envelopes(self) -> list[Any]:
        return self.handler.envelopes

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
            for e in self.envelopes
        ]


@pytest.fixture
def smtp_server() -> Any:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_app(app_config: dict[str, Any], smtp_server: SMTPServer, request: Any) -> Any:
    """The test app with ``MAIL_SERVER``/``MAIL_PORT`` pointing at the SMTP server."""
    app_config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, OUTBOX_PAGE=False)
    return request.getfixturevalue("app")


def run_worker(app: Any, **kwargs: Any) -> None:
    with app.app_context():
        worker = SimpleWorker([get_queue(app)], connection=get_redis(app))
        worker.work(burst=True, with_scheduler=False, **kwargs)


def queue_mail(app: Any, to: str = TO, subject: str = "Hello", body: str = "Hi there") -> Any:
    """``send_mail`` + commit, as a view does; returns the message id."""
    with app.app_context():
        message = send_mail(to, subject, body)
        db.session.commit()
        return message.id


def outbox(app: Any, message_id: uuid.UUID) -> OutboxMessage:
    """The stored message, read in a fresh app context (detached, attributes loaded)."""
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        db.session.expunge(message)
        return message


def only_job(app: Any) -> Job:
    with app.app_context():
        jobs = get_queue(app).get_jobs()
    assert len(jobs) == 1, jobs
    return jobs[0]


# --------------------------------------------------------------------------- no SMTP: outbox


def test_without_smtp_mail_stays_in_the_outbox(app):
    with app.app_context():
        message = send_mail(TO, "Welcome", "Hello from the outbox")
        db.session.commit()
        message_id = message.id
        assert get_queue(app).count == 0
    stored = outbox(app, message_id)
    assert (stored.to, stored.subject, stored.body) == (TO, "Welcome", "Hello from the outbox")
    assert stored.status == "outbox"
    assert stored.attempts == 0 and stored.sent_at is None


def test_outbox_page_lists_the_mail(app, client):
    queue_mail(app, subject="Your invitation", body="Open https://example.com/invite/abc")
    page = client.get("/outbox")
    assert page.status_code == 200
    assert "Your invitation" in page.text
    assert TO in page.text
    assert "https://example.com/invite/abc" in page.text


def test_outbox_page_is_404_when_disabled(app_config, request):
    app_config["OUTBOX_PAGE"] = False
    app = request.getfixturevalue("app")
    queue_mail(app, subject="Secret link")
    response = app.test_client().get("/outbox")
    assert response.status_code == 404
    assert "Secret link" not in response.text


# --------------------------------------------------------------------------- SMTP delivery


def test_send_mail_queues_delivery_only_when_the_transaction_commits(smtp_app, smtp_server):
    with smtp_app.app_context():
        message = send_mail(TO, "Hello", "Hi")
        assert message.status == "queued"
        assert get_queue(smtp_app).count == 0
        db.session.commit()
        assert get_queue(smtp_app).count == 1
        message_id = message.id
    job = only_job(smtp_app)
    assert job.meta["func"] == "crm_platform.mail:deliver_mail"
    assert job.args[2] == (message_id,)
    assert smtp_server.envelopes == []  # nothing is sent before a worker runs


def test_send_mail_rolled_back_queues_nothing(smtp_app, smtp_server):
    with smtp_app.app_context():
        send_mail(TO, "Hello", "Hi")
        db.session.rollback()
        db.session.commit()
        assert get_queue(smtp_app).count == 0
        assert db.session.query(OutboxMessage).count() == 0
    run_worker(smtp_app)
    assert smtp_server.envelopes == []


def test_worker_delivers_the_message_over_smtp(smtp_app, smtp_server):
    message_id = queue_mail(smtp_app, subject="Quarterly review", body="See you on Monday.")
    job = only_job(smtp_app)

    run_worker(smtp_app)

    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == [TO]
    assert envelope.mail_from == "no-reply@crm.localhost"
    [mail] = smtp_server.messages
    assert mail["To"] == TO
    assert mail["Subject"] == "Quarterly review"
    assert str(message_id) in mail["Message-ID"]
    assert mail.get_content().strip() == "See you on Monday."
    stored = outbox(smtp_app, message_id)
    assert stored.status == "sent"
    assert stored.sent_at is not None
    assert stored.attempts == 1 and stored.error is None
    assert Job.fetch(job.id, connection=get_redis(smtp_app)).get_status() == JobStatus.FINISHED


def test_delivery_is_idempotent(smtp_app, smtp_server):
    message_id = queue_mail(smtp_app)
    with smtp_app.app_context():
        deliver_mail.enqueue(message_id)  # a duplicate queued before the first one ran
    run_worker(smtp_app)
    assert len(smtp_server.envelopes) == 1

    with smtp_app.app_context():
        deliver_mail.enqueue(message_id)  # and one after it was sent
    run_worker(smtp_app)

    assert len(smtp_server.envelopes) == 1
    stored = outbox(smtp_app, message_id)
    assert stored.status == "sent" and stored.attempts == 1


def test_failed_delivery_is_kept_and_retried_until_the_server_is_back(smtp_app, smtp_server):
    smtp_server.stop()
    message_id = queue_mail(smtp_app, subject="Eventually")
    job = only_job(smtp_app)
    assert job.retries_left == 5

    run_worker(smtp_app, max_jobs=1)  # first attempt: connection refused

    stored = outbox(smtp_app, message_id)
    assert stored.status == "failed"
    assert stored.attempts == 1
    assert "refused" in (stored.error or "").lower()
    job = Job.fetch(job.id, connection=get_redis(smtp_app))
    assert job.get_status() == JobStatus.QUEUED  # re-queued for its retry
    assert job.retries_left == 4

    run_worker(smtp_app, max_jobs=1)  # second attempt: still down
    stored = outbox(smtp_app, message_id)
    assert (stored.status, stored.attempts) == ("failed", 2)

    smtp_server.start()
    run_worker(smtp_app)  # the next retry delivers it

    stored = outbox(smtp_app, message_id)
    assert (stored.status, stored.attempts, stored.error) == ("sent", 3, None)
    assert stored.sent_at is not None
    assert [m["Subject"] for m in smtp_server.messages] == ["Eventually"]
    job = Job.fetch(job.id, connection=get_redis(smtp_app))
    assert job.get_status() == JobStatus.FINISHED
    assert job.retries_left == 3


def test_delivery_gives_up_after_its_retries_and_can_be_requeued(smtp_app, smtp_server):
    smtp_server.stop()
    message_id = queue_mail(smtp_app)
    job = only_job(smtp_app)

    run_worker(smtp_app)

    stored = outbox(smtp_app, message_id)
    assert (stored.status, stored.attempts) == ("failed", 1 + 5)
    assert stored.error
    with smtp_app.app_context():
        registry = FailedJobRegistry(queue=get_queue(smtp_app))
        assert job.id in registry
        smtp_server.start()
        registry.requeue(job.id)
    run_worker(smtp_app)

    stored = outbox(smtp_app, message_id)
    assert (stored.status, stored.attempts) == ("sent", 7)
    assert len(smtp_server.envelopes) == 1


# --------------------------------------------------------------------------- end to end


def test_password_reset_request_delivers_the_link_over_smtp(smtp_app, smtp_server, factory):
    factory.tenant("acme", owner_email="pat@acme.example")
    client = smtp_app.test_client()
    page = client.get("/password/forgot")
    assert page.status_code == 200
    response = client.post(
        "/password/forgot",
        data={"email": "pat@acme.example", "csrf_token": csrf_token_from(page.text)},
    )
    assert response.status_code == 200
    assert smtp_server.envelopes == []  # the request only queued the delivery

    run_worker(smtp_app)

    assert len(smtp_server.envelopes) == 1
    assert smtp_server.envelopes[0].rcpt_tos == ["pat@acme.example"]
    [mail] = smtp_server.messages
    match = re.search(r"http://localhost(/password/reset/\S+)", mail.get_content())
    assert match, mail.get_content()

    # the link works: choose a new password, then sign in with it
    form = client.get(match.group(1))
    assert form.status_code == 200
    done = client.post(
        match.group(1),
        data={
            "password": "a-brand-new-passphrase",
            "confirm": "a-brand-new-passphrase",
            "csrf_token": csrf_token_from(form.text),
        },
    )
    assert done.status_code == 302
    fresh = smtp_app.test_client()
    assert login(fresh, "pat@acme.example", "a-brand-new-passphrase").status_code == 302


def test_password_reset_for_an_unknown_address_sends_nothing(smtp_app, smtp_server):
    client = smtp_app.test_client()
    page = client.get("/password/forgot")
    response = client.post(
        "/password/forgot",
        data={"email": "nobody@example.com", "csrf_token": csrf_token_from(page.text)},
    )
    assert response.status_code == 200
    with smtp_app.app_context():
        assert get_queue(smtp_app).count == 0
    run_worker(smtp_app)
    assert smtp_server.envelopes == []
