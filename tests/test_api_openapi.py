"""The OpenAPI 3.1 document: valid, complete (every API rule, core and plugin), public; and
the docs page listing its endpoints."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from crm_platform.api.openapi import api_registry


def _api_rules(app: Any) -> list[Any]:
    registry = api_registry(app)
    return [r for r in app.url_map.iter_rules() if registry.info_of(r.endpoint) is not None]


def test_document_is_valid_openapi_31(app: Any, client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"bearerAuth": []}]
    assert "Error" in document["components"]["schemas"]


def test_every_api_rule_is_in_the_document(app: Any, client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    rules = _api_rules(app)
    assert {"api.account_list", "api.contact_update", "api.activity_update"} <= {
        r.endpoint for r in rules
    }
    for rule in rules:
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = document["paths"][path][method.lower()]
            assert op["summary"], (path, method)
            assert "401" in op["responses"] and "429" in op["responses"]


def test_core_operations_reference_their_schemas(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    accounts = document["paths"]["/api/v1/accounts"]
    page = accounts["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["properties"]["data"]["items"] == {"$ref": "#/components/schemas/Account"}
    names = {p.get("name") or p["$ref"].rpartition("/")[2] for p in accounts["get"]["parameters"]}
    assert {"limit", "cursor", "q", "lifecycle_stage", "owner", "tag"} <= names
    post = accounts["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AccountInput"
    )
    assert "201" in post["responses"] and "413" in post["responses"]
    assert "204" in document["paths"]["/api/v1/accounts/{record_id}"]["delete"]["responses"]


def test_plugin_resources_are_documented(client: Any) -> None:
    """The example plugin (installed in this venv) contributes /api/v1/greetings."""
    document = client.get("/api/v1/openapi.json").json
    greetings = document["paths"]["/api/v1/greetings"]
    assert set(greetings) == {"get", "post"}
    assert "Greetings" in document["components"]["schemas"]
    assert greetings["get"]["tags"] == ["greetings"]


def test_docs_page_lists_the_endpoints(client: Any) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "/api/v1/accounts/{record_id}" in page.text
    assert "/api/v1/greetings" in page.text
    assert "openapi.json" in page.text
    assert "cdn" not in page.text.lower() and "swagger" not in page.text.lower()


def test_docs_page_is_linked_from_the_keys_page(app: Any, client: Any, factory: Any) -> None:
    from conftest import login

    factory.tenant("acme", owner_email="owner@acme.example")
    login(client, "owner@acme.example")
    assert 'href="/api/v1/docs"' in client.get("/t/acme/settings/api-keys").text
    page = client.get("/api/v1/docs").text
    assert "owner@acme.example" in page  # a page for people: the signed-in header shows
