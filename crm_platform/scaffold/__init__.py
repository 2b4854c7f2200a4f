"""``crm plugin new NAME``: a new plugin package that installs, loads and passes its own test."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).parent / "package"
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


class ScaffoldError(ValueError):
    """The plugin cannot be created (bad name, target folder not empty)."""


def plugin_names(name: str) -> dict[str, str]:
    """The names derived from ``name``: module key, package, distribution, URL slug, title."""
    name = name.strip().lower()
    if not _NAME.match(name) or len(name) > 30:
        raise ScaffoldError(
            "the name must be 2-30 lowercase letters, digits, '-' or '_', "
            "starting with a letter (e.g. 'loyalty' or 'acme-notes')"
        )
    key = name.replace("-", "_")
    if len(key) < 2:
        raise ScaffoldError("the name must be at least 2 characters long")
    return {
        "key": key,
        "package": f"crm_{key}",
        "dist": f"crm-plugin-{key.replace('_', '-')}",
        "slug": key.replace("_", "-"),
        "title": " ".join(part.capitalize() for part in re.split(r"[-_]", name)),
    }


def create_plugin(name: str, directory: Path) -> Path:
    """Write a plugin package for ``name`` under ``directory``; returns its folder."""
    names = plugin_names(name)
    target = Path(directory) / names["dist"]
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty")
    for source in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        relative = source.relative_to(TEMPLATE_DIR).with_suffix("")
        parts = [names["package"] if part == "PKG" else part for part in relative.parts]
        destination = target.joinpath(*parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(Template(source.read_text()).substitute(names))
    return target
