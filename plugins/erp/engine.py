"""The sync engine: pull pages from a connector, apply them to the CRM through the sync ledger.

One run syncs every object of a connection that comes in (``in``/``both``), in dependency
order (accounts before the orders that name them). Per object it pulls pages from the stored
cursor and commits after each page together with the new cursor, so an ERP that fails half
way leaves every committed page in place and nothing of the failing one. Each record is
applied in a savepoint: a record that fails (bad value, unknown reference) becomes a dead
letter and the rest of the page commits.

Applying a record: the content hash (the record's data, its deleted flag and the mapping)
equal to the ledger's means nothing to do and nothing is written. Otherwise the mapped
values are merged with the CRM record field by field under the field's policy:

* ``erp_wins``: the ERP's value;
* ``crm_wins``: the CRM's value once the record exists (the ERP's only fills an empty field);
* ``newest_wins``: the ERP's value unless the CRM changed the field since the last sync
  (its value differs from the ledger's snapshot) and the CRM record's ``updated_at`` is
  later than the ERP record's ``updated_at``.

A record deleted upstream is marked ``deleted`` in the ledger and counted; CRM data is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    ORDER_STATUSES,
    Account,
    Contact,
    Order,
    ValidationFailed,
    audit_record,
    clean_text,
    create_order,
    create_record,
    db,
    emit_event,
    require_tenant,
    set_progress,
    update_order,
    update_record,
    utcnow,
)

from . import sfa_bridge
from .connector import Connector, ConnectorError, ExternalRecord
from .models import Connection, DeadLetter, Invoice, LedgerEntry, SyncCursor, SyncRun
from .registry import REF_FIELDS, EffectiveObject, get_connector, objects_of, runtime_settings

log = logging.getLogger(__name__)
PAGE_SIZE = 500
MAX_EXTERNAL_ID = 200
MAX_LOG_LINES = 200
NOT_YET_ORDERS = ("quotation", "draft")
INVOICE_STATES = ("draft", "open", "paid", "cancelled")


class RecordError(Exception):
    """A record that cannot be applied (becomes a dead letter with this message)."""


# --------------------------------------------------------------------------- helpers


def content_hash(record: ExternalRecord, obj: EffectiveObject) -> str:
    """The hash that decides whether a record changed since the last sync."""
    raw = json.dumps(
        {"d": record.data, "x": record.deleted, "m": obj.fingerprint()},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def record_to_json(record: ExternalRecord) -> dict[str, Any]:
    """A record as stored in a dead letter."""
    return {
        "external_id": record.external_id,
        "data": record.data,
        "updated_at": record.updated_at.isoformat() if record.updated_at else None,
        "deleted": record.deleted,
        "lineage": record.lineage,
    }


def record_from_json(payload: dict[str, Any]) -> ExternalRecord:
    """The record a dead letter holds."""
    when = payload.get("updated_at")
    return ExternalRecord(
        external_id=str(payload["external_id"]),
        data=dict(payload.get("data") or {}),
        updated_at=datetime.fromisoformat(when) if when else None,
        deleted=bool(payload.get("deleted")),
        lineage=payload.get("lineage"),
    )


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _same(a: Any, b: Any) -> bool:
    """Loose equality of a CRM value and a mapped value (numbers as decimals, text trimmed)."""
    a, b = _jsonable(a), _jsonable(b)
    if a in (None, "") and b in (None, ""):
        return True
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, ValueError):
        return str(a).strip() == str(b).strip()


def _money(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value if value not in (None, "") else "0").replace(",", ""))
    except InvalidOperation as exc:
        raise RecordError(
            _("%(field)s is not a number: %(value)s", field=name, value=value)
        ) from exc
    if not number.is_finite():
        raise RecordError(_("%(field)s is not a number: %(value)s", field=name, value=value))
    return number.quantize(Decimal("0.01"))


def _day(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise RecordError(_("%(field)s is not a date: %(value)s", field=name, value=value)) from exc


def _errors_text(exc: ValidationFailed) -> str:
    errors = getattr(exc, "errors", None) or {}
    if not errors:
        return str(exc)
    return "; ".join(f"{k}: {v}" for k, v in errors.items())


# --------------------------------------------------------------------------- the run


@dataclass
class RunContext:
    """What one run keeps between records: counters, caches of references, its log."""

    connection: Connection
    connector: Connector
    run: SyncRun
    settings: dict[str, str]
    refs: dict[tuple[str, str], uuid.UUID | None] = field(default_factory=dict)
    notes: set[str] = field(default_factory=set)
    page_size: int = PAGE_SIZE

    def note(self, line: str) -> None:
        """Add a line to the run's log once."""
        if line in self.notes:
            return
        self.notes.add(line)
        entries = list(self.run.log or [])
        if len(entries) < MAX_LOG_LINES:
            entries.append(line)
            self.run.log = entries


