"""``check`` and the client's errors against a real trytond, a closed port and a mute server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from plugins.erp.connector import Connector, ConnectorError
from plugins.erp_tryton.client import TrytonClient
from plugins.erp_tryton.connector import TrytonConnector

pytestmark = pytest.mark.tryton


def test_connector_satisfies_the_interface(connector: TrytonConnector) -> None:
    from plugins.erp.connector import CRM_FIELDS, DIRECTIONS, POLICIES

    assert isinstance(connector, Connector)
    assert {o.key for o in connector.objects} == {
        "party",
        "product",
        "sale",
        "quote",
        "invoice",
        "stock",
    }
    for obj in connector.objects:
        assert obj.direction in DIRECTIONS
        for field in obj.fields:
            assert field.crm in CRM_FIELDS[obj.crm_kind], (obj.key, field.crm)
            assert field.policy in POLICIES
    assert [s.name for s in connector.settings if s.secret] == ["password"]


def test_check_accepts_the_real_server(connector: TrytonConnector, settings: dict) -> None:
    connector.check(settings)


def test_wrong_password_is_not_retryable(connector: TrytonConnector, settings: dict) -> None:
    settings["password"] = "not-the-password"
    with pytest.raises(ConnectorError) as caught:
        connector.check(settings)
    assert caught.value.retryable is False
    assert "rejected the user 'admin'" in caught.value.message


def test_unknown_database_is_not_retryable(connector: TrytonConnector, settings: dict) -> None:
    settings["database"] = "no_such_db"
    with pytest.raises(ConnectorError) as caught:
        connector.check(settings)
    assert caught.value.retryable is False
    assert "no database 'no_such_db'" in caught.value.message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_is_retryable(connector: TrytonConnector, settings: dict) -> None:
    settings["url"] = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(ConnectorError) as caught:
        connector.pull(settings, "party", None, 10)
    assert caught.value.retryable is True
    assert "unreachable" in caught.value.message


@pytest.fixture
def mute_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung ERP)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    listener.close()


def test_slow_server_times_out_retryable(
    connector: TrytonConnector, settings: dict, mute_server: str
) -> None:
    settings.update(url=mute_server, timeout="0.5")
    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        connector.check(settings)
    assert time.monotonic() - started < 5
    assert caught.value.retryable is True
    assert "did not answer" in caught.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "ftp://example.invalid"}, "not an http(s) address"),
        ({"database": ""}, "no Tryton database"),
        ({"timeout": "soon"}, "not a number"),
        ({"timeout": "0"}, "between 0 and 600"),
    ],
)
def test_bad_settings_are_not_retryable(
    connector: TrytonConnector, settings: dict, change: dict, message: str
) -> None:
    settings.update(change)
    with pytest.raises(ConnectorError) as caught:
        connector.check(settings)
    assert caught.value.retryable is False
    assert message in caught.value.message


def test_validation_error_is_not_retryable(rpc: TrytonClient) -> None:
    with pytest.raises(ConnectorError) as caught:
        rpc.create(
            "party.party",
            [{"name": "x", "contact_mechanisms": [["create", [{"type": "email", "value": "@"}]]]}],
        )
    assert caught.value.retryable is False
    assert "Tryton refused model.party.party.create" in caught.value.message


def test_expired_session_logs_in_again(tryton_server: dict) -> None:
    client = TrytonClient(
        tryton_server["url"],
        tryton_server["database"],
        tryton_server["username"],
        tryton_server["password"],
    )
    client.login()
    client._session = "0" * 64  # what the client holds after the server dropped the session
    assert client.search_read("party.party", [], ["name"], limit=1)


def test_sessions_are_reused_but_never_across_passwords(
    connector: TrytonConnector, settings: dict
) -> None:
    connector.pull(settings, "party", None, 1)
    with connector.session(settings) as client:
        reused = client.session
        assert reused is not None
    # the session is kept for the same credentials only
    wrong = {**settings, "password": "not-the-password"}
    with pytest.raises(ConnectorError) as caught:
        connector.pull(wrong, "party", None, 1)
    assert caught.value.retryable is False
    # a session that Tryton dropped is replaced by a new login
    with connector.session(settings) as client:
        client.call("common.db.logout")
    assert connector.pull(settings, "party", None, 1).records
    with connector.session(settings) as client:
        assert client.session is not None and client.session[1] != reused[1]
