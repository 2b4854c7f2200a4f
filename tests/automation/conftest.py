"""Fixtures of the automation tests: ``alpha`` with Automation on (and Sales, Marketing),
its owner signed in, and a local HTTP receiver for the webhook action."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers_automation import OWNER, Receiver, serve
from helpers_sfa import enable, signed_in


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **app_config,
        "WEBHOOKS_ALLOW_PRIVATE": True,  # the receiver is on 127.0.0.1
        "WEBHOOKS_TIMEOUT": 2,
    }


@pytest.fixture
def alpha(app: Any, factory: Any) -> Any:
    tenant = factory.tenant("alpha", owner_email=OWNER)
    for key in ("automation", "sfa", "marketing"):
        enable(app, tenant, key)
    return tenant


@pytest.fixture
def owner(app: Any, alpha: Any) -> Any:
    return signed_in(app, OWNER)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as state:
        yield state
