"""The inbound SMTP server (aiosmtpd): ``crm service smtp`` listens and files each message
through :func:`.inbound.deliver`.

Refusals are answered in the SMTP conversation, so the sending server bounces them to the
sender with a clear reason: no sender (``MAIL FROM:<>``, no From header) → 550, unknown
mailbox or workspace without Service → 550, a message over the size limit → 552, a
sender address that is not valid → 553, a workspace that is read-only (billing) → 450,
so the sender retries. Database work runs in a worker thread with its own
app context, never on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

import click
from aiosmtpd.controller import Controller
from flask import Flask, current_app
from flask.cli import with_appcontext

from crm_platform.sdk import TenantReadOnly, db

from .inbound import InboundRefused, deliver, route
from .settings import config

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd handler: checks sender and recipients as they come, files at DATA."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _in_app(self, func: Any, *args: Any) -> Any:
        with self.app.app_context():
            try:
                return func(*args)
            finally:
                db.session.remove()

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list
    ) -> str:
        if not address or address == "<>":
            return "550 5.7.1 Mail without a sender is not accepted here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list
    ) -> str:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._in_app, route, address)
        except InboundRefused as exc:
            return exc.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._deliver_all, envelope)

    def _deliver_all(self, envelope: Any) -> str:
        outcomes, refusals = [], []
        for recipient in envelope.rcpt_tos:
            try:
                outcomes.append(
                    self._in_app(deliver, envelope.original_content, envelope.mail_from, recipient)
                )
            except InboundRefused as exc:
                refusals.append(exc)
            except TenantReadOnly:
                refusals.append(InboundRefused(450, "4.2.1 This mailbox is paused, try later"))
            except Exception:
                log.exception("inbound mail to %s failed", recipient)
                return "451 4.3.0 Temporary failure, please try again later"
        if not outcomes and refusals:
            return refusals[0].reply
        return "250 OK " + "; ".join(outcomes)[:400]


def make_controller(app: Flask, host: str, port: int) -> Controller:
    """An aiosmtpd controller of the inbound server (``.start()`` / ``.stop()``)."""
    with app.app_context():
        limit = int(config("SERVICE_MAX_MESSAGE_BYTES"))
    return Controller(
        InboundHandler(app),
        hostname=host,
        port=port,
        data_size_limit=limit,
        ident="CRM service inbound",
    )


@click.group("service", help="The Service module: inbound e-mail server.")
def service_cli() -> None:
    """``crm service ...``"""


@service_cli.command("smtp")
@click.option("--host", default=None, help="Address to listen on (CRM_SERVICE_SMTP_HOST).")
@click.option("--port", default=None, type=int, help="Port (CRM_SERVICE_SMTP_PORT).")
@with_appcontext
def smtp_command(host: str | None, port: int | None) -> None:
    """Receive support e-mail: each message becomes a ticket or a reply on one."""
    app = current_app._get_current_object()
    host = host or config("SERVICE_SMTP_HOST")
    port = port or int(config("SERVICE_SMTP_PORT"))
    controller = make_controller(app, host, port)
    try:
        controller.start()
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc}", err=True)
        raise SystemExit(2) from exc
    domain = config("SERVICE_INBOUND_DOMAIN")
    local = config("SERVICE_INBOUND_LOCAL_PART")
    click.echo(f"Inbound SMTP on {host}:{port} for {local}+<workspace>@{domain}")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        controller.stop()
