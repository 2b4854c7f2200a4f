"""Fixtures of the Service module's tests: the workspace ``acme`` with Service switched on
(through the Modules page, as an owner would), its signed-in owner, an agent, and an
inbound SMTP server on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import login
from helpers_records import app_with, dispose
from helpers_web import post_form

from crm_platform.testing import free_port

from .helpers import EventLog


@pytest.fixture
def events() -> EventLog:
    """The domain events of this test's app, in order."""
    return EventLog()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], events: EventLog) -> Iterator[Any]:
    """The test app, with a plugin that records domain events."""
    application = app_with(app_config, events)
    yield application
    dispose(application)


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    """The workspace with Service on (onboarding ran)."""
    tenant = factory.tenant("acme", owner_email="owner@acme.example", name="Acme Works")
    client = app.test_client()
    login(client, "owner@acme.example")
    page = "/t/acme/settings/modules"
    assert post_form(client, page + "/service/enable", page=page).status_code == 302
    return tenant


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    """A client signed in as acme's owner."""
    client = app.test_client()
    assert login(client, "owner@acme.example").status_code == 302
    return client


@pytest.fixture
def agent(app: Any, acme: Any, factory: Any) -> Any:
    """A client signed in as a member (an agent) of acme."""
    factory.member(acme, "agent@acme.example", "member")
    client = app.test_client()
    assert login(client, "agent@acme.example").status_code == 302
    return client


@pytest.fixture
def smtp_server(app: Any) -> Iterator[tuple[str, int]]:
    """The inbound SMTP server of ``app``, listening on a free port."""
    from plugins.service.smtp import make_controller

    port = free_port()
    controller = make_controller(app, "127.0.0.1", port)
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()
