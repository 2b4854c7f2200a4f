"""Helpers of the automation tests: rules made through the rule builder's checks, runs and
activities read back, and a local HTTP receiver that records the webhook action's calls."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import in_tenant
from sqlalchemy import select

from crm_platform.records.activities import Activity
from plugins.automation.models import Rule, RuleRun
from plugins.automation.rules import RuleDraft, save, token

OWNER = "owner@alpha.example"


def make_rule(
    app: Any,
    tenant: Any,
    name: str,
    *,
    event: str | None = "contact.updated",
    conditions: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    actions: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    **trigger: Any,
) -> str:
    """A rule saved through the builder's checks (so it is exactly what the form makes)."""
    draft = RuleDraft(name=name, event=event or "", **trigger)
    draft.conditions = [
        {"token": token(), "field": f, "op": op, "value": v} for f, op, v in conditions
    ]
    draft.actions = [{"token": token(), "type": t, "params": dict(p)} for t, p in actions]
    with in_tenant(app, tenant) as session:
        rule = save(draft, None, None)
        session.commit()
        return str(rule.id)


def runs(app: Any, tenant: Any, rule_id: str | None = None) -> list[dict[str, Any]]:
    """Every run (oldest first), as dicts."""
    with in_tenant(app, tenant) as session:
        stmt = select(RuleRun).order_by(RuleRun.started_at, RuleRun.id)
        if rule_id:
            stmt = stmt.where(RuleRun.rule_id == uuid.UUID(rule_id))
        return [
            {c.key: getattr(r, c.key) for c in RuleRun.__table__.columns}
            for r in session.scalars(stmt)
        ]


def rule_row(app: Any, tenant: Any, rule_id: str) -> dict[str, Any]:
    with in_tenant(app, tenant) as session:
        r = session.scalars(select(Rule).where(Rule.id == uuid.UUID(rule_id))).one()
        return {c.key: getattr(r, c.key) for c in Rule.__table__.columns}


def activities(app: Any, tenant: Any, kind: str | None = None) -> list[dict[str, Any]]:
    with in_tenant(app, tenant) as session:
        stmt = select(Activity).order_by(Activity.created_at, Activity.id)
        if kind:
            stmt = stmt.where(Activity.kind == kind)
        return [
            {c.key: getattr(a, c.key) for c in Activity.__table__.columns}
            for a in session.scalars(stmt).unique()
        ]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP server recording POSTs; answers ``status``."""

    port: int = 0
    status: int = 200
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serve() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
