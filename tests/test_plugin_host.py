"""The plugin host: loading, start-up errors, per-tenant switching and every hook's contract.

Test plugins here are plain classes passed to ``create_app(config, plugins=[...])``; the Hello
example plugin comes in through its entry point like any installed third-party package.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pluggy
import pytest
from conftest import in_tenant, login
from sqlalchemy import inspect, select

from crm_platform import create_app
from crm_platform.extensions import db
from crm_platform.modules import TenantModule
from crm_platform.plugins import PluginError, collect, make_plugin_manager
from crm_platform.sdk import (
    ApiResource,
    DomainEvent,
    ImportTarget,
    ModuleDescriptor,
    NavItem,
    ValidationFailed,
    disable_module,
    emit_event,
    enable_module,
    hookimpl,
    module_catalogue,
)
from crm_platform.testing import post_with_csrf, wipe_database

EVENTS: list[tuple[str, str]] = []


class Loyalty:
    """A module that needs Hello, adds a permission and records what it is told."""

    crm_plugin_name = "loyalty"

    @hookimpl
    def crm_module(self) -> ModuleDescriptor:
        return ModuleDescriptor(
            key="loyalty",
            name="Loyalty",
            requires=("hello",),
            permissions={"loyalty.award": ("manager",)},
        )

    @hookimpl
    def crm_navigation(self, membership: Any) -> list[NavItem]:
        return [
            NavItem("Loyalty", "workspace.home", order=700),
            NavItem("Loyalty settings", "workspace.accounts", order=950, group="admin"),
            NavItem("My points", "workspace.contacts", order=10, group="me"),
        ]

    @hookimpl
    def crm_module_enabled(self, tenant: Any, module: ModuleDescriptor) -> None:
        EVENTS.append(("enabled", tenant.slug))

    @hookimpl
    def crm_module_disabled(self, tenant: Any, module: ModuleDescriptor) -> None:
        EVENTS.append(("disabled", tenant.slug))

    @hookimpl
    def crm_event(self, event: DomainEvent) -> None:
        EVENTS.append((event.name, str(event.record_id)))

    @hookimpl
    def crm_import_targets(self) -> list[ImportTarget]:
        return [ImportTarget("points", "Loyalty points", {"points": "Points"}, lambda row: row)]


class Broken:
    """An always-on plugin that raises in every per-tenant hook it implements."""

    crm_plugin_name = "broken"

    @hookimpl
    def crm_navigation(self, membership: Any) -> list[NavItem]:
        raise RuntimeError("boom")

    @hookimpl
    def crm_event(self, event: DomainEvent) -> None:
        raise RuntimeError("boom")


@pytest.fixture
def make_app(app_config: dict[str, Any]) -> Iterator[Any]:
    """Build an app with extra test plugins on the (wiped) test database."""
    built: list[Any] = []

    def build(*plugins: Any, **config: Any) -> Any:
        wipe_database(app_config)
        application = create_app({**app_config, **config}, plugins=list(plugins))
        built.append(application)
        return application

    yield build
    for application in built:
        with application.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


# ---------------------------------------------------------------- start-up


def test_hook_crm_module(app: Any) -> None:
    pm = app.extensions["crm_plugins"]
    assert pm.crm_modules.descriptors["hello"].name == "Hello"
    assert pm.crm_modules.module_of_plugin("hello") == "hello"
    assert pm.crm_modules.module_of_plugin("tenants") is None  # always on


def test_misspelt_hook_fails_start_up_naming_the_plugin() -> None:
    class Typo:
        crm_plugin_name = "typo"

        @hookimpl
        def crm_navigaton(self, membership: Any) -> list[Any]:
            return []

    with pytest.raises(PluginError, match="typo"):
        make_plugin_manager([Typo()])


def test_missing_dependency_fails_start_up_naming_the_module() -> None:
    class Needy:
        crm_plugin_name = "needy"

        @hookimpl
        def crm_module(self) -> ModuleDescriptor:
            return ModuleDescriptor(key="needy", name="Needy", requires=("erp_core",))

    with pytest.raises(PluginError, match=r"'needy' requires 'erp_core'"):
        make_plugin_manager([Needy()])


def test_duplicate_module_key_fails_start_up() -> None:
    class Twin:
        crm_plugin_name = "twin"

        @hookimpl
        def crm_module(self) -> ModuleDescriptor:
            return ModuleDescriptor(key="hello", name="Another hello")

    with pytest.raises(PluginError, match="already taken"):
        make_plugin_manager([Twin()])


def test_unimportable_entry_point_fails_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_platform import plugins

    broken = EntryPoint(name="ghost", value="crm_no_such_package.plugin", group="crm.plugins")
    monkeypatch.setattr(plugins, "entry_points", lambda group: [broken])
    with pytest.raises(PluginError, match="'ghost'.*cannot be imported"):
        make_plugin_manager()


def test_bad_module_key_is_refused() -> None:
    with pytest.raises(ValueError, match="module key"):
        ModuleDescriptor(key="Bad Key", name="x")


def test_hook_crm_addhooks() -> None:
    hookspec = pluggy.HookspecMarker("crm")

    class Specs:
        @hookspec
        def crm_erp_connectors(self) -> list[str]:
            """Return connector names (a hook spec added by a plugin)."""

    class Host:
        crm_plugin_name = "host"

        @hookimpl
        def crm_addhooks(self, plugin_manager: Any) -> None:
            plugin_manager.add_hookspecs(Specs)

    class Connector:
        crm_plugin_name = "connector"

        @hookimpl
        def crm_erp_connectors(self) -> list[str]:
            return ["tryton"]

    pm = make_plugin_manager([Host(), Connector()])  # no "unknown hook" error
    assert pm.hook.crm_erp_connectors() == [["tryton"]]


def test_hook_crm_blueprints(app: Any) -> None:
    rules = {r.rule: r.endpoint for r in app.url_map.iter_rules()}
    assert rules["/t/<tenant_slug>/hello/"] == "hello.index"
    assert app.extensions["crm_plugins"].crm_modules.blueprint_module["hello"] == "hello"


def test_hook_crm_migration_locations(app: Any) -> None:
    from crm_platform.plugins import migration_locations

    with app.app_context():
        assert any(path.endswith("crm_hello/migrations/versions") for path in migration_locations())
        assert "hello_greetings" in inspect(db.engine).get_table_names()


def test_hook_crm_startup(make_app: Any) -> None:
    seen: list[Any] = []

    class Starter:
        @hookimpl
        def crm_startup(self, app: Any) -> None:
            seen.append(sorted(r.endpoint for r in app.url_map.iter_rules())[:1])

    application = make_app(Starter())
    assert len(seen) == 1 and seen[0]
    assert application is not None


# ---------------------------------------------------------------- switching per tenant


def test_modules_page_switches_on_and_off(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="owner@acme.example")
    login(client, "owner@acme.example")
    page = client.get("/t/acme/settings/modules")
    assert page.status_code == 200
    assert "Hello" in page.text and "Switch on" in page.text
    assert 'href="/t/acme/settings/modules"' in client.get("/t/acme/").text
    url = "/t/acme/settings/modules/hello/enable"
    assert post_with_csrf(client, "/t/acme/settings/modules", url).status_code == 302
    assert "Hello is on." in client.get("/t/acme/settings/modules").text
    assert client.get("/t/acme/hello/").status_code == 200
    off = "/t/acme/settings/modules/hello/disable"
    post_with_csrf(client, "/t/acme/settings/modules", off)
    assert "its data is kept" in client.get("/t/acme/settings/modules").text
    assert client.get("/t/acme/hello/").status_code == 404


def test_only_admins_switch_modules(app: Any, client: Any, factory: Any) -> None:
    acme = factory.tenant("acme", owner_email="owner@acme.example")
    factory.member(acme, "rep@acme.example", "member")
    login(client, "rep@acme.example")
    assert client.get("/t/acme/settings/modules").status_code == 403
    url = "/t/acme/settings/modules/hello/enable"
    assert post_with_csrf(client, "/t/acme/", url).status_code == 403
    assert "/settings/modules" not in client.get("/t/acme/").text


def test_unknown_module_is_404(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email="owner@acme.example")
    login(client, "owner@acme.example")
    url = "/t/acme/settings/modules/nope/enable"
    assert post_with_csrf(client, "/t/acme/settings/modules", url).status_code == 404


def test_dependencies_are_respected(make_app: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Loyalty())
    acme = Factory(application).tenant("acme")
    with in_tenant(application, acme) as session:
        tenant = _tenant(acme)
        with pytest.raises(ValidationFailed, match="Switch on Hello first"):
            enable_module(tenant, "loyalty")
        enable_module(tenant, "hello")
        enable_module(tenant, "loyalty")
        session.commit()
        with pytest.raises(ValidationFailed, match="Loyalty needs Hello"):
            disable_module(tenant, "hello")
        status = {s.descriptor.key: s for s in module_catalogue(tenant)}
        assert status["hello"].dependents == ("loyalty",)
        assert status["loyalty"].enabled and status["loyalty"].missing == ()


def _tenant(info: Any) -> Any:
    from crm_platform.identity import Tenant

    return db.session.get(Tenant, info.id)


def test_hook_crm_module_enabled(make_app: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Loyalty())
    acme = Factory(application).tenant("acme")
    with in_tenant(application, acme) as session:
        enable_module(_tenant(acme), "hello")
        enable_module(_tenant(acme), "loyalty")
        enable_module(_tenant(acme), "loyalty")  # already on: nothing runs twice
        session.commit()
    assert EVENTS.count(("enabled", "acme")) == 1


def test_failing_onboarding_leaves_the_module_off(make_app: Any) -> None:
    from crm_platform.testing import Factory

    class Fragile:
        crm_plugin_name = "fragile"

        @hookimpl
        def crm_module(self) -> ModuleDescriptor:
            return ModuleDescriptor(key="fragile", name="Fragile")

        @hookimpl
        def crm_module_enabled(self, tenant: Any, module: Any) -> None:
            raise RuntimeError("onboarding failed")

    application = make_app(Fragile())
    acme = Factory(application).tenant("acme")
    with in_tenant(application, acme) as session:
        with pytest.raises(RuntimeError):
            enable_module(_tenant(acme), "fragile")
        session.rollback()
        assert session.scalars(select(TenantModule)).all() == []


def test_hook_crm_module_disabled(make_app: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Loyalty())
    acme = Factory(application).tenant("acme")
    with in_tenant(application, acme) as session:
        enable_module(_tenant(acme), "hello")
        enable_module(_tenant(acme), "loyalty")
        disable_module(_tenant(acme), "loyalty")
        session.commit()
        row = session.scalars(select(TenantModule).where(TenantModule.module_key == "loyalty"))
        assert row.one().enabled is False  # the row (and the module's data) stays
    assert ("disabled", "acme") in EVENTS


def test_hook_crm_module_allowed(make_app: Any) -> None:
    from crm_platform.testing import Factory

    class Plan:
        @hookimpl
        def crm_module_allowed(self, tenant: Any, module: ModuleDescriptor) -> bool | None:
            return False if module.key == "hello" else None

    application = make_app(Plan())
    acme = Factory(application).tenant("acme")
    with in_tenant(application, acme):
        tenant = _tenant(acme)
        with pytest.raises(ValidationFailed, match="not included in your plan"):
            enable_module(tenant, "hello")
        hello = next(s for s in module_catalogue(tenant) if s.descriptor.key == "hello")
        assert hello.allowed is False


def test_default_on_modules_start_on_for_new_tenants(make_app: Any) -> None:
    from crm_platform.sdk import module_enabled
    from crm_platform.testing import Factory

    class Basic:
        crm_plugin_name = "basic"

        @hookimpl
        def crm_module(self) -> ModuleDescriptor:
            return ModuleDescriptor(key="basic", name="Basic", default_on=True)

    application = make_app(Basic())
    acme = Factory(application).tenant("acme")
    with in_tenant(application, acme):
        assert module_enabled("basic") and not module_enabled("hello")


def test_module_permissions_go_to_their_roles(make_app: Any) -> None:
    from crm_platform.sdk import role_allows

    application = make_app(Loyalty())
    with application.app_context():
        assert role_allows("manager", "loyalty.award")
        assert not role_allows("member", "loyalty.award")
        assert role_allows("owner", "loyalty.award")
        assert role_allows("readonly", "hello.read") and not role_allows("readonly", "hello.send")


# ---------------------------------------------------------------- per-tenant hooks


def test_hook_crm_navigation(make_app: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Loyalty(), Broken())
    factory = Factory(application)
    on, off = factory.tenant("on-co"), factory.tenant("off-co")
    with in_tenant(application, on) as session:
        enable_module(_tenant(on), "hello")
        enable_module(_tenant(on), "loyalty")
        session.commit()
    web = application.test_client()
    login(web, on.owner_email)
    page = web.get("/t/on-co/").text
    assert ">Loyalty<" in page
    # each group in its place: the top bar, the Administration menu, the member's own menu
    wide = page.split('<nav class="mainnav wide">', 1)[1].split("</nav>", 1)[0]
    bar, admin = wide.split('<details class="menu admin-menu">', 1)
    assert ">Loyalty<" in bar and "Loyalty settings" not in bar and ">Members<" not in bar
    assert ">Loyalty settings<" in admin and ">Members<" in admin and ">Modules<" in admin
    own = page.split('<details class="menu user">', 1)[1].split("</details>", 1)[0]
    assert ">My points<" in own and "My points" not in wide
    web.post("/logout")
    login(web, off.owner_email)
    page = web.get("/t/off-co/")
    assert page.status_code == 200  # Broken raised in crm_navigation; the page still renders
    assert ">Loyalty<" not in page.text


def test_failing_plugin_is_logged_with_its_name(make_app: Any, caplog: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Broken())
    acme = Factory(application).tenant("acme")
    web = application.test_client()
    login(web, acme.owner_email)
    with caplog.at_level(logging.ERROR, logger="crm_platform.plugins"):
        assert web.get("/t/acme/").status_code == 200
    assert "plugin 'broken' failed in hook crm_navigation" in caplog.text


def test_hook_crm_event(make_app: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Loyalty(), Broken())
    factory = Factory(application)
    on, off = factory.tenant("on-co"), factory.tenant("off-co")
    with in_tenant(application, on) as session:
        enable_module(_tenant(on), "hello")
        enable_module(_tenant(on), "loyalty")
        session.commit()
        event = emit_event("deal.won", data={"amount": 10})
        assert event.tenant_id == on.id and event.data == {"amount": 10}
    with in_tenant(application, off):
        emit_event("deal.won")  # Loyalty is off here: it hears nothing
    assert [e for e in EVENTS if e[0] == "deal.won"] == [("deal.won", "None")]


def test_hook_crm_import_targets(make_app: Any) -> None:
    from crm_platform.testing import Factory

    application = make_app(Loyalty())
    factory = Factory(application)
    on, off = factory.tenant("on-co"), factory.tenant("off-co")
    with in_tenant(application, on) as session:
        enable_module(_tenant(on), "hello")
        enable_module(_tenant(on), "loyalty")
        session.commit()
        assert "points" in [t.key for t in collect("crm_import_targets")]
    with in_tenant(application, off):
        assert "points" not in [t.key for t in collect("crm_import_targets")]


def test_hook_crm_api_resources(make_app: Any) -> None:
    from flask import Blueprint

    api = Blueprint("loyalty_api", __name__, url_prefix="/api/v1/points")

    class Api(Loyalty):
        @hookimpl
        def crm_api_resources(self) -> list[ApiResource]:
            return [ApiResource("points", api, {"type": "object"})]

    application = make_app(Api())
    registry = application.extensions["crm_plugins"].crm_modules
    assert registry.blueprint_module["loyalty_api"] == "loyalty"
