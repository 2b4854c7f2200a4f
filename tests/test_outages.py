"""Which errors answer 503 (a lost service) and which take the usual 500 path, without a
database or Redis having to go away (tests/test_reliability.py does that for real)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

import crm_platform.outages  # noqa: F401 - registers the lost-connection listener


@pytest.mark.once
def test_a_lost_connection_is_an_operational_error_whatever_the_driver_says() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.connection.dbapi_connection.close()  # SQLite: "Cannot operate on a closed database."
        with pytest.raises(OperationalError) as caught:
            conn.exec_driver_sql("SELECT 1")
        assert caught.value.connection_invalidated
        assert isinstance(caught.value.orig, engine.dialect.dbapi.ProgrammingError)
    with engine.connect() as conn, pytest.raises(ProgrammingError):  # others keep their class
        conn.exec_driver_sql("SELECT 1; SELECT 2")
    engine.dispose()


@pytest.mark.once
def test_lost_services_answer_503_and_other_errors_the_500_page(app: Any) -> None:
    errors = {
        "database": OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        "redis": RedisConnectionError("Connection refused"),
        "bug": IntegrityError("INSERT", {}, Exception("duplicate key")),
    }

    def fail(kind: str) -> Any:
        raise errors[kind]

    app.add_url_rule("/outage-drill/<kind>", view_func=fail)
    app.add_url_rule("/api/outage-drill/<kind>", view_func=fail, endpoint="api_fail")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the production 500 path, not the test's raise
    client = app.test_client()
    for kind in ("database", "redis"):
        page = client.get(f"/outage-drill/{kind}")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "Temporarily unavailable" in page.text
        api = client.get(f"/api/outage-drill/{kind}")
        assert api.status_code == 503 and api.json["error"]["code"] == "unavailable"
    bug = client.get("/outage-drill/bug")
    assert bug.status_code == 500 and "Retry-After" not in bug.headers
    assert "Temporarily unavailable" not in bug.text
