"""The ERP plugin's own hook specifications (added through ``crm_addhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from plugins.erp.connector import Connector

hookspec = pluggy.HookspecMarker("crm")


@hookspec
def erp_connectors() -> list[Connector]:
    """Return the ERP connectors this plugin provides.

    Each item satisfies :class:`plugins.erp.connector.Connector`: a stable
    ``key``, a ``name`` and ``description`` shown when a tenant admin creates a
    connection, the ``objects`` it syncs (with direction and default field
    mapping), the ``settings`` a connection needs (secrets flagged), and
    ``check``/``pull``/``push``. Called at start-up and whenever the framework
    lists connectors; connectors are shared by every tenant and must keep no
    per-tenant state (everything per tenant comes in ``settings``).
    """
