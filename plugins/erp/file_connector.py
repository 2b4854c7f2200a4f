"""The built-in file/webhook connector, for ERPs the CRM does not speak.

Records arrive as CSV or JSON drops uploaded on the connection's page, or as a signed JSON
webhook (``POST /erp/hook/<tenant>/<connection id>``). Each drop is checked completely first
(size, format, every line): one bad line refuses the whole drop with a message per line and
nothing is stored. Accepted records wait in the connection's inbox, which ``pull`` reads
like any ERP (the inbox row's time-ordered id is the cursor), so they go through the same
engine and ledger as every connector.

Webhook signature: ``X-CRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">`` keyed with the connection's webhook secret, the same scheme the CRM uses
for its outbound webhooks (docs/webhooks.md); requests older than five minutes are refused.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm_platform.sdk import db

from .connector import (
    ConnectorError,
    ExternalRecord,
    FieldMap,
    Page,
    SettingField,
    SyncObject,
)
from .models import InboxRecord

MAX_BYTES = 5 * 1024 * 1024
MAX_WEBHOOK_BYTES = 1024 * 1024
MAX_RECORDS = 20000
MAX_ERRORS = 50
SIGNATURE_HEADER = "X-CRM-Signature"
TOLERANCE = 300
RESERVED = ("external_id", "updated_at", "deleted")


def _fields(*pairs: str) -> tuple[FieldMap, ...]:
    out = []
    for pair in pairs:
        external, _sep, crm = pair.partition(">")
        out.append(FieldMap(external, crm or external))
    return tuple(out)


OBJECTS = (
    SyncObject(
        "party",
        _l("Customers (parties)"),
        "account",
        "in",
        _fields(
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
    ),
    SyncObject(
        "contact",
        _l("Contacts"),
        "contact",
        "in",
        _fields("first_name", "last_name", "email", "phone", "title", "address", "party>account"),
    ),
    SyncObject(
        "product",
        _l("Products and list prices"),
        "product",
        "in",
        _fields("code", "name", "description", "unit_price", "currency", "active"),
    ),
    SyncObject(
        "sale",
        _l("Sales orders"),
        "order",
        "in",
        _fields(
            "number",
            "party>account",
            "contact",
            "date>ordered_at",
            "status",
            "currency",
            "total",
            "lines",
            "notes",
        ),
    ),
    SyncObject(
        "invoice",
        _l("Invoices and payment status"),
        "invoice",
        "in",
        _fields(
            "number",
            "party>account",
            "sale>order",
            "date>invoiced_at",
            "due_date",
            "state",
            "currency",
            "total",
            "amount_due",
        ),
    ),
    SyncObject(
        "stock",
        _l("Stock availability"),
        "stock",
        "in",
        _fields("product", "quantity", "location"),
    ),
)
OBJECT_KEYS = tuple(o.key for o in OBJECTS)


class FileConnector:
    """CSV/JSON drops and a signed inbound webhook, through the connection's inbox."""

    key = "file"
    name = _l("File / webhook")
    description = _l(
        "For ERPs without a connector: upload CSV or JSON exports, or let the ERP post "
        "signed JSON to the connection's webhook."
    )
    objects = OBJECTS
    settings = (
        SettingField(
            "webhook_secret",
            _l("Webhook secret (leave empty to turn the webhook off)"),
            secret=True,
            required=False,
        ),
    )

    def check(self, settings: dict[str, str]) -> None:
        """Nothing to reach; a webhook secret must be long enough when set."""
        secret = settings.get("webhook_secret") or ""
        if secret and len(secret) < 16:
            raise ConnectorError(
                _("The webhook secret must have at least 16 characters."), retryable=False
            )

    def pull(
        self, settings: dict[str, str], object_key: str, cursor: str | None, limit: int
    ) -> Page:
        """Inbox records of ``object_key`` received after ``cursor``, oldest first."""
        connection_id = uuid.UUID(settings["_connection_id"])
        stmt = (
            select(InboxRecord)
            .where(InboxRecord.connection_id == connection_id, InboxRecord.object_key == object_key)
            .order_by(InboxRecord.id)
            .limit(limit + 1)
        )
        if cursor:
            stmt = stmt.where(InboxRecord.id > uuid.UUID(cursor))
        rows = list(db.session.scalars(stmt))
        more = len(rows) > limit
        rows = rows[:limit]
        records = [
            ExternalRecord(
                external_id=row.external_id,
                data=dict(row.data or {}),
                updated_at=row.updated_at,
                deleted=row.deleted,
                lineage={"system": "file", "origin": row.origin, "inbox_id": str(row.id)},
            )
            for row in rows
        ]
        return Page(records, str(rows[-1].id) if rows else cursor, more)

    def push(
        self,
        settings: dict[str, str],
        object_key: str,
        external_id: str | None,
        data: dict[str, Any],
    ) -> str:
        """Drops only come in."""
        raise ConnectorError(_("The file connector cannot send records."), retryable=False)


