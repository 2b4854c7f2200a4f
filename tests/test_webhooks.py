"""Outbound webhooks against a real HTTP receiver on 127.0.0.1.

The receiver is ``http.server`` in a thread: it records every request and answers as told
(a status code, a redirect, or a hang past the client's time limit). Jobs run in a burst RQ
worker in this process (``run_jobs``); retry pauses are ``0`` so retries run in the same
burst. The receiver lives on a loopback address, which the SSRF guard refuses, so these
tests switch ``WEBHOOKS_ALLOW_PRIVATE`` on explicitly, except the ones about refusing.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REQUIRE, in_tenant, login
from helpers_records import add
from helpers_web import field_error, flashes, post_form
from sqlalchemy import select

from crm_platform.audit import AuditEvent
from crm_platform.jobs import get_queue
from crm_platform.modules import emit_event
from crm_platform.records.service import create_record
from crm_platform.testing import run_jobs
from crm_platform.webhooks import netguard, verify_signature
from crm_platform.webhooks.delivery import deliver
from crm_platform.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from crm_platform.webhooks.netguard import UnsafeURL, check_url
from crm_platform.webhooks.signing import compute_signature, signature_header

OWNER = "owner@alpha.example"

# --------------------------------------------------------------------------- the receiver


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server that records requests and answers from a plan.

    ``plan`` holds the answers of the next requests, in order: an int (a status code),
    ``"hang"`` (wait past the client's time limit, then answer 200) or ``"redirect"``.
    When it is empty the answer is ``default``.
    """

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    plan: list[Any] = field(default_factory=list)
    default: int = 200
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def next_answer(self) -> Any:
        with self.lock:
            return self.plan.pop(0) if self.plan else self.default


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            answer = receiver.next_answer()
            try:
                if answer == "hang":
                    receiver.release.wait(10)
                    answer = 200
                if answer == "redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.url("/elsewhere"))
                    self.end_headers()
                    return
                text = ("ok" if answer < 400 else "boom " + "x" * 10_000).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
            except OSError:
                pass  # the client gave up (a hang past its time limit)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def serve(state: Receiver, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve(Receiver()) as state:
        yield state


# --------------------------------------------------------------------------- app and data


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "WEBHOOKS_ALLOW_PRIVATE": True,  # the receiver is on 127.0.0.1
        "WEBHOOKS_RETRY_INTERVALS": "0",
        "WEBHOOKS_TIMEOUT": 2,
        "WEBHOOKS_MAX_ATTEMPTS": 3,
    }


@pytest.fixture
def alpha(factory: Any) -> Any:
    return factory.tenant("alpha", owner_email=OWNER)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    """Resolve the names in ``answers`` to the given addresses (others as usual)."""
    real = netguard._getaddrinfo

    def lookup(host: str, port: int) -> list[Any]:
        if host in answers:
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port),
                )
                for ip in answers[host]
            ]
        return real(host, port)

    monkeypatch.setattr(netguard, "_getaddrinfo", lookup)


def make_hook(app: Any, tenant: Any, url: str, events: list[str] | None = None, **kw: Any) -> Any:
    """A webhook made directly; returns ``(id, secret)``."""
    with in_tenant(app, tenant) as session:
        hook = Webhook(url=url, events=events or ["*"], description="", **kw)
        session.add(hook)
        session.commit()
        return str(hook.id), hook.secret


def deliveries(app: Any, tenant: Any) -> list[dict[str, Any]]:
    """Every delivery of ``tenant``, oldest first, as dicts."""
    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [{c.key: getattr(r, c.key) for c in WebhookDelivery.__table__.columns} for r in rows]


def attempts(app: Any, tenant: Any, delivery_id: Any) -> list[dict[str, Any]]:
    with in_tenant(app, tenant) as session:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number)
        ).all()
        return [{c.key: getattr(r, c.key) for c in WebhookAttempt.__table__.columns} for r in rows]


def audit_actions(app: Any, tenant: Any) -> list[str]:
    with in_tenant(app, tenant) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def assert_signed(request: Received, secret: str) -> None:
    header = request.headers["X-CRM-Signature"]
    assert verify_signature(secret, header, request.body)
    assert header.startswith(f"t={request.headers['X-CRM-Timestamp']},v1=")


# --------------------------------------------------------------------------- signing


