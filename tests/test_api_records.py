"""Accounts, contacts, activities and custom fields over the API: CRUD through the records
service (validation in the error shape), keyset pages, filters, custom values, limits."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant
from helpers_api import assert_error, call, make_key
from sqlalchemy import select

from crm_platform.audit import AuditEvent
from crm_platform.customers import Account, Contact
from crm_platform.records.custom_fields import CustomField
from crm_platform.records.service import create_record


@pytest.fixture
def world(app: Any, factory: Any) -> dict[str, Any]:
    tenant = factory.tenant("acme", owner_email="owner@acme.example")
    rep = factory.member(tenant, "rep@acme.example", "member")
    with in_tenant(app, tenant) as session:
        session.add_all(
            [
                CustomField(
                    entity="account",
                    key="tier",
                    label="Tier",
                    type="choice",
                    choices=["gold", "silver"],
                ),
                CustomField(entity="account", key="seats", label="Seats", type="number"),
                CustomField(entity="contact", key="vip", label="VIP", type="checkbox"),
            ]
        )
        session.commit()
    return {
        "tenant": tenant,
        "rep": rep,
        "key": make_key(app, tenant, "owner@acme.example"),
        "rep_key": make_key(app, tenant, "rep@acme.example"),
    }


def _add(app: Any, tenant: Any, kind: str, **data: Any) -> str:
    with in_tenant(app, tenant) as session:
        record = create_record(kind, data)
        session.commit()
        return str(record.id)


def test_account_crud(app: Any, client: Any, world: dict) -> None:
    key = world["key"]
    body = {
        "name": "Acme Rockets",
        "website": "rockets.example",
        "lifecycle_stage": "customer",
        "tags": ["vip", "space"],
        "custom": {"tier": "gold", "seats": "12"},
    }
    created = call(client, "POST", "/api/v1/accounts", key, body)
    assert created.status_code == 201, created.json
    account = created.json
    assert account["object"] == "account" and account["name"] == "Acme Rockets"
    assert account["website"] == "https://rockets.example"
    assert account["custom"] == {"tier": "gold", "seats": 12}
    assert account["tags"] == ["vip", "space"]
    assert created.headers["Location"].endswith(f"/api/v1/accounts/{account['id']}")
    got = call(client, "GET", f"/api/v1/accounts/{account['id']}", key)
    assert got.status_code == 200 and got.json == account
    patched = call(
        client,
        "PATCH",
        f"/api/v1/accounts/{account['id']}",
        key,
        {"industry": "Aerospace", "custom": {"seats": None}, "id": "ignored"},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["industry"] == "Aerospace"
    assert patched.json["custom"] == {"tier": "gold"}  # null clears, others kept
    assert patched.json["name"] == "Acme Rockets"
    deleted = call(client, "DELETE", f"/api/v1/accounts/{account['id']}", key)
    assert deleted.status_code == 204 and deleted.data == b""
    assert_error(call(client, "GET", f"/api/v1/accounts/{account['id']}", key), 404, "not_found")
    with in_tenant(app, world["tenant"]) as session:
        row = session.scalars(select(Account)).one()
        assert row.deleted_at is not None  # soft: in the trash
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "account.deleted"))
        assert audit.one().actor_id is not None


def test_contact_crud_and_account_link(app: Any, client: Any, world: dict) -> None:
    key = world["key"]
    account_id = _add(app, world["tenant"], "account", name="Initech")
    created = call(
        client,
        "POST",
        "/api/v1/contacts",
        key,
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "account_id": account_id,
            "email": "ADA@Example.com",
            "birthday": "1815-12-10",
            "custom": {"vip": True},
        },
    )
    assert created.status_code == 201, created.json
    contact = created.json
    assert contact["full_name"] == "Ada Lovelace" and contact["email"] == "ada@example.com"
    assert contact["account_id"] == account_id and contact["birthday"] == "1815-12-10"
    assert contact["custom"] == {"vip": True}
    response = call(
        client,
        "PATCH",
        f"/api/v1/contacts/{contact['id']}",
        key,
        {"custom": {"vip": False}, "title": "Countess"},
    )
    assert response.json["custom"] == {} and response.json["title"] == "Countess"


def test_validation_errors_name_the_fields(app: Any, client: Any, world: dict) -> None:
    key = world["key"]
    response = call(
        client,
        "POST",
        "/api/v1/accounts",
        key,
        {
            "name": "",
            "email": "nope",
            "lifecycle_stage": "alien",
            "custom": {"tier": "bronze", "seats": "many"},
        },
    )
    error = assert_error(response, 400, "validation_failed")
    assert set(error["fields"]) == {
        "name",
        "email",
        "lifecycle_stage",
        "custom.tier",
        "custom.seats",
    }
    response = call(
        client,
        "POST",
        "/api/v1/accounts",
        key,
        {"name": 42, "nickname": "x", "tags": "a,b", "custom": {"nope": 1}},
    )
    error = assert_error(response, 400, "validation_failed")
    assert set(error["fields"]) == {"name", "nickname", "tags", "custom.nope"}
    response = call(client, "POST", "/api/v1/contacts", key, {"last_name": "Only"})
    assert "first_name" in assert_error(response, 400)["fields"]
    with in_tenant(app, world["tenant"]) as session:
        assert session.scalars(select(Account)).all() == []
        assert session.scalars(select(Contact)).all() == []


def test_bad_bodies(app: Any, client: Any, world: dict) -> None:
    key = world["key"]
    headers = {"Authorization": f"Bearer {key}"}
    response = client.post("/api/v1/accounts", data="name=x", headers=headers)
    assert_error(response, 415, "unsupported_media_type")
    response = client.post(
        "/api/v1/accounts", data="{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")
    assert_error(call(client, "POST", "/api/v1/accounts", key, [1, 2]), 400, "invalid_json")


def test_oversized_body_gets_413(app: Any, client: Any, world: dict) -> None:
    app.config["API_MAX_BODY"] = 1000
    response = call(client, "POST", "/api/v1/accounts", world["key"], {"name": "x" * 2000})
    assert_error(response, 413, "payload_too_large")
    response = call(client, "POST", "/api/v1/accounts", world["key"], {"name": "small"})
    assert response.status_code == 201


def test_unknown_routes_and_methods_answer_in_the_error_shape(app, client, world) -> None:
    assert_error(call(client, "GET", "/api/v1/nothing", world["key"]), 404, "not_found")
    response = call(client, "PUT", "/api/v1/accounts", world["key"], {})
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    assert_error(call(client, "GET", "/api/v1/accounts/not-an-id", world["key"]), 404)


def test_keyset_pages_and_bad_cursors(app: Any, client: Any, world: dict) -> None:
    key = world["key"]
    for i in range(7):
        _add(app, world["tenant"], "account", name=f"Company {i:02d}")
    names: list[str] = []
    url = "/api/v1/accounts?limit=3"
    pages = 0
    while url:
        page = call(client, "GET", url, key)
        assert page.status_code == 200, page.json
        names += [a["name"] for a in page.json["data"]]
        cursor = page.json["next_cursor"]
        url = f"/api/v1/accounts?limit=3&cursor={cursor}" if cursor else ""
        pages += 1
    assert names == [f"Company {i:02d}" for i in range(7)] and pages == 3
    desc = call(client, "GET", "/api/v1/accounts?sort=created&dir=desc&limit=2", key).json
    assert [a["name"] for a in desc["data"]] == ["Company 06", "Company 05"]
    for bad in ("garbage", "eyJ4IjoxfQ", "a" * 2000, desc["next_cursor"]):
        response = call(client, "GET", f"/api/v1/accounts?cursor={bad}", key)
        assert_error(response, 400, "bad_cursor")
    for limit in ("0", "201", "x"):
        response = call(client, "GET", f"/api/v1/accounts?limit={limit}", key)
        assert "limit" in assert_error(response, 400, "validation_failed")["fields"]
    assert len(call(client, "GET", "/api/v1/accounts?limit=200", key).json["data"]) == 7


def test_filters(app: Any, client: Any, world: dict) -> None:
    key, tenant, rep = world["key"], world["tenant"], world["rep"]
    _add(
        app,
        tenant,
        "account",
        name="Gold Co",
        lifecycle_stage="customer",
        tags="big",
        custom={"tier": "gold", "seats": 50},
        owner_id=str(rep.id),
    )
    _add(
        app,
        tenant,
        "account",
        name="Silver Co",
        lifecycle_stage="lead",
        custom={"tier": "silver", "seats": 5},
    )
    _add(app, tenant, "account", name="Plain Co", email="hello@plain.example")

    def names(query: str) -> list[str]:
        response = call(client, "GET", f"/api/v1/accounts?{query}", key)
        assert response.status_code == 200, response.json
        return sorted(a["name"] for a in response.json["data"])

    assert names("q=plain") == ["Plain Co"]
    assert names("q=hello@plain") == ["Plain Co"]
    assert names("lifecycle_stage=customer") == ["Gold Co"]
    assert names("tag=big") == ["Gold Co"]
    assert names(f"owner={rep.id}") == ["Gold Co"]
    assert names("owner=none") == ["Plain Co", "Silver Co"]
    assert names("cf_tier=silver") == ["Silver Co"]
    assert names("cf_seats_min=10") == ["Gold Co"]
    assert names("cf_seats_max=10") == ["Silver Co"]
    for query, field in (
        ("lifecycle_stage=alien", "lifecycle_stage"),
        ("cf_tier=bronze", "cf_tier"),
        ("cf_seats_min=many", "cf_seats_min"),
        ("owner=somebody", "owner"),
        ("colour=red", "colour"),
        ("sort=shoe", "sort"),
        ("dir=up", "dir"),
    ):
        response = call(client, "GET", f"/api/v1/accounts?{query}", key)
        assert field in assert_error(response, 400, "validation_failed")["fields"], query


def test_indexed_filters_of_contacts(app: Any, client: Any, world: dict) -> None:
    key, tenant = world["key"], world["tenant"]
    initech = _add(app, tenant, "account", name="Initech")
    _add(app, tenant, "contact", first_name="Ada", last_name="Lovelace", email="ada@math.example")
    _add(
        app,
        tenant,
        "contact",
        first_name="Adam",
        last_name="Smith",
        email="adam@econ.example",
        account_id=initech,
    )
    _add(app, tenant, "contact", first_name="Grace", last_name="Hopper", email="g%_@navy.example")
    with in_tenant(app, tenant) as session:
        grace = session.scalars(select(Contact).where(Contact.first_name == "Grace")).one()
        grace.updated_at = grace.updated_at.replace(year=2035)
        session.commit()

    def names(query: str) -> list[str]:
        response = call(client, "GET", f"/api/v1/contacts?{query}", key)
        assert response.status_code == 200, response.json
        return sorted(c["first_name"] for c in response.json["data"])

    assert names("email=ADA@Math.example") == ["Ada"]
    assert names("email=ada@math") == []  # exact, unlike q
    assert names("email_prefix=ADA") == ["Ada", "Adam"]
    assert names("email_prefix=g%25_") == ["Grace"]  # wildcards are literal
    assert names("email_prefix=g%25") == ["Grace"] and names("email_prefix=%25") == []
    assert names("name_prefix=ada") == ["Ada", "Adam"]
    assert names("name_prefix=Ada+Lov") == ["Ada"]
    assert names("name_prefix=lovelace") == []  # the name starts with the first name
    assert names("name_prefix=!!!") == []
    assert names("updated_since=2035-01-01") == ["Grace"]
    assert names("updated_since=2035-01-01T00:00:00Z&sort=updated") == ["Grace"]
    assert names("updated_since=2035-01-01T08:00:00%2B08:00") == ["Grace"]
    assert names(f"account={initech}") == ["Adam"]
    for query, field in (
        ("updated_since=yesterday", "updated_since"),
        ("account=Initech", "account"),
    ):
        response = call(client, "GET", f"/api/v1/contacts?{query}", key)
        assert field in assert_error(response, 400, "validation_failed")["fields"], query
    # accounts have the indexed filters too, but no account filter
    assert_error(call(client, "GET", f"/api/v1/accounts?account={initech}", key), 400)
    listed = call(client, "GET", "/api/v1/accounts?name_prefix=init", key).json["data"]
    assert [a["name"] for a in listed] == ["Initech"]


def test_visibility_of_the_keys_creator_applies(app: Any, client: Any, world: dict) -> None:
    tenant, rep = world["tenant"], world["rep"]
    with app.app_context():
        from crm_platform.extensions import db
        from crm_platform.identity import Tenant

        row = db.session.get(Tenant, tenant.id)
        row.settings = {"record_visibility": {"member": "own", "readonly": "own"}}
        db.session.commit()
    mine = _add(app, tenant, "account", name="Rep's", owner_id=str(rep.id))
    other = _add(app, tenant, "account", name="Owner's")
    listed = call(client, "GET", "/api/v1/accounts", world["rep_key"]).json["data"]
    assert [a["id"] for a in listed] == [mine]
    assert_error(call(client, "GET", f"/api/v1/accounts/{other}", world["rep_key"]), 404)
    # the owner's key sees both
    assert len(call(client, "GET", "/api/v1/accounts", world["key"]).json["data"]) == 2
    # a member (no records.delete) cannot delete
    response = call(client, "DELETE", f"/api/v1/accounts/{mine}", world["rep_key"])
    assert_error(response, 403, "forbidden")


def test_activities(app: Any, client: Any, world: dict) -> None:
    key, tenant = world["key"], world["tenant"]
    account_id = _add(app, tenant, "account", name="Initech")
    contact_id = _add(app, tenant, "contact", first_name="Peter", account_id=account_id)
    url = f"/api/v1/contacts/{contact_id}/activities"
    created = call(client, "POST", url, key, {"kind": "call", "subject": "Intro call"})
    assert created.status_code == 201, created.json
    activity = created.json
    assert activity["contact_id"] == contact_id and activity["account_id"] == account_id
    assert activity["done"] is True  # a call with no due date is logged as done
    task = call(
        client,
        "POST",
        f"/api/v1/accounts/{account_id}/activities",
        key,
        {"kind": "task", "subject": "Send offer", "due_date": "2030-01-31"},
    ).json
    assert task["done"] is False
    listed = call(client, "GET", f"/api/v1/accounts/{account_id}/activities?limit=1", key).json
    assert [a["subject"] for a in listed["data"]] == ["Send offer"]  # newest first
    more = call(
        client,
        "GET",
        f"/api/v1/accounts/{account_id}/activities?limit=1&cursor={listed['next_cursor']}",
        key,
    ).json
    assert [a["subject"] for a in more["data"]] == ["Intro call"]
    assert more["next_cursor"] is None
    other_list = call(client, "GET", f"{url}?cursor={listed['next_cursor']}", key)
    assert_error(other_list, 400, "bad_cursor")  # a cursor of another record's list
    patched = call(
        client,
        "PATCH",
        f"/api/v1/activities/{task['id']}",
        key,
        {"done": True, "subject": "Offer sent"},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["done"] is True and patched.json["subject"] == "Offer sent"
    assert patched.json["due_date"] == "2030-01-31"  # untouched fields kept
    got = call(client, "GET", f"/api/v1/activities/{task['id']}", key).json
    assert got == patched.json
    bad = call(
        client,
        "PATCH",
        f"/api/v1/activities/{task['id']}",
        key,
        {"subject": "", "due_date": "soon", "done": "yes"},
    )
    assert set(assert_error(bad, 400, "validation_failed")["fields"]) == {"done"}
    bad = call(
        client,
        "PATCH",
        f"/api/v1/activities/{task['id']}",
        key,
        {"subject": "", "due_date": "soon"},
    )
    assert set(assert_error(bad, 400)["fields"]) == {"subject", "due_date"}
    bad = call(client, "POST", url, key, {"kind": "party", "subject": "x"})
    assert "kind" in assert_error(bad, 400)["fields"]


def test_custom_field_definitions(app: Any, client: Any, world: dict) -> None:
    key = world["key"]
    all_fields = call(client, "GET", "/api/v1/custom-fields", key).json["data"]
    assert {(f["entity"], f["key"], f["type"]) for f in all_fields} == {
        ("account", "tier", "choice"),
        ("account", "seats", "number"),
        ("contact", "vip", "checkbox"),
    }
    tier = next(f for f in all_fields if f["key"] == "tier")
    assert tier["choices"] == ["gold", "silver"]
    contacts = call(client, "GET", "/api/v1/custom-fields?entity=contact", key).json["data"]
    assert [f["key"] for f in contacts] == ["vip"]
    response = call(client, "GET", "/api/v1/custom-fields?entity=deal", key)
    assert "entity" in assert_error(response, 400)["fields"]


def test_writes_emit_domain_events(app_config: dict, world: dict) -> None:
    """The API writes through the records service: the same events pages emit."""
    from helpers_records import Recorder

    from crm_platform import create_app

    recorder = Recorder()
    application = create_app(app_config, plugins=[recorder])
    client = application.test_client()
    key = world["key"]
    created = call(client, "POST", "/api/v1/accounts", key, {"name": "Evented"}).json
    call(client, "PATCH", f"/api/v1/accounts/{created['id']}", key, {"region": "North"})
    call(client, "DELETE", f"/api/v1/accounts/{created['id']}", key)
    assert [n for n in recorder.names() if n.startswith("account.")] == [
        "account.created",
        "account.updated",
        "account.deleted",
    ]


def test_rate_limit_per_key(app_config: dict, factory: Any) -> None:
    from crm_platform import create_app

    application = create_app({**app_config, "API_RATELIMIT": "3 per minute"})
    from crm_platform.testing import Factory

    tenant = Factory(application).tenant("limited", owner_email="owner@limited.example")
    one = make_key(application, tenant, "owner@limited.example")
    two = make_key(application, tenant, "owner@limited.example")
    client = application.test_client()
    for _ in range(3):
        response = call(client, "GET", "/api/v1/accounts", one)
        assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "0"
    limited = call(client, "GET", "/api/v1/accounts", one)
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert call(client, "GET", "/api/v1/accounts", two).status_code == 200  # per key


def test_messages_follow_accept_language_not_the_profile(app: Any, client, world) -> None:
    with app.app_context():
        from crm_platform.extensions import db
        from crm_platform.identity import User

        owner = db.session.scalars(select(User).where(User.email == "owner@acme.example")).one()
        owner.locale = "zh_Hans_CN"
        db.session.commit()
    headers = {"Authorization": f"Bearer {world['key']}"}
    english = client.post("/api/v1/accounts", json={"name": ""}, headers=headers)
    assert english.json["error"]["fields"]["name"] == "This field is required."
    chinese = client.post(
        "/api/v1/accounts", json={"name": ""}, headers={**headers, "Accept-Language": "zh-CN"}
    )
    assert chinese.json["error"]["fields"]["name"] == "此字段为必填项。"
