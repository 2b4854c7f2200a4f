"""The Tryton connector's hook: it hands the ERP plugin one :class:`TrytonConnector`."""

from __future__ import annotations

from crm_platform.sdk import hookimpl
from plugins.erp.connector import Connector

from .connector import TrytonConnector


@hookimpl
def erp_connectors() -> list[Connector]:
    """The Tryton connector (parties, products, sales, invoices, stock; quotes out)."""
    return [TrytonConnector()]
