"""The per-process tenant cache: API keys, policies, modules and custom fields are read once,
and a change committed by *another* process (another app here, with its own cache) is seen on
the very next request: revoked keys, suspended tenants, departed members, new fields."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import g
from helpers_sql import counted
from sqlalchemy import select, update

from crm_platform import create_app
from crm_platform.api.models import ApiKey
from crm_platform.extensions import db
from crm_platform.identity import Membership, Tenant, User
from crm_platform.modules import TenantModule, enabled_module_keys
from crm_platform.plugins import module_registry
from crm_platform.records.custom_fields import create_field
from crm_platform.tenancy import tenant_context, utcnow
from crm_platform.testing import in_tenant, make_api_key


@pytest.fixture
def other_process(app_config: dict[str, Any], app: Any) -> Any:
    """A second app on the same database and Redis: another web process with its own cache."""
    other = create_app(app_config)
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def keyed(app: Any, factory: Any) -> tuple[Any, dict[str, str]]:
    tenant = factory.tenant("alpha")
    key = make_api_key(app, tenant, tenant.owner_email)
    return tenant, {"Authorization": f"Bearer {key}"}


def test_second_request_reads_key_and_fields_from_the_cache(
    app: Any, client: Any, keyed: Any
) -> None:
    tenant, api = keyed
    client.get("/api/v1/contacts", headers=api)
    with counted(app) as first:
        assert client.get("/api/v1/contacts", headers=api).status_code == 200
    client.post("/api/v1/contacts", json={"first_name": "Ada"}, headers=api)  # not watched
    with counted(app) as second:
        assert client.get("/api/v1/contacts", headers=api).status_code == 200
    tables = " ".join(second).lower()
    assert "from api_keys" not in tables and "from custom_fields" not in tables
    assert len(second) <= len(first)


def test_without_a_cache_every_request_reads_the_key(
    app_config: dict[str, Any], factory: Any
) -> None:
    uncached = create_app({**app_config, "TENANT_CACHE_SECONDS": 0})
    tenant = factory.tenant("alpha")
    api = {"Authorization": f"Bearer {make_api_key(uncached, tenant, tenant.owner_email)}"}
    client = uncached.test_client()
    client.get("/api/v1/contacts", headers=api)
    with counted(uncached) as statements:
        assert client.get("/api/v1/contacts", headers=api).status_code == 200
    assert any("from api_keys" in s.lower() for s in statements)
    with uncached.app_context():
        db.engine.dispose()


def test_key_revoked_in_another_process_is_refused_next(
    client: Any, keyed: Any, other_process: Any
) -> None:
    tenant, api = keyed
    assert client.get("/api/v1/contacts", headers=api).status_code == 200
    with in_tenant(other_process, tenant) as session:
        session.scalars(select(ApiKey)).one().revoked_at = utcnow()
        session.commit()
    refused = client.get("/api/v1/contacts", headers=api)
    assert refused.status_code == 401
    assert "revoked" in refused.json["error"]["message"]


def test_tenant_suspended_in_another_process_is_refused_next(
    client: Any, keyed: Any, other_process: Any
) -> None:
    tenant, api = keyed
    assert client.get("/api/v1/contacts", headers=api).status_code == 200
    with other_process.app_context():
        db.session.get(Tenant, tenant.id).status = "suspended"
        db.session.commit()
    assert client.get("/api/v1/contacts", headers=api).json["error"]["code"] == ("tenant_suspended")


def test_member_deactivated_by_a_bulk_update_elsewhere_is_refused_next(
    client: Any, keyed: Any, other_process: Any
) -> None:
    tenant, api = keyed
    assert client.get("/api/v1/contacts", headers=api).status_code == 200
    with other_process.app_context():
        db.session.execute(
            update(User).where(User.email == tenant.owner_email).values(active=False)
        )
        db.session.commit()
    assert client.get("/api/v1/contacts", headers=api).status_code == 401


def test_custom_field_added_elsewhere_shows_next(
    app: Any, client: Any, keyed: Any, other_process: Any
) -> None:
    tenant, api = keyed
    made = client.post("/api/v1/contacts", json={"first_name": "Ada"}, headers=api)
    contact_id = made.json["id"]
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=api).json["custom"] == {}
    with in_tenant(other_process, tenant) as session:
        create_field("contact", "Shoe size", "number")
        session.commit()
    saved = client.patch(
        f"/api/v1/contacts/{contact_id}", json={"custom": {"shoe_size": 42}}, headers=api
    )
    assert saved.status_code == 200, saved.json
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=api).json["custom"] == {
        "shoe_size": 42
    }


def test_unsaved_changes_are_never_cached(app: Any, factory: Any) -> None:
    tenant = factory.tenant("alpha")
    with app.test_request_context(), tenant_context(tenant):
        before = enabled_module_keys()
        key = next(k for k in module_registry().descriptors if k not in before)
        db.session.add(TenantModule(module_key=key, enabled=True))
        db.session.flush()
        g.pop(f"crm_modules_{tenant.id}", None)  # the per-request memo, not the cache
        assert key in enabled_module_keys()  # this transaction sees its own change
        db.session.rollback()
    with app.test_request_context(), tenant_context(tenant):
        assert enabled_module_keys() == before  # and nobody kept it after the rollback


def test_membership_removed_elsewhere_is_refused_next(
    client: Any, keyed: Any, other_process: Any
) -> None:
    tenant, api = keyed
    assert client.get("/api/v1/contacts", headers=api).status_code == 200
    with in_tenant(other_process, tenant) as session:
        session.delete(session.scalars(select(Membership)).one())
        session.commit()
    assert client.get("/api/v1/contacts", headers=api).status_code == 401


def test_subscription_changed_elsewhere_renews_the_policy_next(
    client: Any, keyed: Any, other_process: Any
) -> None:
    """Billing declares its tables with ``sdk.watch_for_cache``: a trial ended by another
    process makes the tenant read-only on this one's next request."""
    from billing.entitlements import live_subscription

    tenant, api = keyed
    assert client.post("/api/v1/contacts", json={"first_name": "A"}, headers=api).status_code == 201
    with other_process.app_context():
        live_subscription(tenant.id).trial_ends_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    refused = client.post("/api/v1/contacts", json={"first_name": "B"}, headers=api)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "read_only"


def test_module_switched_off_elsewhere_hides_its_pages_and_api_next(
    app: Any, client: Any, keyed: Any, other_process: Any
) -> None:
    """Pages and API resources of a module follow its switch, whichever process flipped it."""
    from helpers_sfa import enable

    from crm_platform.modules import disable_module
    from crm_platform.testing import login

    tenant, api = keyed
    enable(app, tenant)
    login(client, tenant.owner_email)
    assert client.get(f"/t/{tenant.slug}/sales/deals").status_code == 200
    assert client.get("/api/v1/deals", headers=api).status_code == 200
    with in_tenant(other_process, tenant) as session:
        disable_module(session.get(Tenant, tenant.id), "sfa")
        session.commit()
    assert client.get(f"/t/{tenant.slug}/sales/deals").status_code == 404
    assert client.get("/api/v1/deals", headers=api).status_code == 404