def start_run(connection: Connection, trigger: str = "manual") -> SyncRun:
    """Add a queued run for ``connection`` and queue its job when the transaction commits."""
    from .jobs import sync_connection

    run = SyncRun(connection_id=connection.id, trigger=trigger, status="queued", log=[])
    db.session.add(run)
    db.session.flush()
    sync_connection.enqueue_after_commit(str(run.id))
    return run


def active_run(connection: Connection) -> SyncRun | None:
    """The connection's queued or running run, if any."""
    stmt = (
        select(SyncRun)
        .where(SyncRun.connection_id == connection.id, SyncRun.status.in_(("queued", "running")))
        .order_by(SyncRun.created_at.desc())
    )
    return db.session.scalars(stmt).first()


def execute_run(run: SyncRun, *, page_size: int = PAGE_SIZE) -> SyncRun:
    """Run a sync now, in this process: pull every incoming object, commit per page.

    Raises ``ConnectorError`` (after marking the run failed and committing that) when the
    ERP is unreachable, so a job wrapper can retry.
    """
    connection = db.session.get(Connection, (require_tenant().id, run.connection_id))
    connector = get_connector(connection.connector_key) if connection else None
    run.status, run.started_at, run.finished_at = "running", utcnow(), None
    run.attempts = (run.attempts or 0) + 1
    run.message = None
    if connection is None or connector is None:
        return _finish(
            run, connection, "failed", _("The connector of this connection is not installed.")
        )
    ctx = RunContext(connection, connector, run, runtime_settings(connection))
    ctx.page_size = page_size
    objects = [o for o in objects_of(connection, connector) if o.pulls]
    run.progress_total, run.progress_done = max(1, len(objects)) * 1000, 0
    db.session.commit()
    try:
        for index, obj in enumerate(objects):
            _pull_object(ctx, obj, index)
    except Exception as exc:  # the ERP (or a connector's bug): fail the run, keep pages
        db.session.rollback()
        if isinstance(exc, ConnectorError):
            message = _("The ERP failed: %(error)s", error=exc.message)
        else:
            log.exception("erp: connector %s failed", connector.key)
            message = _("The connector failed: %(error)s", error=f"{type(exc).__name__}: {exc}")
        tenant_id, run_id, connection_id = run.tenant_id, run.id, run.connection_id
        run = db.session.get(SyncRun, (tenant_id, run_id))
        connection = db.session.get(Connection, (tenant_id, connection_id))
        _finish(run, connection, "failed", message[:2000])
        db.session.commit()
        raise
    status = "partial" if run.failed else "succeeded"
    message = _(
        "%(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(deleted)d "
        "deleted upstream, %(failed)d failed.",
        created=run.created,
        updated=run.updated,
        unchanged=run.unchanged,
        deleted=run.deleted,
        failed=run.failed,
    )
    _finish(run, connection, status, message)
    db.session.commit()
    return run


def _finish(run: SyncRun, connection: Connection | None, status: str, message: str) -> SyncRun:
    run.status, run.message, run.finished_at = status, message, utcnow()
    run.progress_done = run.progress_total
    if connection is not None:
        connection.last_run_at, connection.last_status = run.finished_at, status
        audit_record(
            f"erp.sync_{'failed' if status == 'failed' else 'finished'}",
            target=connection.name,
            details={"run": str(run.id), "status": status, "message": message},
        )
        emit_event(
            "erp.sync_failed" if status == "failed" else "erp.sync_finished",
            record_id=run.id,
            data={
                "connection": connection.name,
                "status": status,
                "created": run.created,
                "updated": run.updated,
                "failed": run.failed,
            },
        )
    return run


