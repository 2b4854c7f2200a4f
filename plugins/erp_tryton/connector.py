"""The Tryton connector: parties, products, sales, invoices and stock in; parties and quotes out.

It talks JSON-RPC to a ``trytond`` (8.0) with the modules party, product, sale,
account_invoice and stock (see docs/modules/erp-tryton.md for the mapping).

Incremental pulls use a keyset on ``(coalesce(write_date, create_date), id)``, oldest first
(Tryton leaves ``write_date`` empty until a row is first written, and stamps rows with the
start time of their transaction, in UTC). An object is fed by one or more *streams*: the
party by ``party.party``, ``party.address`` and ``party.contact_mechanism`` (an e-mail changed
in Tryton only touches the contact mechanism), the product by ``product.product`` and
``product.template`` (the list price lives on the template), the sale by ``sale.sale`` and
``sale.line``, stock by done ``stock.move`` rows. The cursor is a small JSON object holding
each stream's last position; treat it as opaque.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l

from plugins.erp.connector import (
    ConnectorError,
    ExternalRecord,
    FieldMap,
    Page,
    SettingField,
    SyncObject,
)

from .client import DEFAULT_TIMEOUT, TrytonClient

__all__ = ["TrytonConnector"]

_ALL = {"active_test": False}  # include deactivated records (they come back as deleted)

#: Open Tryton sessions by (url, database, user, password digest): a login costs a password
#: hash on the server (a few hundred ms), too much for every page of every object. Only a
#: caller with the same credentials gets a session back; Tryton expires idle ones, and a
#: refused session is replaced by a new login.
_SESSIONS: dict[tuple[str, str, str, str], tuple[int, str, dict[str, Any]]] = {}
_SESSIONS_LOCK = threading.Lock()


def _session_key(client: TrytonClient) -> tuple[str, str, str, str]:
    digest = hashlib.sha256(client.password.encode("utf-8")).hexdigest()
    return client.url, client.database, client.username, digest


def _money(value: Any) -> str | None:
    """A decimal amount as a string with at least two decimals (``"12.50"``), or None."""
    if value is None:
        return None
    number = Decimal(str(value))
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return str(number)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else None


def _ref(value: Any) -> str | None:
    """A Many2One value (an id) as an external id."""
    return str(value) if value not in (None, False) else None


def _code(row: dict[str, Any], field: str) -> str | None:
    """The ``code`` of a Many2One read with ``<field>.code``."""
    nested = row.get(f"{field}.")
    return nested.get("code") if isinstance(nested, dict) else None


# -- Tryton states -> CRM vocabulary -------------------------------------------------------


def order_status(state: str, invoice_state: str | None, shipment_state: str | None) -> str:
    """A CRM order status for a Tryton sale (see ``CRM_FIELDS`` in plugins/erp/connector.py)."""
    if state in ("draft", "quotation", "cancelled"):
        return state
    if state == "done":
        return "completed"
    if shipment_state == "sent":
        return "shipped"
    if invoice_state == "paid":
        return "paid"
    return "pending"


def invoice_status(state: str) -> str:
    """A CRM invoice state (draft, open, paid, cancelled) for a Tryton invoice state."""
    return {"posted": "open", "paid": "paid", "cancelled": "cancelled"}.get(state, "draft")


# -- streams --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One Tryton model whose changes mark records of an object as changed.

    ``owner`` names the field pointing at the object's record (``None``: the row is the
    record); ``many`` says that field is a list (a template's ``products``).
    """

    model: str
    owner: str | None = None
    many: bool = False
    domain: tuple[Any, ...] = ()


Position = tuple[dt.datetime, int]


def _parse_cursor(cursor: str | None, streams: tuple[Stream, ...]) -> dict[str, Position]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        positions = {}
        for stream in streams:
            if stream.model in raw:
                stamp, ident = raw[stream.model]
                positions[stream.model] = (dt.datetime.fromisoformat(stamp), int(ident))
        return positions
    except (ValueError, TypeError) as exc:
        raise ConnectorError(f"the Tryton cursor {cursor!r} is not valid", retryable=False) from exc


