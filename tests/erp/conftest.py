"""Fixtures of the ERP module's tests: an app that also has the in-process Memory ERP
connector, ``acme`` (Sales and ERP on) with its signed-in owner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm_platform import create_app
from crm_platform.extensions import db
from crm_platform.testing import wipe_database

from .helpers import erp_tenant, signed_in
from .memory_erp import MemoryErpPlugin, reset


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    """The test app with the Memory ERP connector registered as a plugin."""
    reset()
    wipe_database(app_config)
    application = create_app(app_config, plugins=[MemoryErpPlugin()])
    yield application
    with application.app_context():
        db.engine.dispose()
        engine = application.extensions.get("crm_provider_engine")
        if engine is not None and engine is not db.engine:
            engine.dispose()


@pytest.fixture
def acme(app: Any) -> Any:
    """The tenant the tests work in, with Sales and ERP on."""
    return erp_tenant(app, "acme", "owner@acme.example")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    """A client signed in as acme's owner."""
    return signed_in(app, "owner@acme.example")
