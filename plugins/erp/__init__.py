"""ERP connector framework: connectors, sync ledger, runs and dead letters."""

from plugins.erp.connector import (
    CRM_FIELDS,
    CRM_KINDS,
    DIRECTIONS,
    POLICIES,
    Connector,
    ConnectorError,
    ExternalRecord,
    FieldMap,
    Page,
    SettingField,
    SyncObject,
)

__all__ = [
    "CRM_FIELDS",
    "CRM_KINDS",
    "DIRECTIONS",
    "POLICIES",
    "Connector",
    "ConnectorError",
    "ExternalRecord",
    "FieldMap",
    "Page",
    "SettingField",
    "SyncObject",
]