def _dump_cursor(positions: dict[str, Position]) -> str | None:
    if not positions:
        return None
    return json.dumps(
        {model: [stamp.isoformat(), ident] for model, (stamp, ident) in sorted(positions.items())},
        separators=(",", ":"),
    )


def _after(column: str, position: Position | None) -> list[Any]:
    """Rows whose ``column`` (write or create date) and id come after ``position``."""
    if column == "write_date":
        base: list[Any] = [("write_date", "!=", None)]
    else:  # never written: Tryton leaves write_date empty until the first write
        base = [("write_date", "=", None)]
    if position is None:
        return base
    stamp, ident = position
    return [
        *base,
        ["OR", (column, ">", stamp), [(column, "=", stamp), ("id", ">", ident)]],
    ]


# -- the connector --------------------------------------------------------------------------

PARTY_FIELDS = (
    FieldMap("name", "name"),
    FieldMap("email", "email"),
    FieldMap("phone", "phone"),
    FieldMap("website", "website"),
    FieldMap("address", "address"),
)
PRODUCT_FIELDS = (
    FieldMap("code", "code"),
    FieldMap("name", "name"),
    FieldMap("description", "description"),
    FieldMap("list_price", "unit_price"),
    FieldMap("currency", "currency"),
    FieldMap("active", "active"),
)
SALE_FIELDS = (
    FieldMap("number", "number"),
    FieldMap("party", "account"),
    FieldMap("sale_date", "ordered_at"),
    FieldMap("status", "status"),
    FieldMap("currency", "currency"),
    FieldMap("total", "total"),
    FieldMap("lines", "lines"),
    FieldMap("description", "notes"),
)
QUOTE_FIELDS = (
    FieldMap("party", "account"),
    FieldMap("reference", "number"),
    FieldMap("description", "description"),
    FieldMap("currency", "currency"),
    FieldMap("lines", "lines"),
    FieldMap("sale_date", "date"),
)
INVOICE_FIELDS = (
    FieldMap("number", "number"),
    FieldMap("party", "account"),
    FieldMap("sale", "order"),
    FieldMap("invoice_date", "invoiced_at"),
    FieldMap("due_date", "due_date"),
    FieldMap("status", "state"),
    FieldMap("currency", "currency"),
    FieldMap("total_amount", "total"),
    FieldMap("amount_to_pay", "amount_due"),
)
STOCK_FIELDS = (
    FieldMap("product", "product"),
    FieldMap("quantity", "quantity"),
    FieldMap("location", "location"),
)

STREAMS: dict[str, tuple[Stream, ...]] = {
    "party": (
        Stream("party.party"),
        Stream("party.address", owner="party"),
        Stream("party.contact_mechanism", owner="party"),
    ),
    "product": (Stream("product.product"), Stream("product.template", "products", many=True)),
    "sale": (Stream("sale.sale"), Stream("sale.line", owner="sale")),
    "invoice": (Stream("account.invoice", domain=(("type", "=", "out"),)),),
    "stock": (Stream("stock.move", owner="product", domain=(("state", "=", "done"),)),),
}


