"""The plugin host: one pluggy ``PluginManager`` per app, loaded from entry points.

Built-in modules and third-party plugins are found the same way, through the
``crm.plugins`` entry-point group. A plugin that raises in a hook is logged with its name and
the rest of the page and the other plugins go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pluggy
from flask import Flask, current_app

from . import hookspecs

ENTRY_POINT_GROUP = "crm.plugins"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavItem:
    """One entry of the workspace navigation."""

    label: str
    endpoint: str
    order: int = 100
    icon: str = ""


def make_plugin_manager(extra_plugins: list[Any] | None = None) -> pluggy.PluginManager:
    """Build the plugin manager: hook specs, entry-point plugins, then ``extra_plugins``."""
    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins or []:
        pm.register(plugin)
    pm.check_pending()
    return pm


def get_plugin_manager(app: Flask | None = None) -> pluggy.PluginManager:
    """The app's plugin manager."""
    app = app or current_app._get_current_object()
    return app.extensions["crm_plugins"]


def collect(hook_name: str, **kwargs: Any) -> list[Any]:
    """Call a list-returning hook on every plugin, isolating failures; flatten the results."""
    pm = get_plugin_manager()
    results: list[Any] = []
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
        try:
            value = impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})
        except Exception:
            log.exception("plugin %r failed in hook %s", impl.plugin_name, hook_name)
            continue
        if value:
            results.extend(value)
    return results
