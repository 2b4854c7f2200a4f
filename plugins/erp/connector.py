"""Public API for ERP connector authors.

A connector is any object satisfying :class:`Connector`. Plugins contribute
connectors through the ERP plugin's ``erp_connectors`` hook; the sync engine
in :mod:`plugins.erp.engine` drives them (cursor-based pulls, pushes of CRM
records) and keeps the sync ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

POLICIES = ("erp_wins", "crm_wins", "newest_wins")
DIRECTIONS = ("in", "out", "both")
CRM_KINDS = ("account", "contact", "product", "order", "invoice", "stock", "quote")

#: The CRM field names a ``FieldMap.crm`` may name, per ``SyncObject.crm_kind``. Fields
#: marked "ref" hold the *external id* of another synced object (the engine resolves it
#: through the sync ledger): ``account`` -> a party/account object, ``order`` -> a sale,
#: ``product`` -> a product. ``lines`` is a list of ``{"product": ext id or None, "name",
#: "quantity", "unit_price"}`` (optionally ``"sku"``, ``"discount"``, ``"tax"``).
#: Order ``status``: one of pending, paid, shipped, completed, cancelled, refunded, or
#: ``"quotation"`` / ``"draft"`` (not an order yet: nothing is written until it becomes one).
#: Invoice ``state``: draft, open, paid or cancelled; amounts are decimal strings or numbers.
CRM_FIELDS: dict[str, tuple[str, ...]] = {
    "account": (
        "name",
        "email",
        "phone",
        "website",
        "industry",
        "address",
        "region",
        "notes",
        "credit_limit",
    ),
    "contact": (
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "address",
        "account",  # ref
    ),
    "product": ("code", "name", "description", "unit_price", "currency", "active"),
    "order": (
        "number",
        "account",
        "contact",
        "ordered_at",
        "status",
        "currency",
        "total",
        "lines",
        "notes",
    ),
    "invoice": (
        "number",
        "account",
        "order",
        "invoiced_at",
        "due_date",
        "state",
        "currency",
        "total",
        "amount_due",
    ),
    "stock": ("product", "quantity", "location"),
    # out only: a won deal pushed as a sale quotation
    "quote": ("account", "number", "description", "currency", "total", "lines", "date"),
}


@dataclass(frozen=True)
class FieldMap:
    """Maps one external field to one CRM field with a conflict policy."""

    external: str
    crm: str
    policy: str = "erp_wins"


@dataclass(frozen=True)
class SyncObject:
    """An object type a connector syncs (e.g. ``party`` -> CRM ``account``).

    ``key`` e.g. "party", "product", "sale", "invoice", "stock"; ``crm_kind`` one
    of :data:`CRM_KINDS`; ``direction`` one of :data:`DIRECTIONS`.
    """

    key: str
    label: str
    crm_kind: str
    direction: str
    fields: tuple[FieldMap, ...]


@dataclass(frozen=True)
class SettingField:
    """One per-connection setting shown in the connection form."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str = ""


@dataclass(frozen=True)
class ExternalRecord:
    """One record read from the ERP.

    ``data`` holds JSON-able values keyed by ``FieldMap.external``; it may hold
    lists (e.g. ``"lines": [{"product": ext_id, "name", "quantity",
    "unit_price"}]``). References to other objects are external ids (e.g.
    ``sale.data["party"]`` is the party's external id).
    """

    external_id: str
    data: dict[str, Any]
    updated_at: datetime | None = None
    deleted: bool = False
    lineage: dict[str, str] | None = None


@dataclass
class Page:
    """One page of a pull: records changed after the cursor, oldest first."""

    records: list[ExternalRecord]
    cursor: str | None
    more: bool


class ConnectorError(Exception):
    """The ERP is unreachable, misconfigured or refused a request.

    ``retryable`` tells the job wrapper whether retrying may help (timeouts,
    connection refused) or not (bad credentials, validation errors).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@runtime_checkable
class Connector(Protocol):
    """What a connector plugin provides (see docs/modules/erp.md)."""

    key: str
    name: str
    description: str
    objects: tuple[SyncObject, ...]
    settings: tuple[SettingField, ...]

    def check(self, settings: dict[str, str]) -> None:
        """Raise :class:`ConnectorError` when unreachable / misconfigured."""
        ...

    def pull(
        self, settings: dict[str, str], object_key: str, cursor: str | None, limit: int
    ) -> Page:
        """Incremental read: records changed after ``cursor``, oldest first."""
        ...

    def push(
        self,
        settings: dict[str, str],
        object_key: str,
        external_id: str | None,
        data: dict[str, Any],
    ) -> str:
        """Create (``external_id`` None) or update a record; return its external id."""
        ...


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
