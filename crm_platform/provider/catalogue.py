"""The plugin catalogue: every installed plugin, its module, package, users and approval."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from ..plugin_types import ModuleDescriptor
from ..plugins import ENTRY_POINT_GROUP, _package_of, get_plugin_manager, module_registry
from .approvals import approval_states
from .tenants import module_usage

UNREVIEWED = "unreviewed"


@dataclass(frozen=True)
class PluginEntry:
    """One installed plugin as the console lists it.

    ``module`` is ``None`` for an always-on plugin (no module descriptor: it cannot be
    hidden); ``approval`` is ``approved``, ``hidden`` or ``unreviewed`` for a module.
    """

    name: str
    package: str
    distribution: str
    module: ModuleDescriptor | None
    approval: str | None
    tenants: int


def _distributions() -> dict[str, str]:
    """Entry-point name → ``"<distribution> <version>"`` of the installed plugin packages."""
    out: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        if dist is not None:
            out[ep.name] = f"{dist.metadata['Name']} {dist.version}"
    return out


def plugin_catalogue(actor: str) -> list[PluginEntry]:
    """Installed plugins: modules first (by name), then the always-on ones (by name)."""
    pm = get_plugin_manager()
    registry = module_registry()
    states = approval_states()
    usage = module_usage(actor)
    dists = _distributions()
    entries = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        key = registry.module_of_plugin(name)
        module = registry.descriptors.get(key) if key else None
        entries.append(
            PluginEntry(
                name=name,
                package=_package_of(plugin),
                distribution=dists.get(name, ""),
                module=module,
                approval=states.get(key, UNREVIEWED) if key else None,
                tenants=usage.get(key, 0) if key else 0,
            )
        )
    return sorted(
        entries, key=lambda e: (e.module is None, (e.module.name if e.module else e.name).lower())
    )
