"""Fixtures of the Sales module's tests: ``acme`` (Sales on, generic industry), its signed-in
owner and a signed-in rep (role member)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_sfa import sales_tenant, signed_in


@pytest.fixture
def acme(app: Any) -> Any:
    """The tenant the tests work in, with Sales on."""
    return sales_tenant(app, "acme", "owner@acme.example")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    """A client signed in as acme's owner."""
    return signed_in(app, "owner@acme.example")


@pytest.fixture
def rep(app: Any, acme: Any, factory: Any) -> Any:
    """A client signed in as a sales rep of acme (role member)."""
    factory.member(acme, "rep@acme.example", "member")
    return signed_in(app, "rep@acme.example")