class TrytonConnector:
    """Syncs a Tryton ERP over JSON-RPC (see the module docstring and the module doc)."""

    key = "tryton"
    name = "Tryton"
    description = _l(
        "Tryton ERP over JSON-RPC: parties, products and list prices, sales, invoices "
        "and payment status, stock; won deals become sale quotations."
    )
    objects = (
        SyncObject("party", _l("Parties"), "account", "both", PARTY_FIELDS),
        SyncObject("product", _l("Products and list prices"), "product", "in", PRODUCT_FIELDS),
        SyncObject("sale", _l("Sales"), "order", "in", SALE_FIELDS),
        SyncObject("quote", _l("Quotations from won deals"), "quote", "out", QUOTE_FIELDS),
        SyncObject("invoice", _l("Invoices and payment status"), "invoice", "in", INVOICE_FIELDS),
        SyncObject("stock", _l("Stock availability"), "stock", "in", STOCK_FIELDS),
    )
    settings = (
        SettingField("url", _l("Server address (http://host:8000)")),
        SettingField("database", _l("Database")),
        SettingField("username", _l("User name")),
        SettingField("password", _l("Password"), secret=True),
        SettingField(
            "timeout",
            _l("Timeout in seconds"),
            required=False,
            default=str(int(DEFAULT_TIMEOUT)),
        ),
    )

    # -- connection ------------------------------------------------------------------------

    def client(self, settings: dict[str, str]) -> TrytonClient:
        """A client for the connection ``settings`` (not logged in yet)."""
        raw_timeout = (settings.get("timeout") or "").strip() or str(DEFAULT_TIMEOUT)
        try:
            timeout = float(raw_timeout)
        except ValueError as exc:
            raise ConnectorError(
                f"the timeout {raw_timeout!r} is not a number", retryable=False
            ) from exc
        if not 0 < timeout <= 600:
            raise ConnectorError("the timeout must be between 0 and 600 s", retryable=False)
        return TrytonClient(
            settings.get("url", ""),
            settings.get("database", ""),
            settings.get("username", ""),
            settings.get("password", ""),
            timeout=timeout,
        )

    @contextlib.contextmanager
    def session(self, settings: dict[str, str]) -> Iterator[TrytonClient]:
        """A client on a cached session for ``settings`` (logged in when there is none)."""
        client = self.client(settings)
        key = _session_key(client)
        with _SESSIONS_LOCK:
            cached = _SESSIONS.get(key)
        if cached is not None:
            client.resume(cached)
        try:
            yield client
        finally:
            opened = client.session
            with _SESSIONS_LOCK:
                if opened is not None:
                    _SESSIONS[key] = opened
                else:
                    _SESSIONS.pop(key, None)

    def check(self, settings: dict[str, str]) -> None:
        """Log in (always anew), and check the user has a company and the models it syncs."""
        client = self.client(settings)
        with _SESSIONS_LOCK:
            _SESSIONS.pop(_session_key(client), None)
        client.login()
        try:
            if not client.context.get("company"):
                raise ConnectorError(
                    f"the Tryton user {client.username!r} has no current company",
                    retryable=False,
                )
            for model in ("party.party", "product.product", "sale.sale", "account.invoice"):
                client.execute(model, "search", [], 0, 1, None)
        finally:
            client.logout()

    # -- pull ------------------------------------------------------------------------------

    def pull(
        self, settings: dict[str, str], object_key: str, cursor: str | None, limit: int
    ) -> Page:
        """Records of ``object_key`` changed after ``cursor``, oldest first, ``limit`` at most."""
        readers: dict[str, Callable[[TrytonClient, list[int]], dict[int, dict[str, Any]]]] = {
            "party": self._read_parties,
            "product": self._read_products,
            "sale": self._read_sales,
            "invoice": self._read_invoices,
            "stock": self._read_stock,
        }
        if object_key not in readers:
            raise ConnectorError(f"Tryton has no object {object_key!r} to pull", retryable=False)
        if limit < 1:
            raise ConnectorError("the page size must be at least 1", retryable=False)
        streams = STREAMS[object_key]
        positions = _parse_cursor(cursor, streams)
        with self.session(settings) as client:
            ids, changed_at, more = self._changes(client, streams, positions, limit)
            data = readers[object_key](client, ids) if ids else {}
        records = []
        for ident in ids:
            row = data.get(ident)
            if row is None:  # deleted in Tryton between the two reads
                continue
            deleted = bool(row.pop("_deleted", False))
            stamp = max(changed_at[ident], row.pop("_write_date", None) or changed_at[ident])
            records.append(
                ExternalRecord(
                    external_id=str(ident),
                    data=row,
                    updated_at=stamp.replace(tzinfo=dt.UTC),  # Tryton keeps UTC
                    deleted=deleted,
                    lineage={
                        "source": "tryton",
                        "database": client.database,
                        "model": streams[0].model,
                    },
                )
            )
        return Page(records=records, cursor=_dump_cursor(positions) or cursor, more=more)

    def _changes(
        self,
        client: TrytonClient,
        streams: tuple[Stream, ...],
        positions: dict[str, Position],
        limit: int,
    ) -> tuple[list[int], dict[int, dt.datetime], bool]:
        """Ids changed after ``positions`` (updated in place), oldest first; and ``more``."""
        events: list[tuple[dt.datetime, int, int, list[int]]] = []
        capped = False
        for index, stream in enumerate(streams):
            # the keyset is on coalesce(write_date, create_date): one query for each side,
            # sharing the stream's position
            found: list[tuple[dt.datetime, int, int, list[int]]] = []
            horizon: tuple[dt.datetime, int] | None = None
            for column in ("write_date", "create_date"):
                fields = [column] + ([stream.owner] if stream.owner else [])
                rows = client.search_read(
                    stream.model,
                    list(stream.domain) + _after(column, positions.get(stream.model)),
                    fields,
                    limit=limit + 1,
                    order=[(column, "ASC"), ("id", "ASC")],
                    context=_ALL,
                )
                if len(rows) > limit:
                    capped = True
                    rows = rows[:limit]
                    last = (rows[-1][column], rows[-1]["id"])
                    horizon = last if horizon is None else min(horizon, last)
                for row in rows:
                    if stream.owner is None:
                        owners = [row["id"]]
                    elif stream.many:
                        owners = list(row.get(stream.owner) or [])
                    else:
                        owners = [row[stream.owner]] if row.get(stream.owner) else []
                    found.append((row[column], index, row["id"], owners))
            if horizon is not None:
                # beyond the last row of a cut query, the other query's rows must wait:
                # consuming them would move the shared position past unread rows
                found = [event for event in found if (event[0], event[2]) <= horizon]
            events.extend(found)
        events = self._drop_redundant(client, streams[0].model, events)
        events.sort(key=lambda event: (event[0], event[1], event[2]))
        ids: list[int] = []
        changed_at: dict[int, dt.datetime] = {}
        consumed = 0
        for stamp, index, row_id, owners in events:
            new = [owner for owner in owners if owner not in changed_at]
            if ids and len(ids) + len(new) > limit:
                break
            for owner in owners:
                if owner not in changed_at:
                    ids.append(owner)
                changed_at[owner] = stamp
            positions[streams[index].model] = (stamp, row_id)
            consumed += 1
        more = capped or consumed < len(events)
        return ids, changed_at, more

    @staticmethod
    def _drop_redundant(
        client: TrytonClient,
        model: str,
        events: list[tuple[dt.datetime, int, int, list[int]]],
    ) -> list[tuple[dt.datetime, int, int, list[int]]]:
        """Child events that need not emit their owner: the owner's own row changed at the
        same time or later (a sale created with its lines, a template with its variant), so
        the owner's own event brings it, with the child's change. They still move the cursor.
        """
        owners = {o for _, index, _, found in events if index > 0 for o in found}
        if not owners:
            return events
        rows = client.search_read(
            model, [("id", "in", sorted(owners))], ["write_date", "create_date"], context=_ALL
        )
        own = {row["id"]: row["write_date"] or row["create_date"] for row in rows}
        kept = []
        for stamp, index, row_id, found in events:
            if index > 0:
                found = [o for o in found if o not in own or own[o] < stamp]
            kept.append((stamp, index, row_id, found))
        return kept

    # readers: {id: data} for the ids of a page --------------------------------------------

    def _read_parties(self, client: TrytonClient, ids: list[int]) -> dict[int, dict[str, Any]]:
        rows = _rows(
            client,
            "party.party",
            ids,
            ["name", "code", "email", "phone", "website", "active", "write_date"],
            context=_ALL,
        )
        addresses = client.search_read(
            "party.address",
            [("party", "in", ids)],
            ["party", "street", "postal_code", "city", "country.code", "country.name"],
            order=[("party", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        )
        first_address: dict[int, dict[str, Any]] = {}
        for address in addresses:
            first_address.setdefault(address["party"], address)
        result = {}
        for row in rows:
            address = first_address.get(row["id"], {})
            country = address.get("country.") or {}
            street = (address.get("street") or "").strip()
            place = " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)
            lines = [street, place, country.get("name") or ""]
            result[row["id"]] = {
                "name": row["name"],
                "code": row.get("code") or None,
                "email": row.get("email") or None,
                "phone": row.get("phone") or None,
                "website": row.get("website") or None,
                "address": "\n".join(line for line in lines if line) or None,
                "street": street or None,
                "postal_code": address.get("postal_code") or None,
                "city": address.get("city") or None,
                "country": country.get("code"),
                "_deleted": not row.get("active", True),
                "_write_date": row.get("write_date"),
            }
        return result

    def _read_products(self, client: TrytonClient, ids: list[int]) -> dict[int, dict[str, Any]]:
        rows = _rows(
            client,
            "product.product",
            ids,
            ["name", "code", "description", "list_price_used", "type", "active", "write_date"],
            context=_ALL,
        )
        company = client.context.get("company")
        currency = _find(client, "company.company", company, ["currency.code"]) if company else []
        currency_code = _code(currency[0], "currency") if currency else None
        return {
            row["id"]: {
                "code": row.get("code") or None,
                "name": row["name"],
                "description": row.get("description") or None,
                "list_price": _money(row.get("list_price_used")),
                "currency": currency_code,
                "type": row.get("type"),
                "active": bool(row.get("active", True)),
                "_deleted": not row.get("active", True),
                "_write_date": row.get("write_date"),
            }
            for row in rows
        }

    def _read_sales(self, client: TrytonClient, ids: list[int]) -> dict[int, dict[str, Any]]:
        rows = _rows(
            client,
            "sale.sale",
            ids,
            [
                "number",
                "reference",
                "description",
                "party",
                "sale_date",
                "state",
                "invoice_state",
                "shipment_state",
                "currency.code",
                "untaxed_amount",
                "tax_amount",
                "total_amount",
                "write_date",
            ],
        )
        lines = client.search_read(
            "sale.line",
            [("sale", "in", ids), ("type", "=", "line")],
            ["sale", "product", "description", "quantity", "unit_price"],
            order=[("sale", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        )
        by_sale: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            by_sale.setdefault(line["sale"], []).append(
                {
                    "external_id": str(line["id"]),
                    "product": _ref(line.get("product")),
                    "name": line.get("description") or "",
                    "quantity": line.get("quantity"),
                    "unit_price": _money(line.get("unit_price")),
                }
            )
        return {
            row["id"]: {
                "number": row.get("number"),
                "reference": row.get("reference") or None,
                "description": row.get("description") or None,
                "party": _ref(row.get("party")),
                "sale_date": _iso(row.get("sale_date")),
                "state": row["state"],
                "status": order_status(
                    row["state"], row.get("invoice_state"), row.get("shipment_state")
                ),
                "invoice_state": row.get("invoice_state"),
                "shipment_state": row.get("shipment_state"),
                "currency": _code(row, "currency"),
                "untaxed_amount": _money(row.get("untaxed_amount")),
                "tax_amount": _money(row.get("tax_amount")),
                "total": _money(row.get("total_amount")),
                "lines": by_sale.get(row["id"], []),
                "_write_date": row.get("write_date"),
            }
            for row in rows
        }

    def _read_invoices(self, client: TrytonClient, ids: list[int]) -> dict[int, dict[str, Any]]:
        rows = _rows(
            client,
            "account.invoice",
            ids,
            [
                "number",
                "reference",
                "party",
                "sales",
                "invoice_date",
                "payment_term_date",
                "state",
                "currency.code",
                "untaxed_amount",
                "total_amount",
                "amount_to_pay",
                "write_date",
            ],
        )
        return {
            row["id"]: {
                "number": row.get("number"),
                "reference": row.get("reference") or None,
                "party": _ref(row.get("party")),
                "sale": _ref(min(row["sales"])) if row.get("sales") else None,
                "sales": [str(s) for s in sorted(row.get("sales") or [])],
                "invoice_date": _iso(row.get("invoice_date")),
                "due_date": _iso(row.get("payment_term_date") or row.get("invoice_date")),
                "state": row["state"],
                "status": invoice_status(row["state"]),
                "paid": row["state"] == "paid",
                "currency": _code(row, "currency"),
                "untaxed_amount": _money(row.get("untaxed_amount")),
                "total_amount": _money(row.get("total_amount")),
                "amount_to_pay": _money(row.get("amount_to_pay")),
                "_write_date": row.get("write_date"),
            }
            for row in rows
        }

    def _read_stock(self, client: TrytonClient, ids: list[int]) -> dict[int, dict[str, Any]]:
        warehouses = client.search_read(
            "stock.location", [("type", "=", "warehouse")], ["code", "name"]
        )
        if not warehouses:
            return {}
        context = {"locations": [w["id"] for w in warehouses], "with_childs": True, **_ALL}
        rows = _rows(client, "product.product", ids, ["quantity", "active"], context=context)
        location = ", ".join(w.get("code") or w["name"] for w in warehouses)
        return {
            row["id"]: {
                "product": str(row["id"]),
                "quantity": row.get("quantity") or 0.0,
                "location": location,
                "_deleted": not row.get("active", True),
            }
            for row in rows
        }

    # -- push ------------------------------------------------------------------------------

    def push(
        self,
        settings: dict[str, str],
        object_key: str,
        external_id: str | None,
        data: dict[str, Any],
    ) -> str:
        """Create or update a party, or a sale quotation (``quote``); the Tryton id."""
        writers = {"party": self._push_party, "quote": self._push_quote}
        if object_key not in writers:
            raise ConnectorError(
                f"Tryton does not take {object_key!r} from the CRM", retryable=False
            )
        record_id = _parse_id(external_id) if external_id else None
        with self.session(settings) as client:
            return str(writers[object_key](client, record_id, data))

    def _push_party(self, client: TrytonClient, party_id: int | None, data: dict[str, Any]) -> int:
        """Create or update a party; an update writes only what differs (no echo on re-pull).

        ``address`` is free text: when it differs from the address Tryton composes (street,
        postal code and city, country), it becomes the street and the structured parts are
        cleared unless ``street``/``postal_code``/``city``/``country`` come along.
        """
        name = str(data.get("name") or "").strip()
        if party_id is None and not name:
            raise ConnectorError("a party needs a name", retryable=False)
        country_id = _country(client, data["country"]) if data.get("country") else None
        mechanisms = {
            kind: (str(data[kind]).strip() or None) if data[kind] else None
            for kind in ("email", "phone", "website")
            if kind in data
        }
        current = None
        if party_id is not None:
            current = self._read_parties(client, [party_id]).get(party_id)
            if current is None:
                raise ConnectorError(f"Tryton has no party {party_id}", retryable=False)
        address: dict[str, Any] = {}
        structured = {"street", "postal_code", "city", "country"} & data.keys()
        text = (str(data.get("address") or "").strip() or None) if "address" in data else None
        if structured:
            if "street" in data or "address" in data:
                street = data["street"] if "street" in data else data["address"]
                address["street_unstructured"] = street or None
            for key in ("postal_code", "city"):
                if key in data:
                    address[key] = data[key] or None
            if "country" in data:
                address["country"] = country_id
        elif "address" in data and (current is None or text != current["address"]):
            address = {
                "street_unstructured": text,
                "postal_code": None,
                "city": None,
                "country": None,
            }
        if current is None:
            values: dict[str, Any] = {"name": name, "addresses": [["create", [address]]]}
            values["contact_mechanisms"] = [
                ["create", [{"type": kind, "value": value} for kind, value in _present(mechanisms)]]
            ]
            return client.create("party.party", [values])[0]
        values = {}
        if name and name != current["name"]:
            values["name"] = name
        actions = self._mechanism_changes(client, party_id, mechanisms)
        if actions:
            values["contact_mechanisms"] = actions
        if structured:
            now = {
                "street_unstructured": current["street"],
                "postal_code": current["postal_code"],
                "city": current["city"],
                "country": _country(client, current["country"]) if current["country"] else None,
            }
            address = {k: v for k, v in address.items() if v != now[k]}
        if address:
            first = client.search_read(
                "party.address",
                [("party", "=", party_id)],
                ["id"],
                order=[("sequence", "ASC"), ("id", "ASC")],
                limit=1,
            )
            if first:
                values["addresses"] = [["write", [first[0]["id"]], address]]
            else:
                values["addresses"] = [["create", [address]]]
        if values:
            client.write("party.party", [party_id], values)
        return party_id

    @staticmethod
    def _mechanism_changes(
        client: TrytonClient, party_id: int, mechanisms: dict[str, str | None]
    ) -> list[Any]:
        """One2Many actions that make the first e-mail/phone/website of a party the given one."""
        if not mechanisms:
            return []
        rows = client.search_read(
            "party.contact_mechanism",
            [("party", "=", party_id), ("type", "in", list(mechanisms))],
            ["type", "value"],
            order=[("sequence", "ASC"), ("id", "ASC")],
        )
        first: dict[str, dict[str, Any]] = {}
        for row in rows:
            first.setdefault(row["type"], row)
        actions: list[Any] = []
        for kind, value in mechanisms.items():
            row = first.get(kind)
            if row and value and row["value"] != value:
                actions.append(["write", [row["id"]], {"value": value}])
            elif row and not value:
                actions.append(["delete", [row["id"]]])
            elif not row and value:
                actions.append(["create", [{"type": kind, "value": value}]])
        return actions

    def _push_quote(self, client: TrytonClient, sale_id: int | None, data: dict[str, Any]) -> int:
        """Create or update a sale quotation; pushing the same quote again writes nothing."""
        party_id = _parse_id(data.get("party"), what="party")
        lines = data.get("lines") or []
        if not isinstance(lines, list) or not lines:
            raise ConnectorError("a quotation needs at least one line", retryable=False)
        wanted = data.get("state") or "quotation"
        if wanted not in ("draft", "quotation"):
            raise ConnectorError(
                f"a quotation is pushed as draft or quotation, not {wanted!r}", retryable=False
            )
        line_values = [_line_values(client, line) for line in lines]
        header: dict[str, Any] = {"party": party_id}
        for key in ("reference", "description"):
            if key in data:
                header[key] = data[key] or None
        if data.get("sale_date"):
            header["sale_date"] = _date(data["sale_date"])
        if data.get("currency"):
            header["currency"] = _currency(client, data["currency"])
        party = _find(client, "party.party", party_id, ["addresses"])
        if not party:
            raise ConnectorError(f"Tryton has no party {party_id}", retryable=False)
        sale = None
        if sale_id is not None:
            sale = _find(client, "sale.sale", sale_id, ["state", "lines", *header])
            if not sale:
                raise ConnectorError(f"Tryton has no sale {sale_id}", retryable=False)
            state = sale[0]["state"]
            if state not in ("draft", "quotation"):
                raise ConnectorError(
                    f"the Tryton sale {sale_id} is {state} and can no longer change",
                    retryable=False,
                )
            if state == wanted and _same_quote(client, sale[0], header, line_values):
                return sale_id
        if party[0]["addresses"]:
            address_id = party[0]["addresses"][0]
        else:  # Tryton needs an invoice and a shipment address to quote
            address_id = client.create("party.address", [{"party": party_id}])[0]
        values = {**header, "invoice_address": address_id, "shipment_address": address_id}
        if sale is None:
            values["lines"] = [["create", line_values]]
            sale_id = client.create("sale.sale", [values])[0]
        else:
            if sale[0]["state"] == "quotation":
                client.button("sale.sale", "draft", [sale_id])
            actions: list[Any] = []
            if sale[0]["lines"]:
                actions.append(["delete", sale[0]["lines"]])
            actions.append(["create", line_values])
            values["lines"] = actions
            try:
                client.write("sale.sale", [sale_id], values)
            except ConnectorError:
                if sale[0]["state"] == "quotation":  # put it back as it was
                    client.button("sale.sale", "quote", [sale_id])
                raise
        if wanted == "quotation":
            client.button("sale.sale", "quote", [sale_id])
        return sale_id


# -- push helpers ---------------------------------------------------------------------------


def _parse_id(value: Any, *, what: str = "record") -> int:
    try:
        ident = int(str(value))
    except (TypeError, ValueError) as exc:
        raise ConnectorError(f"{value!r} is not a Tryton {what} id", retryable=False) from exc
    if ident < 1:
        raise ConnectorError(f"{value!r} is not a Tryton {what} id", retryable=False)
    return ident


def _find(client: TrytonClient, model: str, ident: int, fields: list[str]) -> list[dict[str, Any]]:
    """The record ``ident`` of ``model`` (active or not) as a one-item list, or ``[]``."""
    return client.search_read(model, [("id", "=", ident)], fields, context=_ALL)


def _rows(
    client: TrytonClient,
    model: str,
    ids: list[int],
    fields: list[str],
    *,
    context: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``fields`` of the records ``ids`` that still exist (a plain read fails on a missing one)."""
    return client.search_read(model, [("id", "in", ids)], fields, context=context)


def _same_quote(
    client: TrytonClient,
    sale: dict[str, Any],
    header: dict[str, Any],
    line_values: list[dict[str, Any]],
) -> bool:
    """Whether the Tryton sale already has ``header`` and exactly ``line_values``."""
    if any(sale.get(key) != value for key, value in header.items()):
        return False
    rows = client.search_read(
        "sale.line",
        [("sale", "=", sale["id"])],
        ["type", "product", "description", "quantity", "unit_price"],
        order=[("sequence", "ASC"), ("id", "ASC")],
    )

    def key(line: dict[str, Any]) -> tuple[Any, ...]:
        return (
            line.get("type"),
            line.get("product"),
            line.get("description") or None,
            float(line.get("quantity") or 0),
            Decimal(str(line.get("unit_price") or 0)),
        )

    return [key(row) for row in rows] == [key(line) for line in line_values]


def _present(items: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    return [(key, value) for key, value in items.items() if value]


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ConnectorError(f"{value!r} is not a date", retryable=False) from exc


def _decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise ConnectorError(f"the {what} {value!r} is not a number", retryable=False) from exc
    if not number.is_finite():
        raise ConnectorError(f"the {what} {value!r} is not a number", retryable=False)
    return number


def _country(client: TrytonClient, code: str) -> int:
    rows = client.search_read("country.country", [("code", "=", str(code).upper())], ["id"])
    if not rows:
        raise ConnectorError(f"Tryton has no country {code!r}", retryable=False)
    return rows[0]["id"]


def _currency(client: TrytonClient, code: str) -> int:
    rows = client.search_read("currency.currency", [("code", "=", str(code).upper())], ["id"])
    if not rows:
        raise ConnectorError(f"Tryton has no currency {code!r}", retryable=False)
    return rows[0]["id"]


def _line_values(client: TrytonClient, line: Any) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise ConnectorError(f"a quotation line must be an object, not {line!r}", retryable=False)
    quantity = _decimal(line.get("quantity", 1), "quantity")
    unit_price = _decimal(line.get("unit_price", 0), "unit price")
    if quantity <= 0:
        raise ConnectorError("a quotation line needs a positive quantity", retryable=False)
    values: dict[str, Any] = {
        "type": "line",
        "quantity": float(quantity),
        "unit_price": unit_price,
        "description": str(line.get("name") or "").strip() or None,
    }
    if line.get("product"):
        product_id = _parse_id(line["product"], what="product")
        product = _find(client, "product.product", product_id, ["sale_uom", "salable"])
        if not product:
            raise ConnectorError(f"Tryton has no product {product_id}", retryable=False)
        values["product"] = product_id
        values["unit"] = product[0]["sale_uom"]
    elif not values["description"]:
        raise ConnectorError("a quotation line needs a product or a name", retryable=False)
    return values