def _pull_object(ctx: RunContext, obj: EffectiveObject, index: int) -> None:
    cursor_row = db.session.scalars(
        select(SyncCursor).where(
            SyncCursor.connection_id == ctx.connection.id, SyncCursor.object_key == obj.key
        )
    ).first()
    if cursor_row is None:
        cursor_row = SyncCursor(connection_id=ctx.connection.id, object_key=obj.key)
        db.session.add(cursor_row)
        db.session.commit()  # a page rolled back must not take the cursor row with it
    pages = 0
    while True:
        page = ctx.connector.pull(ctx.settings, obj.key, cursor_row.cursor, ctx.page_size)
        apply_page(ctx, obj, page.records)
        cursor_row.cursor = page.cursor
        pages += 1
        ctx.run.progress_done = index * 1000 + min(950, pages * 100)
        db.session.commit()  # the page, its ledger rows, dead letters and the cursor
        set_progress(ctx.run.progress_done, ctx.run.progress_total, obj.label)
        if not page.more or not page.records:
            break
    ctx.run.progress_done = (index + 1) * 1000


def apply_page(ctx: RunContext, obj: EffectiveObject, records: list[ExternalRecord]) -> None:
    """Apply one page of records; a record that fails becomes a dead letter.

    The fast way first: every writer validates before it writes, so a refused record leaves
    nothing behind and needs no savepoint. Should anything else go wrong (a database error),
    the page is rolled back and applied again record by record in savepoints, so that one
    record cannot sink the others.
    """
    if not records:
        return
    refs, notes, log_lines = dict(ctx.refs), set(ctx.notes), list(ctx.run.log or [])
    try:
        with db.session.no_autoflush:
            _apply(ctx, obj, records, safe=False)
    except (RecordError, ValidationFailed, ValueError, ConnectorError):
        raise
    except Exception:
        log.warning("erp: page of %s failed, applying it record by record", obj.key, exc_info=True)
        db.session.rollback()
        ctx.refs, ctx.notes = refs, notes
        ctx.run.log = log_lines
        _apply(ctx, obj, records, safe=True)


def _apply(
    ctx: RunContext, obj: EffectiveObject, records: list[ExternalRecord], *, safe: bool
) -> None:
    ids = list({r.external_id for r in records})
    ledger = {
        e.external_id: e
        for e in db.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.connection_id == ctx.connection.id,
                LedgerEntry.object_key == obj.key,
                LedgerEntry.external_id.in_(ids),
            )
        )
    }
    _preload_refs(ctx, obj, records)
    open_letters = set(
        db.session.scalars(
            select(DeadLetter.external_id).where(
                DeadLetter.connection_id == ctx.connection.id,
                DeadLetter.object_key == obj.key,
                DeadLetter.status == "open",
                DeadLetter.external_id.in_(ids),
            )
        )
    )
    retry_waiting = obj.crm_kind == "product" and sfa_bridge.sales_on()
    new_entries: list[LedgerEntry] = []
    for record in records:
        if not record.external_id or len(record.external_id) > MAX_EXTERNAL_ID:
            dead_letter(ctx, obj, record, _("The external id is empty or too long."))
            continue
        entry = ledger.get(record.external_id)
        digest = content_hash(record, obj)
        if (
            entry is not None
            and entry.content_hash == digest
            and not (entry.state == "waiting" and retry_waiting)
        ):
            ctx.run.unchanged += 1
            continue
        try:
            if safe:
                with db.session.begin_nested():
                    outcome, entry = apply_record(ctx, obj, record, entry, digest)
                    if entry not in db.session:
                        db.session.add(entry)
            else:
                outcome, fresh = apply_record(ctx, obj, record, entry, digest)
                if entry is None:
                    new_entries.append(fresh)
                entry = fresh
        except (RecordError, ValidationFailed, ValueError) as exc:
            message = _errors_text(exc) if isinstance(exc, ValidationFailed) else str(exc)
            dead_letter(ctx, obj, record, message)
            continue
        except Exception as exc:
            if not safe:
                raise
            log.exception("erp: record %s %s failed", obj.key, record.external_id)
            dead_letter(ctx, obj, record, _("Unexpected error: %(error)s", error=str(exc)[:500]))
            continue
        ledger[record.external_id] = entry
        setattr(ctx.run, outcome, getattr(ctx.run, outcome) + 1)
        if record.external_id in open_letters:
            _supersede(ctx.connection.id, obj.key, record.external_id)
    if new_entries:
        db.session.add_all(new_entries)