def test_signature_verifies_only_the_exact_body_secret_and_recent_time() -> None:
    body = b'{"id":"1","event":"contact.created"}'
    header = signature_header("whsec_one", body, timestamp=1_700_000_000)
    expected = compute_signature("whsec_one", 1_700_000_000, body)
    assert header == f"t=1700000000,v1={expected}"
    assert verify_signature("whsec_one", header, body, now=1_700_000_100)
    assert verify_signature("whsec_one", header, body.decode(), now=1_700_000_100)
    assert not verify_signature("whsec_one", header, body + b" ", now=1_700_000_100)
    assert not verify_signature("whsec_two", header, body, now=1_700_000_100)
    assert not verify_signature("whsec_one", header, body, now=1_700_000_301)  # too old
    assert verify_signature("whsec_one", header, body, tolerance=0, now=1_800_000_000)
    for bad in (None, "", "v1=abc", "t=x,v1=abc", f"t=1700000000,v1={'0' * 64}"):
        assert not verify_signature("whsec_one", bad, body, now=1_700_000_000)
    both = f"t=1700000000,v1={'0' * 64},v1={expected}"  # several signatures: any may match
    assert verify_signature("whsec_one", both, body, now=1_700_000_000)


# --------------------------------------------------------------------------- the SSRF guard


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.com/hook", "http"),
        ("file:///etc/passwd", "http"),
        ("javascript:alert(1)", "http"),
        ("http://user:pw@example.com/", "password"),
        ("http:///nohost", "host"),
        ("http://exa mple.com/", "spaces"),
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "non-public"),
        ("http://internal.example/", "private"),
        ("http://mixed.example/", "private"),  # one bad address among good ones is enough
    ],
)
def test_guard_refuses(monkeypatch: pytest.MonkeyPatch, url: str, fragment: str) -> None:
    fake_dns(
        monkeypatch,
        {"internal.example": ["10.0.0.7"], "mixed.example": ["93.184.216.34", "172.16.5.4"]},
    )
    with pytest.raises(UnsafeURL) as refused:
        check_url(url)
    assert fragment in str(refused.value)


def test_guard_accepts_public_addresses_and_keeps_the_checked_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"hooks.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    target = check_url("https://hooks.example/in?x=1")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example", 443)
    assert (target.path, target.address) == ("/in?x=1", "93.184.216.34")
    assert target.host_header == "hooks.example"
    assert check_url("http://hooks.example:8080").host_header == "hooks.example:8080"
    # Allowing private addresses lifts the address rule, never the scheme rule.
    assert check_url("http://127.0.0.1:9/", allow_private=True).address == "127.0.0.1"
    with pytest.raises(UnsafeURL):
        check_url("gopher://127.0.0.1/", allow_private=True)


# --------------------------------------------------------------------------- subscribing


def test_private_url_is_refused_with_a_field_error(app: Any, client: Any, alpha: Any) -> None:
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    login(client, OWNER)
    url = "/t/alpha/settings/webhooks/new"
    for target, message in (
        ("http://127.0.0.1:8080/hook", "loopback address"),
        ("http://169.254.169.254/", "link-local address"),
        ("ftp://example.com/", "Only http:// and https://"),
        ("", "Enter the URL"),
    ):
        page = post_form(client, url, {"url": target, "events": ["contact.created"]})
        assert page.status_code == 400
        assert message in (field_error(page.text, "url") or ""), target
    page = post_form(client, url, {"url": "http://10.0.0.1/", "events": []})
    assert field_error(page.text, "events") == "Choose at least one event."
    with in_tenant(app, alpha) as session:
        assert session.scalars(select(Webhook)).all() == []


