"""Fixtures of the Portal tests: the workspace ``shop`` (Sales, Service, Marketing and
Portal on) with two customers of different accounts, and ``rival``, another workspace with
its own customer."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import Customer, customer, workspace


@pytest.fixture
def shop(app: Any) -> Any:
    """The workspace whose portal the tests use."""
    return workspace(app, "shop")


@pytest.fixture
def alice(app: Any, shop: Any) -> Customer:
    """A customer of shop (account Alpha)."""
    return customer(app, shop, "Alice", "alice@alpha.example", "Alpha Ltd")


@pytest.fixture
def bob(app: Any, shop: Any) -> Customer:
    """Another customer of shop (account Beta)."""
    return customer(app, shop, "Bob", "bob@beta.example", "Beta Ltd")


@pytest.fixture
def rival(app: Any) -> Any:
    """Another workspace with the portal on."""
    return workspace(app, "rival")


@pytest.fixture
def carol(app: Any, rival: Any) -> Customer:
    """A customer of the other workspace."""
    return customer(app, rival, "Carol", "carol@gamma.example", "Gamma Ltd")