def _supersede(connection_id: uuid.UUID, object_key: str, external_id: str) -> None:
    """A newer version of a failed record applied: its open dead letter is resolved."""
    for letter in db.session.scalars(
        select(DeadLetter).where(
            DeadLetter.connection_id == connection_id,
            DeadLetter.object_key == object_key,
            DeadLetter.external_id == external_id,
            DeadLetter.status == "open",
        )
    ):
        letter.status, letter.resolved_at = "resolved", utcnow()
        letter.error = letter.error + " " + _("(Resolved by a newer version from the ERP.)")


def dead_letter(ctx: RunContext, obj: EffectiveObject, record: ExternalRecord, error: str) -> None:
    """Keep a failed record (one open letter per record: a new failure bumps its attempts)."""
    ctx.run.failed += 1
    existing = db.session.scalars(
        select(DeadLetter).where(
            DeadLetter.connection_id == ctx.connection.id,
            DeadLetter.object_key == obj.key,
            DeadLetter.external_id == record.external_id[:MAX_EXTERNAL_ID],
            DeadLetter.status == "open",
        )
    ).first()
    if existing is not None:
        existing.payload, existing.error = record_to_json(record), error
        existing.attempts += 1
        existing.last_attempt_at, existing.run_id = utcnow(), ctx.run.id
        return
    db.session.add(
        DeadLetter(
            connection_id=ctx.connection.id,
            run_id=ctx.run.id,
            object_key=obj.key,
            external_id=record.external_id[:MAX_EXTERNAL_ID] or "?",
            payload=record_to_json(record),
            error=error,
        )
    )


def _preload_refs(ctx: RunContext, obj: EffectiveObject, records: list[ExternalRecord]) -> None:
    refs = REF_FIELDS.get(obj.crm_kind, {})
    for fm in obj.fields:
        kind = refs.get(fm.crm)
        if kind is None:
            continue
        wanted = {
            str(r.data[fm.external])
            for r in records
            if r.data.get(fm.external) not in (None, "")
            and (kind, str(r.data[fm.external])) not in ctx.refs
        }
        if not wanted:
            continue
        stmt = select(LedgerEntry.external_id, LedgerEntry.crm_id).where(
            LedgerEntry.connection_id == ctx.connection.id,
            LedgerEntry.crm_kind == kind,
            LedgerEntry.external_id.in_(wanted),
        )
        for ext, crm_id in db.session.execute(stmt):
            if crm_id is not None:
                ctx.refs[(kind, ext)] = crm_id


def resolve_ref(
    ctx: RunContext, kind: str, external_id: Any, *, required: bool = True
) -> uuid.UUID | None:
    """The CRM id of the ``kind`` record synced as ``external_id`` (through the ledger)."""
    if external_id in (None, ""):
        return None
    key = (kind, str(external_id))
    if key not in ctx.refs:
        stmt = select(LedgerEntry.crm_id).where(
            LedgerEntry.connection_id == ctx.connection.id,
            LedgerEntry.crm_kind == kind,
            LedgerEntry.external_id == str(external_id),
            LedgerEntry.crm_id.is_not(None),
        )
        found = db.session.scalars(stmt).first()
        if found is not None:
            ctx.refs[key] = found
    crm_id = ctx.refs.get(key)
    if crm_id is None and required:
        raise RecordError(
            _("Refers to %(kind)s %(id)s, which has not been synced.", kind=kind, id=external_id)
        )
    return crm_id


# --------------------------------------------------------------------------- one record


