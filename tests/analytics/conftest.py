"""Fixtures of the Analytics module's tests: ``acme`` with Sales and Analytics on, some
accounts and deals, its signed-in owner and a rep (role member)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_analytics import analytics_tenant
from helpers_sfa import signed_in


@pytest.fixture
def acme(app: Any) -> Any:
    """The tenant the tests work in: Sales and Analytics on."""
    return analytics_tenant(app, "acme", "owner@acme.example")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    """A client signed in as acme's owner."""
    return signed_in(app, "owner@acme.example")


@pytest.fixture
def rep(app: Any, acme: Any, factory: Any) -> Any:
    """A client signed in as a rep of acme (role member)."""
    factory.member(acme, "rep@acme.example", "member")
    return signed_in(app, "rep@acme.example")
