"""Fixtures of the Tryton connector's tests: a real trytond (``tryton_server``, one per
session and xdist worker), a logged-in RPC client to set up data in it, the connector, and
helpers that create parties, products and sales in Tryton. No CRM app is needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers_tryton import tryton_server  # noqa: F401 - the shared fixture

from plugins.erp_tryton.client import TrytonClient
from plugins.erp_tryton.connector import TrytonConnector


def pytest_configure(config: Any) -> None:
    """Register the ``tryton`` marker (tests against a real trytond)."""
    config.addinivalue_line("markers", "tryton: runs against a real trytond (tests/helpers_tryton)")


@pytest.fixture(scope="session")
def rpc(tryton_server: dict[str, str]) -> Iterator[TrytonClient]:  # noqa: F811
    """An admin session on the test trytond, to create and inspect data."""
    client = TrytonClient(
        tryton_server["url"],
        tryton_server["database"],
        tryton_server["username"],
        tryton_server["password"],
    )
    client.login()
    yield client
    client.logout()


@pytest.fixture
def connector() -> TrytonConnector:
    """The connector under test."""
    return TrytonConnector()


@pytest.fixture
def settings(tryton_server: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """Connection settings of the test trytond (a copy the test may change)."""
    return dict(tryton_server)
