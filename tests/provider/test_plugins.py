"""The plugin catalogue: installed plugins, tenants using them, approve and hide."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import in_tenant, login
from sqlalchemy import select

from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.modules import (
    TenantModule,
    enable_module,
    enabled_module_keys,
    module_catalogue,
)
from crm_platform.provider.approvals import set_approval
from crm_platform.provisioning import ValidationFailed

from .helpers import post_form, staff_actions


def _row(html: str, key: str) -> str:
    return html.split(f'id="plugin-{key}"', 1)[1].split("</tr>", 1)[0]


def _hide(app: Any, key: str = "hello") -> None:
    with app.app_context():
        set_approval(key, "hidden")
        db.session.commit()


def test_catalogue_lists_plugins_with_versions_packages_and_usage(
    app: Any, support: Any, world: dict
) -> None:
    with in_tenant(app, world["alpha"]) as session:
        enable_module(session.get(Tenant, world["alpha"].id), "hello")
        session.commit()
    page = support.client.get("/provider/plugins").text
    hello = _row(page, "hello")
    assert "Hello" in hello and "1.0.0" in hello
    assert "crm_hello" in hello and "crm-plugin-hello" in hello  # package, distribution
    assert re.search(r'href="/provider/tenants\?module=hello">1</a>', hello)
    assert "not reviewed" in hello
    tenants_plugin = _row(page, "tenants")
    assert "always on" in tenants_plugin and "Approve" not in tenants_plugin
    assert "Approve" not in hello  # support staff cannot decide


def test_hide_and_approve(app: Any, admin: Any, world: dict) -> None:
    response = post_form(admin.client, "/provider/plugins", "/provider/plugins/hello/hide", {})
    assert response.status_code == 302
    page = admin.client.get("/provider/plugins").text
    assert "hidden" in _row(page, "hello") and "is hidden" in page
    post_form(admin.client, "/provider/plugins", "/provider/plugins/hello/approve", {})
    assert "approved" in _row(admin.client.get("/provider/plugins").text, "hello")
    assert [(a.action, a.target) for a in staff_actions(app) if a.action.startswith("plugin")] == [
        ("plugin.hidden", "hello"),
        ("plugin.approved", "hello"),
    ]


def test_unknown_plugin_is_404(app: Any, admin: Any) -> None:
    response = post_form(admin.client, "/provider/plugins", "/provider/plugins/nope/hide", {})
    assert response.status_code == 404


def test_hidden_module_is_not_offered_and_cannot_be_switched_on(
    app: Any, client: Any, world: dict
) -> None:
    _hide(app)
    login(client, "owner@bravo.example")
    page = client.get("/t/bravo/settings/modules").text
    assert 'id="module-hello"' not in page
    response = post_form(
        client, "/t/bravo/settings/modules", "/t/bravo/settings/modules/hello/enable"
    )
    assert response.status_code == 302
    assert (
        "Hello is not available on this platform." in client.get("/t/bravo/settings/modules").text
    )
    with in_tenant(app, world["bravo"]) as session:
        assert "hello" not in enabled_module_keys()
        with pytest.raises(ValidationFailed) as refused:
            enable_module(session.get(Tenant, world["bravo"].id), "hello")
        assert refused.value.errors == {"module": "Hello is not available on this platform."}


def test_tenants_using_a_hidden_module_keep_it(app: Any, client: Any, world: dict) -> None:
    with in_tenant(app, world["alpha"]) as session:
        enable_module(session.get(Tenant, world["alpha"].id), "hello")
        session.commit()
    _hide(app)
    with in_tenant(app, world["alpha"]) as session:
        assert "hello" in enabled_module_keys()
        tenant = session.get(Tenant, world["alpha"].id)
        assert [s.descriptor.key for s in module_catalogue(tenant)].count("hello") == 1
    login(client, "owner@alpha.example")
    assert client.get("/t/alpha/hello/").status_code == 200  # still works, data kept
    post_form(client, "/t/alpha/settings/modules", "/t/alpha/settings/modules/hello/disable")
    with in_tenant(app, world["alpha"]) as session:
        row = session.scalars(select(TenantModule).where(TenantModule.module_key == "hello")).one()
        assert row.enabled is False  # off, row kept
    assert 'id="module-hello"' not in client.get("/t/alpha/settings/modules").text


def test_hidden_default_module_is_not_switched_on_for_new_tenants(app_config, request) -> None:
    from crm_platform.sdk import ModuleDescriptor, hookimpl

    class Starter:
        crm_plugin_name = "starter"

        @hookimpl
        def crm_module(self) -> ModuleDescriptor:
            return ModuleDescriptor(key="starter", name="Starter", default_on=True)

    from helpers_records import app_with, dispose

    request.getfixturevalue("app")  # wipes the database
    application = app_with(app_config, Starter())
    try:
        from crm_platform.testing import Factory

        factory = Factory(application)
        on = factory.tenant("early")
        _hide(application, "starter")
        off = factory.tenant("late")
        with in_tenant(application, on):
            assert "starter" in enabled_module_keys()
        with in_tenant(application, off):
            assert "starter" not in enabled_module_keys()
    finally:
        dispose(application)
