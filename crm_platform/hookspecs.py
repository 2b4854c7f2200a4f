"""Hook specifications: every hook a plugin may implement.

Each stub's docstring is its reference documentation (see ``docs/hooks.md``).
Hooks are called with keyword arguments; a plugin implements only the ones it needs.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("crm")


@hookspec
def crm_blueprints() -> list[Any]:
    """Return Flask blueprints this plugin serves.

    Called once at app start-up. A blueprint whose ``url_prefix`` starts with
    ``/t/<tenant_slug>`` serves tenant pages: the core resolves the tenant, requires a signed-in
    member and enters the tenant context before the view runs.
    """


@hookspec
def crm_navigation(membership: Any) -> list[Any]:
    """Return ``NavItem`` entries for the workspace navigation of ``membership``.

    Called on each tenant page render, inside the tenant context. Return only items the
    member may use (check ``membership.can(permission)``).
    """
