"""The plugin host: one pluggy ``PluginManager`` per app, loaded from entry points.

Built-in modules and third-party plugins are found the same way, through the ``crm.plugins``
entry-point group. Start-up fails with a ``PluginError`` naming the plugin when one cannot be
imported, implements a hook that does not exist (a misspelling), or requires a module that is
not installed. At run time, :func:`collect` and :func:`notify` call a hook only on the plugins
the current tenant has switched on, and a plugin that raises is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from flask import Flask, current_app, g, has_app_context

from . import hookspecs
from .plugin_types import ModuleDescriptor, NavItem

ENTRY_POINT_GROUP = "crm.plugins"
log = logging.getLogger(__name__)

__all__ = ["NavItem", "PluginError", "collect", "get_plugin_manager", "make_plugin_manager"]


class PluginError(RuntimeError):
    """A plugin cannot be loaded; the message names it and says why."""


@dataclass
class ModuleRegistry:
    """Which plugin is which module, and which blueprint belongs to which module."""

    descriptors: dict[str, ModuleDescriptor] = field(default_factory=dict)
    plugin_module: dict[str, str] = field(default_factory=dict)  # plugin name -> module key
    blueprint_module: dict[str, str] = field(default_factory=dict)  # blueprint -> module key
    #: (plugin name, ApiResource) of every plugin's ``crm_api_resources`` (registered by the API)
    api_resources: list[tuple[str, Any]] = field(default_factory=list)

    def module_of_plugin(self, plugin_name: str) -> str | None:
        """The module key of a plugin, or ``None`` for an always-on plugin."""
        return self.plugin_module.get(plugin_name)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) cannot be imported: {exc}") from exc
        pm.register(plugin, name=ep.name)


def _describe(pm: pluggy.PluginManager) -> ModuleRegistry:
    registry = ModuleRegistry()
    for impl in pm.hook.crm_module.get_hookimpls():
        descriptor = impl.function()
        if descriptor is None:
            continue
        if not isinstance(descriptor, ModuleDescriptor):
            raise PluginError(
                f"plugin {impl.plugin_name!r}: crm_module must return a ModuleDescriptor"
            )
        if descriptor.key in registry.descriptors:
            raise PluginError(
                f"plugin {impl.plugin_name!r}: module key {descriptor.key!r} is already taken"
            )
        registry.descriptors[descriptor.key] = descriptor
        registry.plugin_module[impl.plugin_name] = descriptor.key
    for key, descriptor in registry.descriptors.items():
        missing = [r for r in descriptor.requires if r not in registry.descriptors]
        if missing:
            raise PluginError(
                f"module {key!r} requires {', '.join(map(repr, missing))}, which is not installed"
            )
    return registry


def make_plugin_manager(extra_plugins: Iterable[Any] = ()) -> pluggy.PluginManager:
    """Build the plugin manager: hook specs, entry-point plugins, then ``extra_plugins``."""
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(hookspecs)
    pm.hook.crm_addhooks.call_historic(kwargs={"plugin_manager": pm})
    _load_entry_points(pm)
    for plugin in extra_plugins:
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=getattr(plugin, "crm_plugin_name", None))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginError(f"plugin {name!r}: {exc}") from exc
    pm.crm_modules = _describe(pm)  # type: ignore[attr-defined]
    return pm


def get_plugin_manager(app: Flask | None = None) -> pluggy.PluginManager:
    """The app's plugin manager."""
    app = app or current_app._get_current_object()
    return app.extensions["crm_plugins"]


def module_registry(app: Flask | None = None) -> ModuleRegistry:
    """The app's module registry (descriptors, plugin and blueprint owners)."""
    return get_plugin_manager(app).crm_modules  # type: ignore[attr-defined]


def _enabled_for_tenant() -> frozenset[str] | None:
    """Module keys switched on for the tenant in context; ``None`` when there is no tenant."""
    from .modules import enabled_module_keys
    from .tenancy import current_tenant

    if current_tenant() is None:
        return None
    return enabled_module_keys()