def test_admin_subscribes_and_an_event_arrives_signed(
    app: Any, client: Any, alpha: Any, receiver: Receiver
) -> None:
    login(client, OWNER)
    home = client.get("/t/alpha/")
    assert "/t/alpha/settings/webhooks" in home.text  # in the navigation
    created = post_form(
        client,
        "/t/alpha/settings/webhooks/new",
        {
            "url": receiver.url(),
            "events": ["contact.created", "account.created"],
            "description": "Sync",
            "active": "y",
        },
    )
    assert created.status_code == 303
    page = client.get(created.headers["Location"])
    with in_tenant(app, alpha) as session:
        hook = session.scalars(select(Webhook)).one()
        secret, hook_id = hook.secret, hook.id
        assert hook.events == ["account.created", "contact.created"] and hook.active
    assert secret.startswith("whsec_") and secret in page.text
    assert "webhook.created" in audit_actions(app, alpha)

    contact_id = add(app, alpha, "contact", first_name="Ann", last_name="Lee")
    add(app, alpha, "account", name="Acme")
    with in_tenant(app, alpha) as session:  # an event the webhook did not subscribe to
        emit_event("contact.updated", data={"name": "Ann Lee"})
        session.commit()
    run_jobs(app)

    assert len(receiver.requests) == 2
    first = receiver.requests[0]
    assert first.path == "/hook"
    assert first.headers["X-CRM-Event"] == "contact.created"
    assert first.headers["Content-Type"].startswith("application/json")
    assert_signed(first, secret)
    payload = first.json()
    assert set(payload) == {"id", "event", "tenant", "occurred_at", "record_id", "data"}
    assert payload["id"] == first.headers["X-CRM-Delivery"]
    assert payload["event"] == "contact.created" and payload["tenant"] == "alpha"
    assert payload["record_id"] == contact_id
    assert payload["data"] == {"name": "Ann Lee"}
    assert payload["occurred_at"].endswith("Z")

    rows = deliveries(app, alpha)
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    assert rows[0]["attempts"] == 1 and rows[0]["response_code"] == 200
    assert rows[0]["response_excerpt"] == "ok" and rows[0]["webhook_id"] == hook_id
    detail = client.get(f"/t/alpha/settings/webhooks/{hook_id}")
    assert "contact.created" in detail.text and "account.created" in detail.text
    one = client.get(f"/t/alpha/settings/webhooks/{hook_id}/deliveries/{rows[0]['id']}")
    assert one.status_code == 200 and contact_id in one.text


# --------------------------------------------------------------------------- failures


