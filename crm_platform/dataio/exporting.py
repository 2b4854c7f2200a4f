"""Exporting a record list (with its filters and sort) to CSV or XLSX.

CSV streams page by page (keyset pages of the list itself, never ``OFFSET``), UTF-8 with a
byte-order mark so that Excel reads Chinese correctly; XLSX is built in memory and bounded
(``CRM_EXPORT_XLSX_MAX_ROWS``). Custom fields are columns. Every text cell that a spreadsheet
would run as a formula (starting with ``= + - @``, a tab or a carriage return) is prefixed
with ``'``; imports remove that prefix again, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from ..customers import Account
from ..extensions import db
from ..records.custom_fields import CustomField
from ..records.listing import ListState, filtered_statement, list_page
from ..records.service import FIELDS
from .reading import FORMULA_PREFIXES

BATCH = 1000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front when a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    """One exported column: its header and how a record's value is read."""

    header: str
    value: Callable[[Any, dict[Any, str]], Any]


def _attr(name: str) -> Callable[[Any, dict[Any, str]], Any]:
    return lambda record, _accounts: getattr(record, name)


def _custom(field: CustomField) -> Callable[[Any, dict[Any, str]], Any]:
    def value(record: Any, _accounts: dict[Any, str]) -> Any:
        stored = (record.custom or {}).get(field.key)
        if stored is None:
            return None
        if field.type == "checkbox":
            return "yes" if stored else None
        if isinstance(stored, list):
            return ", ".join(str(v) for v in stored)
        return stored

    return value


def columns(kind: str, fields: list[CustomField]) -> list[Column]:
    """The columns of an export of ``kind`` records (labels in the current language)."""
    from flask_babel import gettext as _

    out: list[Column] = []
    for spec in FIELDS[kind]:
        if spec.name == "owner_id":
            out.append(Column(str(spec.label), lambda r, _a: r.owner.email if r.owner else None))
        elif spec.name == "team_id":
            out.append(Column(str(spec.label), lambda r, _a: r.team.name if r.team else None))
        elif spec.name == "account_id":
            out.append(Column(str(spec.label), lambda r, a: a.get(r.account_id)))
        elif spec.name == "tags":
            out.append(Column(str(spec.label), lambda r, _a: ", ".join(r.tags or []) or None))
        else:
            out.append(Column(str(spec.label), _attr(spec.name)))
    out += [Column(f.label, _custom(f)) for f in fields]
    out.append(Column(_("Created"), _attr("created_at")))
    out.append(Column(_("Updated"), _attr("updated_at")))
    return out


def count(state: ListState, membership: Any, fields: list[CustomField]) -> int:
    """How many records the list shows (all pages)."""
    stmt = filtered_statement(state, membership, fields).order_by(None)
    return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def batches(
    state: ListState, membership: Any, fields: list[CustomField]
) -> Iterator[tuple[list[Any], dict[Any, str]]]:
    """The list's records in its order, a page at a time, with the names of their accounts."""
    state = replace(state, after="")
    while True:
        page = list_page(state, membership, fields, size=BATCH)
        accounts: dict[Any, str] = {}
        ids = {r.account_id for r in page.rows if getattr(r, "account_id", None)}
        if ids:
            stmt = select(Account.id, Account.name).where(Account.id.in_(ids))
            accounts = {aid: name for aid, name in db.session.execute(stmt)}
        yield page.rows, accounts
        if not page.next_cursor:
            return
        state = replace(state, after=page.next_cursor)


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _naive_utc(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int | float):
        return value
    return safe_cell(str(value))


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


def csv_chunks(
    kind: str, state: ListState, membership: Any, fields: list[CustomField]
) -> Iterator[str]:
    """The CSV export, a page of records per chunk (starting with a byte-order mark)."""
    cols = columns(kind, fields)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([safe_cell(c.header) for c in cols])
    for rows, accounts in batches(state, membership, fields):
        for record in rows:
            writer.writerow([_text(c.value(record, accounts)) for c in cols])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


_ILLEGAL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _naive_utc(value)
    if isinstance(value, bool):
        return "yes" if value else None
    if isinstance(value, int | float | date):
        return value
    return safe_cell(str(value).translate(_ILLEGAL))


def xlsx_bytes(
    kind: str, state: ListState, membership: Any, fields: list[CustomField], title: str
) -> bytes:
    """The XLSX export (the caller bounds the number of rows)."""
    from openpyxl import Workbook

    cols = columns(kind, fields)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Export")
    sheet.append([_cell(c.header) for c in cols])
    for rows, accounts in batches(state, membership, fields):
        for record in rows:
            sheet.append([_cell(c.value(record, accounts)) for c in cols])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