def mapped_values(obj: EffectiveObject, record: ExternalRecord) -> dict[str, Any]:
    """The record's values by CRM field name (fields the record lacks are left out)."""
    return {fm.crm: record.data[fm.external] for fm in obj.fields if fm.external in record.data}


def merge(
    obj: EffectiveObject,
    record: ExternalRecord,
    incoming: dict[str, Any],
    current: dict[str, Any] | None,
    entry: LedgerEntry | None,
    crm_updated_at: datetime | None,
) -> dict[str, Any]:
    """The values to write: ``incoming`` filtered by each field's conflict policy.

    ``current`` holds the CRM record's values (``None`` when it is about to be created).
    """
    if current is None:
        return dict(incoming)
    policies = {fm.crm: fm.policy for fm in obj.fields}
    snapshot = (entry.snapshot or {}) if entry is not None else {}
    erp_time, crm_time = _aware(record.updated_at), _aware(crm_updated_at)
    out: dict[str, Any] = {}
    for name, value in incoming.items():
        policy = policies.get(name, "erp_wins")
        mine = current.get(name)
        if policy == "crm_wins":
            if mine in (None, ""):
                out[name] = value
            continue
        if policy == "newest_wins":
            crm_changed = name in snapshot and not _same(mine, snapshot.get(name))
            if crm_changed and crm_time and (erp_time is None or crm_time > erp_time):
                continue
        out[name] = value
    return out


def apply_record(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry | None,
    digest: str,
) -> tuple[str, LedgerEntry]:
    """Apply one changed record; (the counter to bump, its ledger entry).

    A new entry is returned unsaved (the caller adds it). A record that cannot be applied
    raises before anything is written, the existing entry left as it was.
    """
    now = utcnow()
    if entry is None:
        entry = LedgerEntry(
            connection_id=ctx.connection.id,
            object_key=obj.key,
            external_id=record.external_id,
            crm_kind=obj.crm_kind,
            state="synced",
            snapshot={},
            lineage={},
        )
    lineage = dict(record.lineage or {})
    lineage.update(
        {
            "source": ctx.connector.key,
            "connection": ctx.connection.name,
            "object": obj.key,
            "run": str(ctx.run.id),
        }
    )
    if record.deleted:
        outcome = "deleted"
        if entry.state != "deleted":
            entry.state, entry.deleted_upstream_at = "deleted", now
            ctx.note(
                _(
                    "%(object)s %(id)s was deleted in the ERP; the CRM record is kept.",
                    object=obj.label,
                    id=record.external_id,
                )
            )
    else:
        writer = WRITERS.get(obj.crm_kind)
        if writer is None:
            raise RecordError(_("The CRM cannot take %(kind)s records.", kind=obj.crm_kind))
        incoming = mapped_values(obj, record)
        if obj.overridden and len(incoming) < len(obj.fields):  # the tenant's own mapping
            for name in sorted(fm.external for fm in obj.fields if fm.external not in record.data):
                ctx.note(
                    _(
                        "%(object)s: records without the mapped field %(name)s keep the "
                        "CRM's value.",
                        object=obj.label,
                        name=name,
                    )
                )
        outcome = writer(ctx, obj, record, entry, incoming)
        entry.deleted_upstream_at = None
        if outcome != "waiting":
            entry.state = "synced"
        else:  # not a CRM record yet (a quotation; a product while Sales is off)
            outcome = "unchanged"
            entry.state = "pushed" if entry.crm_kind == "deal" else "waiting"
        entry.snapshot = {k: _jsonable(v) for k, v in incoming.items() if k != "lines"}
    if entry.lineage and entry.lineage.get("deal_id"):
        lineage["deal_id"] = entry.lineage["deal_id"]
    entry.lineage = lineage
    entry.content_hash = digest
    entry.external_updated_at = _aware(record.updated_at)
    entry.last_synced_at = now
    return outcome, entry


# --------------------------------------------------------------------------- writers

#: The account and contact fields a sync may write (validated by the records service).
ACCOUNT_FIELDS = ("name", "email", "phone", "website", "industry", "address", "region", "notes")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "title", "address")


