"""Fixtures of the Calendar module's tests: a real CalDAV server (Radicale) started once per
test process (so once per xdist worker, each on its own port and folder), a tenant with the
module on, and a fresh calendar on the server for each test.

Why not ``conftest.py``: this folder cannot be a package (a package ``calendar`` would shadow
the standard library's module), and a conftest outside a package is imported as the
top-level module ``conftest``, replacing ``tests/conftest.py`` under that name, which the
suite's helpers import from. So each test module imports the fixtures it uses from here.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from helpers_calendar import RadicaleServer, signed_in_client

from crm_platform.testing import TenantInfo, free_port

__all__ = ["acme", "app_config", "calendar_url", "owner", "radicale"]

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


_RUNNING: list[RadicaleServer] = []


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    """A Radicale CalDAV server on a free loopback port, with plain htpasswd users (one per
    process: every test module that imports this fixture shares it)."""
    if _RUNNING:
        yield _RUNNING[0]
        return
    root = tmp_path_factory.mktemp("radicale")
    users = root / "users"
    users.write_text("".join(f"{u}:{p}\n" for u, p in USERS.items()))
    config = root / "config"
    log = root / "radicale.log"
    proc: subprocess.Popen[bytes] | None = None
    for _attempt in range(3):
        port = free_port()
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\ndelay = 0\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        with log.open("ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        if proc.poll() is None:
            break  # up (another process may have taken the port in between: then retry)
    else:
        pytest.fail("Radicale did not start: " + log.read_text()[-2000:])
    assert proc is not None
    _RUNNING.append(RadicaleServer(url, USERS))
    try:
        yield _RUNNING[0]
    finally:
        _RUNNING.clear()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The test app may talk to the CalDAV server on 127.0.0.1, with short timeouts."""
    return {**app_config, "CALENDAR_ALLOW_PRIVATE_HOSTS": True, "CALENDAR_TIMEOUT": 5}


@pytest.fixture
def calendar_url(radicale: RadicaleServer) -> str:
    """A new, empty calendar of alice on the server (one per test)."""
    return radicale.make_calendar("alice", f"crm-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def acme(app: Any) -> TenantInfo:
    """A tenant with the Calendar module on."""
    from helpers_calendar import calendar_tenant

    return calendar_tenant(app, "acme", "owner@acme.example")


@pytest.fixture
def owner(app: Any, acme: TenantInfo) -> Any:
    """A client signed in as acme's owner."""
    return signed_in_client(app, "owner@acme.example")
