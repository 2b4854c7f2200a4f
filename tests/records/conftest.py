"""Fixtures of the customer database tests: the tenant ``acme``, its signed-in owner, and an
app with the recording test plugin (``helpers_records.Recorder``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import login
from helpers_records import Recorder, app_with, dispose


@pytest.fixture
def recorder() -> Recorder:
    """The recording test plugin of this test's app."""
    return Recorder()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], recorder: Recorder) -> Iterator[Any]:
    """The test app with the ``recorder`` plugin (on the database ``app`` wiped)."""
    application = app_with(app_config, recorder)
    yield application
    dispose(application)


@pytest.fixture
def acme(factory: Any) -> Any:
    """The tenant the record tests work in."""
    return factory.tenant("acme", owner_email="owner@acme.example", name="Acme Works")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    """A test client signed in as acme's owner."""
    client = app.test_client()
    assert login(client, "owner@acme.example").status_code == 302
    return client