def _current(record: Any, names: list[str]) -> dict[str, Any]:
    return {n: getattr(record, n, None) for n in names}


def _live(model: Any, crm_id: uuid.UUID | None) -> Any:
    if crm_id is None:
        return None
    found = db.session.get(model, (require_tenant().id, crm_id))
    return found if found is not None and getattr(found, "deleted_at", None) is None else None


def write_account(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry,
    incoming: dict[str, Any],
) -> str:
    """Create or update the CRM account of a party."""
    values = {k: v for k, v in incoming.items() if k in ACCOUNT_FIELDS}
    account = _live(Account, entry.crm_id)
    if account is None:
        if not values.get("name"):
            raise RecordError(_("The party has no name."))
        account = create_record("account", {**values, "source": "other"})
        entry.crm_id = account.id
        ctx.refs[("account", record.external_id)] = account.id
        return "created"
    merged = merge(obj, record, values, _current(account, list(values)), entry, account.updated_at)
    return "updated" if update_record(account, merged, source="erp") else "unchanged"


def write_contact(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry,
    incoming: dict[str, Any],
) -> str:
    """Create or update a CRM contact (its account through the ledger)."""
    values = {k: v for k, v in incoming.items() if k in CONTACT_FIELDS}
    if "account" in incoming:
        values["account_id"] = resolve_ref(ctx, "account", incoming["account"])
    contact = _live(Contact, entry.crm_id)
    if contact is None:
        if not values.get("first_name"):
            raise RecordError(_("The contact has no first name."))
        data = {**values, "source": "other"}
        if data.get("account_id"):
            data["account_id"] = str(data["account_id"])
        contact = create_record("contact", data)
        entry.crm_id = contact.id
        ctx.refs[("contact", record.external_id)] = contact.id
        return "created"
    merged = merge(obj, record, values, _current(contact, list(values)), entry, contact.updated_at)
    return "updated" if update_record(contact, merged, source="erp") else "unchanged"


def write_product(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry,
    incoming: dict[str, Any],
) -> str:
    """Create or update a product of the Sales catalogue (skipped when Sales is off)."""
    if not sfa_bridge.sales_on():
        ctx.note(_("Products were skipped: the Sales module (the product catalogue) is off."))
        return "waiting"
    values = {
        k: v
        for k, v in incoming.items()
        if k in ("code", "name", "description", "unit_price", "currency", "active")
    }
    if "unit_price" in values:
        values["unit_price"] = str(_money(values["unit_price"], "unit_price"))
    product = sfa_bridge.product_by_id(entry.crm_id) if entry.crm_id else None
    if product is None and values.get("code"):
        product = sfa_bridge.product_by_code(str(values["code"]))
    if product is None:
        product = sfa_bridge.create_product(values)
        entry.crm_id = product.id
        ctx.refs[("product", record.external_id)] = product.id
        return "created"
    current = sfa_bridge.product_values(product)
    merged = merge(
        obj, record, values, {k: current.get(k) for k in values}, entry, product.updated_at
    )
    changed = sfa_bridge.update_product(product, merged)
    entry.crm_id = product.id
    ctx.refs[("product", record.external_id)] = product.id
    return "updated" if changed else "unchanged"