# --------------------------------------------------------------------------- drops


@dataclass
class Drop:
    """A checked drop: its records (object key, external record) or its errors per line."""

    records: list[tuple[str, ExternalRecord]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def error(self, where: str, message: str) -> None:
        """Add an error (at most ``MAX_ERRORS`` are kept)."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{where}: {message}")
        elif len(self.errors) == MAX_ERRORS:
            self.errors.append(_("... and more errors."))


def _when(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text_value = str(value or "").strip().lower()
    if text_value in ("", "0", "false", "no", "n"):
        return False
    if text_value in ("1", "true", "yes", "y"):
        return True
    raise ValueError(text_value)


def _check_one(
    drop: Drop,
    where: str,
    object_key: Any,
    raw_id: Any,
    updated: Any,
    deleted: Any,
    data: Any,
    seen: dict[tuple[str, str], str],
) -> None:
    obj = next((o for o in OBJECTS if o.key == object_key), None)
    if obj is None:
        drop.error(
            where,
            _(
                "unknown object %(name)s (use one of: %(known)s)",
                name=repr(object_key),
                known=", ".join(OBJECT_KEYS),
            ),
        )
        return
    external_id = str(raw_id if raw_id is not None else "").strip()
    if not external_id:
        drop.error(where, _("external_id is missing"))
        return
    if len(external_id) > 200:
        drop.error(where, _("external_id is longer than 200 characters"))
        return
    if (obj.key, external_id) in seen:
        drop.error(
            where,
            _(
                "duplicate external_id %(id)s (also at %(other)s)",
                id=external_id,
                other=seen[(obj.key, external_id)],
            ),
        )
        return
    seen[(obj.key, external_id)] = where
    try:
        when = _when(updated)
    except ValueError:
        drop.error(where, _("updated_at is not a date and time: %(value)s", value=updated))
        return
    try:
        gone = _flag(deleted)
    except ValueError:
        drop.error(where, _("deleted must be true or false"))
        return
    if not isinstance(data, dict):
        drop.error(where, _("data must be an object"))
        return
    known = {f.external for f in obj.fields}
    unknown = sorted(set(data) - known)
    if unknown:
        drop.error(
            where,
            _(
                "unknown field(s) %(names)s for %(object)s",
                names=", ".join(unknown),
                object=obj.key,
            ),
        )
        return
    if "lines" in data and data["lines"] not in (None, "") and not isinstance(data["lines"], list):
        drop.error(where, _("lines must be a list"))
        return
    drop.records.append((obj.key, ExternalRecord(external_id, data, when, gone)))


def read_json(body: bytes, *, limit: int = MAX_BYTES) -> Drop:
    """Check a JSON drop: ``{"records": [...]}`` or ``[...]`` of ``{"object", "external_id",
    "updated_at", "deleted", "data"}``."""
    drop = Drop()
    if len(body) > limit:
        drop.error(_("file"), _("larger than %(num)d KB", num=limit // 1024))
        return drop
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        drop.error(_("file"), _("not valid JSON (%(error)s)", error=str(exc)))
        return drop
    items = parsed.get("records") if isinstance(parsed, dict) else parsed
    if not isinstance(items, list):
        drop.error(_("file"), _('expected a list of records or {"records": [...]}'))
        return drop
    if len(items) > MAX_RECORDS:
        drop.error(_("file"), _("more than %(num)d records", num=MAX_RECORDS))
        return drop
    seen: dict[tuple[str, str], str] = {}
    for i, item in enumerate(items, start=1):
        where = _("record %(num)d", num=i)
        if not isinstance(item, dict):
            drop.error(where, _("not an object"))
            continue
        _check_one(
            drop,
            where,
            item.get("object"),
            item.get("external_id"),
            item.get("updated_at"),
            item.get("deleted"),
            item.get("data", {}),
            seen,
        )
    return drop


def read_csv(body: bytes, object_key: str, *, limit: int = MAX_BYTES) -> Drop:
    """Check a CSV drop of one object: a header row with ``external_id`` (optionally
    ``updated_at`` and ``deleted``) and the object's fields; ``lines`` as JSON text."""
    drop = Drop()
    if len(body) > limit:
        drop.error(_("file"), _("larger than %(num)d KB", num=limit // 1024))
        return drop
    try:
        text_value = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        drop.error(_("file"), _("not UTF-8 text"))
        return drop
    reader = csv.DictReader(io.StringIO(text_value))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "external_id" not in header:
        drop.error(_("line 1"), _("the header needs an external_id column"))
        return drop
    obj = next((o for o in OBJECTS if o.key == object_key), None)
    if obj is None:
        drop.error(_("file"), _("unknown object %(name)s", name=repr(object_key)))
        return drop
    unknown = sorted(set(header) - set(RESERVED) - {f.external for f in obj.fields})
    if unknown:
        drop.error(
            _("line 1"),
            _(
                "unknown column(s) %(names)s for %(object)s",
                names=", ".join(unknown),
                object=obj.key,
            ),
        )
        return drop
    seen: dict[tuple[str, str], str] = {}
    count = 0
    try:
        for row in reader:
            count += 1
            where = _("line %(num)d", num=reader.line_num)
            if count > MAX_RECORDS:
                drop.error(_("file"), _("more than %(num)d records", num=MAX_RECORDS))
                break
            if None in row:
                drop.error(where, _("more cells than header columns"))
                continue
            values = {(k or "").strip(): (v if v != "" else None) for k, v in row.items()}
            data = {k: v for k, v in values.items() if k not in RESERVED}
            if data.get("lines"):
                try:
                    data["lines"] = json.loads(data["lines"])
                except json.JSONDecodeError:
                    drop.error(where, _("lines must be a JSON list"))
                    continue
            _check_one(
                drop,
                where,
                obj.key,
                values.get("external_id"),
                values.get("updated_at"),
                values.get("deleted"),
                data,
                seen,
            )
    except csv.Error as exc:
        drop.error(_("file"), _("not valid CSV (%(error)s)", error=str(exc)))
    return drop


def store(connection_id: uuid.UUID, drop: Drop, origin: str) -> int:
    """Put a checked drop's records into the connection's inbox; their number. Caller commits."""
    rows = [
        InboxRecord(
            connection_id=connection_id,
            object_key=key,
            external_id=record.external_id,
            data=record.data,
            updated_at=record.updated_at,
            deleted=record.deleted,
            origin=origin,
        )
        for key, record in drop.records
    ]
    db.session.add_all(rows)
    db.session.flush()
    return len(rows)


# --------------------------------------------------------------------------- signatures


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-CRM-Signature`` value an ERP sends with ``body`` (for senders and tests)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def verify_signature(
    secret: str, header: str | None, body: bytes, *, tolerance: int = TOLERANCE
) -> str | None:
    """``None`` when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds;
    else why not (for the log; the sender only gets 401)."""
    if not header:
        return "missing signature"
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _sep, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return "bad timestamp"
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return "malformed signature"
    if abs(time.time() - timestamp) > tolerance:
        return "stale timestamp"
    expected = compute_signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        return "signature mismatch"
    return None