def test_500_is_retried_and_delivered_once_the_receiver_recovers(
    app: Any, alpha: Any, receiver: Receiver
) -> None:
    _, secret = make_hook(app, alpha, receiver.url(), ["contact.created"])
    receiver.plan = [500, 500]
    add(app, alpha, "contact", first_name="Retry")
    run_jobs(app)

    assert len(receiver.requests) == 3
    ids = {r.headers["X-CRM-Delivery"] for r in receiver.requests}
    assert len(ids) == 1  # the idempotency key is stable across retries
    assert len({r.body for r in receiver.requests}) == 1
    assert [r.headers["X-CRM-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    for request in receiver.requests:
        assert_signed(request, secret)
    (row,) = deliveries(app, alpha)
    assert (row["status"], row["attempts"], row["response_code"]) == ("delivered", 3, 200)
    tries = attempts(app, alpha, row["id"])
    assert [(a["number"], a["delivered"], a["response_code"]) for a in tries] == [
        (1, False, 500),
        (2, False, 500),
        (3, True, 200),
    ]
    assert tries[0]["error"] == "HTTP 500"
    assert tries[0]["response_excerpt"].startswith("boom x")
    assert len(tries[0]["response_excerpt"]) <= 1000  # the body is read and kept bounded

    # A stale or duplicate job for a delivered delivery sends nothing.
    with in_tenant(app, alpha):
        deliver.enqueue(str(row["id"]), 1)
        deliver.enqueue(str(row["id"]), 4)
    run_jobs(app)
    assert len(receiver.requests) == 3


def test_delivery_fails_after_the_last_attempt(app: Any, alpha: Any, receiver: Receiver) -> None:
    make_hook(app, alpha, receiver.url(), ["*"])
    receiver.default = 503
    add(app, alpha, "account", name="Down")
    run_jobs(app)
    assert len(receiver.requests) == 3  # WEBHOOKS_MAX_ATTEMPTS
    (row,) = deliveries(app, alpha)
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 3, "HTTP 503")
    scraped = app.test_client().get("/metrics").text  # the operator's counter of give-ups
    assert "\ncrm_webhook_deliveries_failed_total 1\n" in scraped


def test_a_hanging_receiver_is_cut_off_and_the_timeout_recorded(
    app: Any, alpha: Any, receiver: Receiver
) -> None:
    app.config.update(WEBHOOKS_TIMEOUT=1, WEBHOOKS_MAX_ATTEMPTS=1)
    make_hook(app, alpha, receiver.url(), ["account.created"])
    receiver.plan = ["hang"]
    add(app, alpha, "account", name="Slow")
    run_jobs(app)
    (row,) = deliveries(app, alpha)
    assert row["status"] == "failed"
    assert row["error"] == "timed out after 1 s"
    assert row["response_code"] is None
    assert 900 <= row["response_ms"] < 3000


def test_redirects_are_not_followed(app: Any, alpha: Any, receiver: Receiver) -> None:
    app.config["WEBHOOKS_MAX_ATTEMPTS"] = 1
    make_hook(app, alpha, receiver.url(), ["account.created"])
    receiver.plan = ["redirect"]
    add(app, alpha, "account", name="Moved")
    run_jobs(app)
    assert [r.path for r in receiver.requests] == ["/hook"]
    (row,) = deliveries(app, alpha)
    assert row["status"] == "failed" and row["response_code"] == 302
    assert "redirects are not followed" in row["error"]


def test_an_unreachable_receiver_is_recorded(app: Any, alpha: Any) -> None:
    app.config["WEBHOOKS_MAX_ATTEMPTS"] = 2
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    make_hook(app, alpha, f"http://127.0.0.1:{port}/", ["account.created"])
    add(app, alpha, "account", name="Nobody home")
    run_jobs(app)
    (row,) = deliveries(app, alpha)
    assert row["status"] == "failed" and row["attempts"] == 2
    assert "ConnectionRefusedError" in row["error"]


# --------------------------------------------------------------------------- replay


def test_replay_sends_the_same_delivery_again(
    app: Any, client: Any, alpha: Any, receiver: Receiver
) -> None:
    app.config["WEBHOOKS_MAX_ATTEMPTS"] = 1
    hook_id, secret = make_hook(app, alpha, receiver.url(), ["contact.created"])
    receiver.plan = [500]
    add(app, alpha, "contact", first_name="Again")
    run_jobs(app)
    (row,) = deliveries(app, alpha)
    assert row["status"] == "failed"

    login(client, OWNER)
    page = f"/t/alpha/settings/webhooks/{hook_id}"
    assert "Replay" in client.get(page).text
    url = f"{page}/deliveries/{row['id']}/replay"
    answer = post_form(client, url, page=page)
    assert answer.status_code == 303
    again = post_form(client, url, page=page)  # already queued: not twice
    assert flashes(client.get(again.headers["Location"]).text) == [
        "This delivery is already queued."
    ]
    run_jobs(app)

    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-CRM-Delivery"] == second.headers["X-CRM-Delivery"] == str(row["id"])
    assert second.headers["X-CRM-Attempt"] == "2"
    assert_signed(second, secret)
    (row,) = deliveries(app, alpha)
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert [(a["number"], a["replay"]) for a in attempts(app, alpha, row["id"])] == [
        (1, False),
        (2, True),
    ]
    assert "webhook.delivery_replayed" in audit_actions(app, alpha)

    # A delivered delivery may be replayed too, on purpose: one more attempt.
    post_form(client, url, page=page)
    run_jobs(app)
    assert len(receiver.requests) == 3
    (row,) = deliveries(app, alpha)
    assert (row["status"], row["attempts"]) == ("delivered", 3)


# --------------------------------------------------------------------------- transactions


def test_a_rolled_back_change_sends_nothing(app: Any, alpha: Any, receiver: Receiver) -> None:
    make_hook(app, alpha, receiver.url(), ["*"])
    with in_tenant(app, alpha) as session:
        create_record("account", {"name": "Never was"})
        session.flush()
        assert session.scalars(select(WebhookDelivery)).all() != []  # made, not yet committed
        session.rollback()
    with app.app_context():
        assert get_queue(app).count == 0
    run_jobs(app)
    assert receiver.requests == []
    assert deliveries(app, alpha) == []


# --------------------------------------------------------------------------- isolation


def test_tenants_get_only_their_own_events(
    app: Any, client: Any, factory: Any, alpha: Any, receiver: Receiver
) -> None:
    bravo = factory.tenant("bravo", owner_email="owner@bravo.example")
    make_hook(app, alpha, receiver.url("/alpha"), ["*"])
    b_hook, _ = make_hook(app, bravo, receiver.url("/bravo"), ["*"])
    add(app, alpha, "contact", first_name="Only alpha")
    run_jobs(app)
    assert [r.json()["tenant"] for r in receiver.to("/alpha")] == ["alpha"]
    assert receiver.to("/bravo") == []
    assert deliveries(app, bravo) == []

    add(app, bravo, "account", name="Only bravo")
    run_jobs(app)
    assert [r.json()["tenant"] for r in receiver.to("/bravo")] == ["bravo"]
    assert len(receiver.to("/alpha")) == 1
    (b_row,) = deliveries(app, bravo)

    login(client, OWNER)  # alpha's owner, with bravo's ids, under either slug
    for slug in ("alpha", "bravo"):
        base = f"/t/{slug}/settings/webhooks/{b_hook}"
        assert client.get(base).status_code == 404
        assert client.get(f"{base}/deliveries/{b_row['id']}").status_code == 404
        for action in ("disable", "rotate-secret", "delete", f"deliveries/{b_row['id']}/replay"):
            answer = post_form(client, f"{base}/{action}", page="/t/alpha/settings/webhooks/new")
            assert answer.status_code == 404, action
    with in_tenant(app, bravo) as session:
        assert session.scalars(select(Webhook.active)).all() == [True]


def test_members_without_settings_permission_cannot_open_webhooks(
    app: Any, client: Any, factory: Any, alpha: Any
) -> None:
    factory.member(alpha, "rep@alpha.example", "member")
    hook_id, _ = make_hook(app, alpha, "http://127.0.0.1:9/", ["*"])
    login(client, "rep@alpha.example")
    assert client.get("/t/alpha/settings/webhooks").status_code == 403
    assert client.get(f"/t/alpha/settings/webhooks/{hook_id}").status_code == 403
    assert "/settings/webhooks" not in client.get("/t/alpha/").text


# --------------------------------------------------------------------------- DNS


def test_delivery_rechecks_the_address_and_refuses_a_rebound_name(
    app: Any, alpha: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config.update(WEBHOOKS_ALLOW_PRIVATE=False, WEBHOOKS_MAX_ATTEMPTS=1)
    fake_dns(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    with in_tenant(app, alpha) as session, app.test_request_context():
        from crm_platform.webhooks.service import create_webhook

        create_webhook(f"http://hooks.example:{receiver.port}/hook", ["account.created"])
        session.commit()
    fake_dns(monkeypatch, {"hooks.example": ["127.0.0.1"]})  # the name now points inside
    add(app, alpha, "account", name="Rebound")
    run_jobs(app)
    assert receiver.requests == []
    (row,) = deliveries(app, alpha)
    assert row["status"] == "failed"
    assert row["error"].startswith("refused: hooks.example resolves to 127.0.0.1")


def test_delivery_connects_to_the_checked_address_with_the_original_host(
    app: Any, alpha: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"hooks.test": ["127.0.0.1"]})
    make_hook(app, alpha, f"http://hooks.test:{receiver.port}/in?src=crm", ["account.created"])
    add(app, alpha, "account", name="Pinned")
    run_jobs(app)
    (request,) = receiver.requests
    assert request.path == "/in?src=crm"
    assert request.headers["Host"] == f"hooks.test:{receiver.port}"


# --------------------------------------------------------------------------- managing


def test_edit_disable_rotate_test_and_delete(
    app: Any, client: Any, alpha: Any, receiver: Receiver
) -> None:
    hook_id, old_secret = make_hook(app, alpha, receiver.url(), ["contact.created"])
    login(client, OWNER)
    page = f"/t/alpha/settings/webhooks/{hook_id}"

    edit = post_form(
        client,
        f"{page}/edit",
        {"url": receiver.url("/v2"), "events": ["account.created"], "active": "y"},
    )
    assert edit.status_code == 303
    refused = post_form(client, f"{page}/edit", {"url": "ftp://x", "events": ["*"]})
    assert refused.status_code == 400 and field_error(refused.text, "url")

    assert post_form(client, f"{page}/disable", page=page).status_code == 303
    add(app, alpha, "account", name="While disabled")
    run_jobs(app)
    assert receiver.requests == [] and deliveries(app, alpha) == []
    assert post_form(client, f"{page}/enable", page=page).status_code == 303

    rotated = post_form(client, f"{page}/rotate-secret", page=page)
    with in_tenant(app, alpha) as session:
        new_secret = session.scalars(select(Webhook.secret)).one()
    assert new_secret != old_secret
    assert new_secret in client.get(rotated.headers["Location"]).text

    assert post_form(client, f"{page}/test", page=page).status_code == 303
    add(app, alpha, "account", name="After enabling")
    run_jobs(app)
    assert [r.headers["X-CRM-Event"] for r in receiver.to("/v2")] == [
        "webhook.ping",
        "account.created",
    ]
    for request in receiver.requests:
        assert_signed(request, new_secret)
        assert not verify_signature(old_secret, request.headers["X-CRM-Signature"], request.body)

    assert client.get(f"{page}/delete").status_code == 200
    assert post_form(client, f"{page}/delete").status_code == 303
    assert client.get(page).status_code == 404
    assert deliveries(app, alpha) == []
    actions = audit_actions(app, alpha)
    for action in (
        "webhook.updated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.secret_rotated",
        "webhook.deleted",
    ):
        assert action in actions
    with in_tenant(app, alpha) as session:
        details = session.scalars(select(AuditEvent.details)).all()
    assert not any(new_secret in json.dumps(d) or old_secret in json.dumps(d) for d in details)


def test_webhooks_list_page(app: Any, client: Any, alpha: Any) -> None:
    make_hook(app, alpha, "https://one.example/hook", ["*"])
    make_hook(app, alpha, "https://two.example/hook", ["contact.created"], active=False)
    login(client, OWNER)
    page = client.get("/t/alpha/settings/webhooks")
    assert page.status_code == 200
    assert "https://one.example/hook" in page.text and "https://two.example/hook" in page.text
    assert client.get("/t/alpha/settings/webhooks/new").status_code == 200
    assert client.get(f"/t/alpha/settings/webhooks/{uuid.uuid4()}").status_code == 404


def test_a_failed_attempt_waits_for_its_backoff_on_the_scheduler(
    app: Any, alpha: Any, receiver: Receiver
) -> None:
    from rq.registry import ScheduledJobRegistry

    app.config["WEBHOOKS_RETRY_INTERVALS"] = "60,600"
    make_hook(app, alpha, receiver.url(), ["account.created"])
    receiver.plan = [500]
    add(app, alpha, "account", name="Later")
    run_jobs(app)  # the burst worker runs no scheduler: the retry stays scheduled
    assert len(receiver.requests) == 1
    (row,) = deliveries(app, alpha)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    with app.app_context():
        registry = ScheduledJobRegistry(queue=get_queue(app))
        (job_id,) = registry.get_job_ids()
        last = row["last_attempt_at"]
        last = last if last.tzinfo else last.replace(tzinfo=UTC)  # SQLite gives naive UTC
        wait = registry.get_scheduled_time(job_id) - last
    assert 55 <= wait.total_seconds() <= 65


def test_the_receiver_code_in_the_docs_verifies_real_deliveries(
    app: Any, alpha: Any, receiver: Receiver
) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "webhooks.md").read_text()
    snippet = re.search(r"```python\n(import hashlib.*?)```", docs, re.DOTALL)
    assert snippet, "docs/webhooks.md shows verify_signature"
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)  # noqa: S102 - our own documentation
    _, secret = make_hook(app, alpha, receiver.url(), ["*"])
    add(app, alpha, "contact", first_name="Docs")
    run_jobs(app)
    (request,) = receiver.requests
    header = request.headers["X-CRM-Signature"]
    assert namespace["verify_signature"](secret, header, request.body)
    assert not namespace["verify_signature"](secret, header, request.body + b"x")
    assert not namespace["verify_signature"]("whsec_other", header, request.body)