def _order_lines(ctx: RunContext, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise RecordError(_("lines must be a list."))
    lines = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RecordError(_("Line %(num)d is not an object.", num=i + 1))
        sku = None
        product_ref = item.get("product")
        if product_ref not in (None, "") and sfa_bridge.sales_on():
            product_id = resolve_ref(ctx, "product", product_ref, required=False)
            product = sfa_bridge.product_by_id(product_id) if product_id else None
            sku = product.code if product is not None else None
        lines.append(
            {
                "product_name": item.get("name") or item.get("product_name") or (sku or _("Item")),
                "sku": item.get("sku") or sku,
                "quantity": item.get("quantity", 1),
                "unit_price": item.get("unit_price"),
                "discount": item.get("discount"),
                "tax": item.get("tax"),
            }
        )
    return lines


def write_order(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry,
    incoming: dict[str, Any],
) -> str:
    """Create or update a CRM order (source ``erp``); quotations wait until confirmed."""
    status = str(incoming.get("status") or "pending").strip().lower()
    if status in NOT_YET_ORDERS:
        return "waiting"
    if status not in ORDER_STATUSES:
        raise RecordError(_("Unknown order status %(status)s.", status=status))
    data: dict[str, Any] = {"status": status}
    for name in ("number", "ordered_at", "currency", "total", "notes"):
        if name in incoming:
            data[name] = incoming[name]
    if "account" in incoming:
        account_id = resolve_ref(ctx, "account", incoming["account"])
        data["account_id"] = str(account_id) if account_id else None
    if "contact" in incoming:
        contact_id = resolve_ref(ctx, "contact", incoming["contact"])
        data["contact_id"] = str(contact_id) if contact_id else None
    if "lines" in incoming:
        data["lines"] = _order_lines(ctx, incoming["lines"])
    if data.get("number") is not None:
        data["number"] = str(data["number"])
    order = (
        db.session.get(Order, (require_tenant().id, entry.crm_id))
        if entry.crm_kind == "order" and entry.crm_id
        else None
    )
    if order is None:
        ref = f"{ctx.connection.id.hex[:8]}:{obj.key}:{record.external_id}"[:100]
        order = create_order({**data, "external_ref": ref}, source="erp")
        if entry.crm_kind != "order":  # a quotation we pushed was confirmed in the ERP
            entry.lineage = {**(entry.lineage or {}), "deal_id": str(entry.crm_id)}
            entry.crm_kind = "order"
        entry.crm_id = order.id
        ctx.refs[("order", record.external_id)] = order.id
        return "created"
    current = {
        "number": order.number,
        "ordered_at": order.ordered_at,
        "status": order.status,
        "currency": order.currency,
        "total": order.total,
        "notes": order.notes,
        "account_id": str(order.account_id) if order.account_id else None,
        "contact_id": str(order.contact_id) if order.contact_id else None,
    }
    merged = merge(obj, record, data, current | {"lines": None}, entry, order.updated_at)
    if "lines" not in merged and "total" in merged and order.lines:
        merged.pop("total")
    return "updated" if update_order(order, merged) else "unchanged"


def write_invoice(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry,
    incoming: dict[str, Any],
) -> str:
    """Keep the invoice for the payment status panel; a fully paid order becomes ``paid``."""
    state = str(incoming.get("state") or "open").strip().lower()
    if state not in INVOICE_STATES:
        raise RecordError(_("Unknown invoice state %(state)s.", state=state))
    order_id = resolve_ref(ctx, "order", incoming.get("order"), required=False)
    account_id = resolve_ref(ctx, "account", incoming.get("account"), required=False)
    if account_id is None and order_id is not None:
        order = db.session.get(Order, (require_tenant().id, order_id))
        account_id = order.account_id if order else None
    if account_id is None and incoming.get("account") not in (None, ""):
        resolve_ref(ctx, "account", incoming.get("account"))  # raises: not synced
    total = _money(incoming.get("total"), "total")
    due = _money(incoming.get("amount_due", "0" if state == "paid" else total), "amount_due")
    currency = str(incoming.get("currency") or "USD").strip().upper()[:3]
    invoiced_at = _day(incoming.get("invoiced_at"), "invoiced_at")
    due_date = _day(incoming.get("due_date"), "due_date")
    number = clean_text(incoming.get("number"), 60)
    invoice = db.session.scalars(
        select(Invoice).where(
            Invoice.connection_id == ctx.connection.id, Invoice.external_id == record.external_id
        )
    ).first()
    created = invoice is None
    if invoice is None:
        invoice = Invoice(connection_id=ctx.connection.id, external_id=record.external_id)
        db.session.add(invoice)
    values = {
        "number": number,
        "account_id": account_id,
        "order_id": order_id,
        "state": state,
        "currency": currency,
        "total": total,
        "amount_due": due,
        "invoiced_at": invoiced_at,
        "due_date": due_date,
    }
    changed = [k for k, v in values.items() if getattr(invoice, k) != v]
    for name in changed:
        setattr(invoice, name, values[name])
    db.session.flush()
    entry.crm_kind, entry.crm_id = "invoice", invoice.id
    if order_id is not None:
        _order_payment(order_id)
    return "created" if created else ("updated" if changed else "unchanged")


def _order_payment(order_id: uuid.UUID) -> None:
    """A pending order whose invoices are all paid becomes ``paid``."""
    order = db.session.get(Order, (require_tenant().id, order_id))
    if order is None or order.status != "pending":
        return
    states = list(
        db.session.scalars(
            select(Invoice.state).where(Invoice.order_id == order_id, Invoice.state != "cancelled")
        )
    )
    if states and all(s == "paid" for s in states):
        update_order(order, {"status": "paid"})


def write_stock(
    ctx: RunContext,
    obj: EffectiveObject,
    record: ExternalRecord,
    entry: LedgerEntry,
    incoming: dict[str, Any],
) -> str:
    """Stock availability stays in the ledger (its snapshot), linked to the product."""
    try:
        Decimal(str(incoming.get("quantity", "0")))
    except InvalidOperation as exc:
        raise RecordError(_("quantity is not a number.")) from exc
    entry.crm_id = resolve_ref(ctx, "product", incoming.get("product"), required=False)
    return "created" if not entry.snapshot else "updated"


WRITERS: dict[str, Callable[..., str]] = {
    "account": write_account,
    "contact": write_contact,
    "product": write_product,
    "order": write_order,
    "invoice": write_invoice,
    "stock": write_stock,
}


# --------------------------------------------------------------------------- replay


def replay(letter: DeadLetter) -> tuple[bool, str]:
    """Apply a dead letter's record again (in its own run); (succeeded, message).

    A record that changed in the ERP since is applied as it is now in the letter: replay
    re-applies exactly what failed. Resolved letters are kept for the record.
    """
    connection = db.session.get(Connection, (letter.tenant_id, letter.connection_id))
    connector = get_connector(connection.connector_key) if connection else None
    if connection is None or connector is None:
        return False, _("The connector of this connection is not installed.")
    run = SyncRun(
        connection_id=connection.id, trigger="replay", status="running", log=[], started_at=utcnow()
    )
    db.session.add(run)
    db.session.flush()
    ctx = RunContext(connection, connector, run, runtime_settings(connection))
    if letter.direction == "out":
        from .push import push_deal

        try:
            push_deal(ctx, uuid.UUID(str(letter.payload.get("deal_id"))), letter=letter)
        except ConnectorError as exc:
            letter.attempts += 1
            letter.last_attempt_at, letter.error = utcnow(), exc.message
            _finish(run, connection, "failed", exc.message)
            return False, exc.message
        ok = letter.status == "resolved"
        _finish(
            run,
            connection,
            "succeeded" if ok else "partial",
            letter.error if not ok else _("Replayed."),
        )
        return ok, letter.error
    obj = next((o for o in objects_of(connection, connector) if o.key == letter.object_key), None)
    if obj is None:
        return False, _("The connector no longer has this object.")
    record = record_from_json(letter.payload)
    entry = db.session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.connection_id == connection.id,
            LedgerEntry.object_key == obj.key,
            LedgerEntry.external_id == record.external_id,
        )
    ).first()
    letter.attempts += 1
    letter.last_attempt_at = utcnow()
    try:
        with db.session.begin_nested():
            outcome, entry = apply_record(ctx, obj, record, entry, content_hash(record, obj))
            if entry not in db.session:
                db.session.add(entry)
    except (RecordError, ValidationFailed, ValueError) as exc:
        letter.error = _errors_text(exc) if isinstance(exc, ValidationFailed) else str(exc)
        run.failed = 1
        _finish(run, connection, "partial", letter.error)
        return False, letter.error
    setattr(run, outcome, getattr(run, outcome) + 1)
    letter.status, letter.resolved_at = "resolved", utcnow()
    _finish(run, connection, "succeeded", _("Replayed: %(outcome)s.", outcome=outcome))
    audit_record(
        "erp.dead_letter_replayed",
        target=connection.name,
        details={"letter": str(letter.id), "external_id": letter.external_id},
    )
    return True, outcome
