"""Pushing CRM records to the ERP: a won deal becomes a sale quotation (its account first
becomes a party when the ledger does not know it yet).

The data handed to ``Connector.push`` is keyed by the object's external field names (the
mapping reversed); references are the other objects' external ids, read from the ledger.
A push is idempotent: the ledger keeps (object, external id) -> the deal, so pushing the
same deal again updates the quotation only when its content changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import Account, db, require_tenant, utcnow

from . import sfa_bridge
from .connector import ConnectorError
from .engine import RunContext
from .models import DeadLetter, LedgerEntry
from .registry import EffectiveObject, objects_of

ACCOUNT_FIELDS = ("name", "email", "phone", "website", "industry", "address", "region", "notes")


def quote_object(objects: list[EffectiveObject]) -> EffectiveObject | None:
    """The object a won deal goes to: crm kind ``quote``, else key ``sale``, going out."""
    out = [o for o in objects if o.pushes]
    return next((o for o in out if o.crm_kind == "quote"), None) or next(
        (o for o in out if o.key == "sale"), None
    )


def party_object(objects: list[EffectiveObject]) -> EffectiveObject | None:
    """The object accounts go out as (crm kind ``account``, direction out/both)."""
    return next((o for o in objects if o.pushes and o.crm_kind == "account"), None)


def _ledger(ctx: RunContext, **where: Any) -> LedgerEntry | None:
    stmt = select(LedgerEntry).where(LedgerEntry.connection_id == ctx.connection.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(LedgerEntry, name) == value)
    return db.session.scalars(stmt).first()


def _outgoing(obj: EffectiveObject, values: dict[str, Any]) -> dict[str, Any]:
    """CRM values keyed by the object's external names (fields the CRM lacks left out)."""
    return {fm.external: values[fm.crm] for fm in obj.fields if fm.crm in values}


def _digest(data: dict[str, Any]) -> str:
    raw = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _lineage(ctx: RunContext, obj: EffectiveObject, **extra: str) -> dict[str, str]:
    return {
        "source": "crm",
        "connection": ctx.connection.name,
        "object": obj.key,
        "run": str(ctx.run.id),
        **extra,
    }


def ensure_party(ctx: RunContext, objects: list[EffectiveObject], account_id: uuid.UUID) -> str:
    """The external id of the account's party, pushing the account first when needed."""
    entry = _ledger(ctx, crm_kind="account", crm_id=account_id)
    if entry is not None:
        return entry.external_id
    obj = party_object(objects)
    if obj is None:
        raise ConnectorError(
            _("The account has never been synced and this connector cannot create parties."),
            retryable=False,
        )
    account = db.session.get(Account, (require_tenant().id, account_id))
    if account is None:
        raise ConnectorError(_("The deal's account no longer exists."), retryable=False)
    data = _outgoing(obj, {n: getattr(account, n) for n in ACCOUNT_FIELDS})
    external_id = ctx.connector.push(ctx.settings, obj.key, None, data)
    db.session.add(
        LedgerEntry(
            connection_id=ctx.connection.id,
            object_key=obj.key,
            external_id=str(external_id),
            crm_kind="account",
            crm_id=account.id,
            content_hash="",  # the next pull of the party records its content
            snapshot={k: v for k, v in data.items() if isinstance(v, str | int | float | None)},
            lineage=_lineage(ctx, obj, account_id=str(account.id)),
            state="pushed",
            last_synced_at=utcnow(),
        )
    )
    db.session.flush()
    ctx.run.pushed += 1
    return str(external_id)


def quotation_values(ctx: RunContext, deal: Any, party: str) -> dict[str, Any]:
    """The CRM values of the quotation for ``deal``: account, lines, total, currency."""
    lines = []
    for line in sfa_bridge.deal_lines(deal.id):
        product_ext = None
        if line["product_id"] is not None:
            entry = _ledger(ctx, crm_kind="product", crm_id=line["product_id"])
            product_ext = entry.external_id if entry is not None else None
        lines.append(
            {
                "product": product_ext,
                "name": line["name"],
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
            }
        )
    if not lines:
        lines = [
            {"product": None, "name": deal.name, "quantity": "1", "unit_price": str(deal.amount)}
        ]
    return {
        "account": party,
        "number": f"CRM-{deal.id.hex[-8:].upper()}",
        "description": deal.name,
        "currency": deal.currency,
        "total": str(deal.amount),
        "lines": lines,
        "date": (deal.closed_at or utcnow()).date().isoformat(),
    }


def push_deal(ctx: RunContext, deal_id: uuid.UUID, *, letter: DeadLetter | None = None) -> str:
    """Push the won deal ``deal_id`` as a sale quotation; "pushed" or "unchanged".

    A refusal of the ERP that retrying cannot fix (no party object, validation) becomes a
    dead letter (or updates ``letter``); an unreachable ERP raises ``ConnectorError``.
    """
    objects = objects_of(ctx.connection, ctx.connector)
    obj = quote_object(objects)
    if obj is None:
        return "unchanged"
    deal = sfa_bridge.deal(deal_id) if sfa_bridge.sales_on() else None
    try:
        if deal is None:
            raise ConnectorError(_("The deal no longer exists."), retryable=False)
        if deal.account_id is None:
            raise ConnectorError(_("The deal has no account to quote."), retryable=False)
        party = ensure_party(ctx, objects, deal.account_id)
        data = _outgoing(obj, quotation_values(ctx, deal, party))
        digest = _digest(data)
        entry = _ledger(ctx, object_key=obj.key, crm_kind="deal", crm_id=deal.id)
        if entry is not None and entry.content_hash == digest:
            _resolve(letter)
            return "unchanged"
        external_id = ctx.connector.push(
            ctx.settings, obj.key, entry.external_id if entry else None, data
        )
    except ConnectorError as exc:
        if exc.retryable:
            raise
        _letter(ctx, obj, deal_id, exc.message, letter)
        return "failed"
    if entry is None:
        entry = LedgerEntry(
            connection_id=ctx.connection.id,
            object_key=obj.key,
            external_id=str(external_id),
            crm_kind="deal",
            crm_id=deal.id,
        )
        db.session.add(entry)
    entry.content_hash, entry.state, entry.last_synced_at = digest, "pushed", utcnow()
    entry.snapshot = {"description": deal.name, "total": str(deal.amount)}
    entry.lineage = _lineage(ctx, obj, deal_id=str(deal.id))
    db.session.flush()
    ctx.run.pushed += 1
    _resolve(letter)
    return "pushed"


def _resolve(letter: DeadLetter | None) -> None:
    if letter is not None:
        letter.status, letter.resolved_at = "resolved", utcnow()


def _letter(
    ctx: RunContext, obj: EffectiveObject, deal_id: uuid.UUID, error: str, letter: DeadLetter | None
) -> None:
    ctx.run.failed += 1
    if letter is not None:
        letter.error = error
        return
    db.session.add(
        DeadLetter(
            connection_id=ctx.connection.id,
            run_id=ctx.run.id,
            object_key=obj.key,
            external_id=f"deal:{deal_id}",
            direction="out",
            payload={"deal_id": str(deal_id)},
            error=error,
        )
    )