@pytest.mark.skipif(
    shutil.which("openssl") is None and not REQUIRE,  # in CI a missing openssl fails the test
    reason="needs the openssl command",
)
def test_https_goes_to_the_checked_address_with_sni_and_a_certificate_check(
    app: Any, alpha: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_platform.webhooks import sender

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.test"]
        + ["-addext", "subjectAltName=DNS:hooks.test"],
        check=True,
        capture_output=True,
    )
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_side.sni_callback = lambda sock, name, ctx: names.append(name)
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(sender.ssl, "create_default_context", lambda: trusting)
    fake_dns(monkeypatch, {"hooks.test": ["127.0.0.1"]})
    app.config["WEBHOOKS_MAX_ATTEMPTS"] = 1
    with serve(Receiver(), tls=server_side) as tls_receiver:
        make_hook(app, alpha, f"https://hooks.test:{tls_receiver.port}/hook", ["account.created"])
        # The same server by its address: the certificate does not name it.
        make_hook(app, alpha, f"https://127.0.0.1:{tls_receiver.port}/hook", ["account.created"])
        add(app, alpha, "account", name="Secure")
        run_jobs(app)
        assert len(tls_receiver.requests) == 1
        assert tls_receiver.requests[0].headers["Host"] == f"hooks.test:{tls_receiver.port}"
    assert "hooks.test" in names
    by_status = {r["status"]: r for r in deliveries(app, alpha)}
    assert set(by_status) == {"delivered", "failed"}
    assert by_status["failed"]["error"].startswith("TLS error")
    assert "certificate" in by_status["failed"]["error"].lower()
