"""Fixtures of the marketing tests: the tenant ``shop`` with Marketing on, its signed-in
owner, contacts and orders made through the real services, and a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_marketing import SmtpSink, enable_marketing


@pytest.fixture
def shop(app: Any, factory: Any) -> Any:
    """The tenant the marketing tests work in, with the module switched on."""
    tenant = factory.tenant("shop", owner_email="owner@shop.example", name="Shop Ltd")
    enable_marketing(app, tenant)
    return tenant


@pytest.fixture
def owner(app: Any, shop: Any) -> Any:
    """A test client signed in as the shop's owner."""
    client = app.test_client()
    assert login(client, "owner@shop.example").status_code == 302
    return client


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free local port that keeps what it receives."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any], request: Any) -> dict[str, Any]:
    """Mail goes to the ``smtp`` fixture's server when a test uses it."""
    config = {**app_config, "MAIL_FROM": "Shop <news@shop.example>"}
    if "smtp" in request.fixturenames:
        sink = request.getfixturevalue("smtp")
        config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port, OUTBOX_PAGE=False)
    return config


@pytest.fixture
def session_of(app: Any, shop: Any) -> Any:
    """``with session_of() as session:`` an app context inside the shop."""
    return lambda: in_tenant(app, shop)