def _active_impls(hook_name: str) -> list[Any]:
    pm = get_plugin_manager()
    registry = module_registry()
    enabled = _enabled_for_tenant()
    impls = []
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        key = registry.module_of_plugin(impl.plugin_name)
        if key is not None and enabled is not None and key not in enabled:
            continue
        impls.append(impl)
    return impls


def _call(impl: Any, hook_name: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})
    except Exception:
        log.exception("plugin %r failed in hook %s", impl.plugin_name, hook_name)
        if has_app_context():
            g.setdefault("crm_plugin_failures", []).append((impl.plugin_name, hook_name))
        return False, None


def answers(hook_name: str, **kwargs: Any) -> list[Any]:
    """Each active plugin's answer to ``hook_name``, in pluggy's call order (``None`` dropped).

    A plugin that raises is logged with its name and left out; the others still answer.
    """
    results: list[Any] = []
    for impl in _active_impls(hook_name):
        ok, value = _call(impl, hook_name, kwargs)
        if ok and value is not None:
            results.append(value)
    return results


def collect(hook_name: str, **kwargs: Any) -> list[Any]:
    """Call a list-returning hook on the tenant's active plugins; flatten the results."""
    return [item for value in answers(hook_name, **kwargs) if value for item in value]


def notify(hook_name: str, **kwargs: Any) -> None:
    """Call a hook that returns nothing on the tenant's active plugins, isolating failures."""
    for impl in _active_impls(hook_name):
        _call(impl, hook_name, kwargs)


def call_plugin_of_module(module_key: str, hook_name: str, **kwargs: Any) -> None:
    """Call ``hook_name`` only on the plugin that owns ``module_key``; errors propagate."""
    pm = get_plugin_manager()
    registry = module_registry()
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if registry.module_of_plugin(impl.plugin_name) == module_key:
            impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})


def module_permissions(pm: pluggy.PluginManager) -> dict[str, frozenset[str]]:
    """Permission -> roles holding it by default, from every module's descriptor."""
    out: dict[str, set[str]] = {}
    for descriptor in pm.crm_modules.descriptors.values():  # type: ignore[attr-defined]
        for permission, roles in descriptor.permissions.items():
            out.setdefault(permission, set()).update(roles)
    return {k: frozenset(v) for k, v in out.items()}


def migration_locations(app: Flask | None = None) -> list[str]:
    """Directories of revision files: the core's and every plugin's."""
    locations: list[str] = []
    for found in get_plugin_manager(app).hook.crm_migration_locations():
        locations.extend(str(p) for p in found or [])
    return locations


def _package_of(plugin: Any) -> str:
    name = getattr(plugin, "__name__", None) or type(plugin).__module__
    if hasattr(plugin, "__path__"):  # a package registered as the plugin
        return name
    return name.rpartition(".")[0] or name


def module_of_callable(func: Any) -> str | None:
    """The module key of the plugin whose package defines ``func`` (``None``: always on)."""
    target = getattr(func, "__wrapped__", func)
    where = getattr(target, "__module__", "") or ""
    pm = get_plugin_manager()
    registry = module_registry()
    for name, key in registry.plugin_module.items():
        plugin = pm.get_plugin(name)
        if plugin is None:
            continue
        package = _package_of(plugin)
        if where == package or where.startswith(package + "."):
            return key
    return None


def register_plugin_blueprints(app: Flask, pm: pluggy.PluginManager) -> None:
    """Register every plugin's blueprints and remember which module owns each."""
    registry: ModuleRegistry = pm.crm_modules  # type: ignore[attr-defined]
    for impl in reversed(pm.hook.crm_blueprints.get_hookimpls()):
        key = registry.module_of_plugin(impl.plugin_name)
        for blueprint in impl.function() or []:
            app.register_blueprint(blueprint)
            if key is not None:
                registry.blueprint_module[blueprint.name] = key
    for impl in pm.hook.crm_api_resources.get_hookimpls():
        key = registry.module_of_plugin(impl.plugin_name)
        for resource in impl.function() or []:
            registry.api_resources.append((impl.plugin_name, resource))
            if key is not None:
                registry.blueprint_module[resource.blueprint.name] = key
