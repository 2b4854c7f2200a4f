"""The Greetings API resource: how a plugin serves ``/api/v1/<name>`` with the SDK.

The core authenticates the key, acts as its creator (``require_permission`` works), keeps
tenants apart, and answers 404 while the module is off for the key's workspace.
"""

from __future__ import annotations

from typing import Any

import pytest
from crm_hello.models import Greeting
from sqlalchemy import select

from crm_platform.sdk import Contact
from crm_platform.testing import in_tenant, login, make_api_key, post_with_csrf


@pytest.fixture
def world(app: Any, factory: Any, client: Any) -> dict[str, Any]:
    on = factory.tenant("hello-on", owner_email="owner@on.example")
    off = factory.tenant("hello-off", owner_email="owner@off.example")
    login(client, "owner@on.example")
    page = "/t/hello-on/settings/modules"
    assert post_with_csrf(client, page, page + "/hello/enable").status_code == 302
    client.post("/logout")
    with in_tenant(app, on) as session:
        contact = Contact(first_name="Grace", email="grace@on.example")
        session.add(contact)
        session.commit()
        contact_id = str(contact.id)
    return {
        "contact_id": contact_id,
        "on": {"Authorization": f"Bearer {make_api_key(app, on, 'owner@on.example')}"},
        "off": {"Authorization": f"Bearer {make_api_key(app, off, 'owner@off.example')}"},
        "tenant": on,
    }


def test_create_and_list_greetings(app: Any, client: Any, world: dict) -> None:
    body = {"contact_id": world["contact_id"], "message": "Hello from the API"}
    created = client.post("/api/v1/greetings", json=body, headers=world["on"])
    assert created.status_code == 201, created.json
    assert created.json["status"] == "queued" and created.json["message"] == body["message"]
    listed = client.get("/api/v1/greetings?limit=1", headers=world["on"])
    assert listed.status_code == 200
    assert [g["message"] for g in listed.json["data"]] == ["Hello from the API"]
    with in_tenant(app, world["tenant"]) as session:
        queued = session.scalars(select(Greeting).where(Greeting.status == "queued")).all()
        assert [g.message for g in queued] == ["Hello from the API"]


def test_bad_greetings_are_refused_in_the_error_shape(client: Any, world: dict) -> None:
    response = client.post("/api/v1/greetings", json={"message": " "}, headers=world["on"])
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == {"message", "contact_id"}


def test_module_off_answers_404_and_no_key_401(client: Any, world: dict) -> None:
    response = client.get("/api/v1/greetings", headers=world["off"])
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/greetings").status_code == 401


def test_the_resource_is_in_the_openapi_document(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert set(document["paths"]["/api/v1/greetings"]) == {"get", "post"}
    assert "message" in document["components"]["schemas"]["Greetings"]["properties"]
