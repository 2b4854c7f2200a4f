"""Keyset pages for the deal and lead lists (never ``OFFSET``: page 500 is as quick as page 1),
and the text filter the lists and search share.

A page is ordered by one sort expression, then the id; the cursor of the next page is the last
row's ``(sort value, id)``, opaque and tied to its sort, so a cursor of another sort is refused
(the page answers 400).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import abort, request
from sqlalchemy import tuple_

from crm_platform.sdk import db

PAGE_SIZE = 50


class BadCursor(ValueError):
    """A cursor that does not decode or belongs to another sort."""


@dataclass
class Page:
    """One page of rows and the cursor of the next (``None`` on the last page)."""

    rows: list[Any]
    next_cursor: str | None


def contains(column: Any, text: str) -> Any:
    """``column`` contains ``text``, case-insensitive (LIKE wildcards in ``text`` escaped)."""
    needle = text.strip().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return column.ilike(f"%{needle}%", escape="!")


def _encode(payload: list[Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor(cursor) from exc
    if not (isinstance(payload, list) and len(payload) == 3):
        raise BadCursor(cursor)
    return payload


def _typed(kind: type, raw: Any) -> Any:
    if kind is datetime:
        return datetime.fromisoformat(raw)
    if kind is date:
        return date.fromisoformat(raw)
    if kind is Decimal:
        return Decimal(raw)
    if kind is int:
        return int(raw)
    return str(raw)


def keyset_page(
    stmt: Any,
    *,
    sort: str,
    key: Any,
    id_column: Any,
    desc: bool,
    cursor: str = "",
    size: int = PAGE_SIZE,
) -> Page:
    """One page of ``stmt`` ordered by ``key`` (never NULL) then ``id_column``.

    ``sort`` names the order (it is written into the cursor); raises :class:`BadCursor`.
    """
    tag = f"{sort}:{'d' if desc else 'a'}"
    if cursor:
        payload = _decode(cursor)
        if payload[0] != tag:
            raise BadCursor(cursor)
        try:
            after = (_typed(key.type.python_type, payload[1]), uuid.UUID(str(payload[2])))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise BadCursor(cursor) from exc
        row_key = tuple_(key, id_column)
        stmt = stmt.where(row_key < after if desc else row_key > after)
    order = (key.desc(), id_column.desc()) if desc else (key.asc(), id_column.asc())
    stmt = stmt.add_columns(key.label("sort_key")).order_by(*order).limit(size + 1)
    result = db.session.execute(stmt).unique().all()
    more = len(result) > size
    result = result[:size]
    next_cursor = None
    if more and result:
        last, last_key = result[-1][0], result[-1][-1]
        value = last_key.isoformat() if hasattr(last_key, "isoformat") else str(last_key)
        next_cursor = _encode([tag, value, str(last.id)])
    return Page([r[0] for r in result], next_cursor)


def list_page(
    stmt: Any, sorts: dict[str, Any], id_column: Any, *, default: str, desc_sorts: tuple = ()
) -> tuple[Page, str, bool]:
    """The page a list's query string asks for: ``sort`` (one of ``sorts``, else ``default``),
    ``dir`` (``desc_sorts`` default to descending) and ``after``; 400 for a bad cursor.

    Returns the page, the sort and whether it is descending.
    """
    sort = request.args.get("sort", default)
    if sort not in sorts:
        sort = default
    desc = request.args.get("dir", "desc" if sort in desc_sorts else "asc") == "desc"
    try:
        page = keyset_page(
            stmt,
            sort=sort,
            key=sorts[sort](),
            id_column=id_column,
            desc=desc,
            cursor=request.args.get("after", ""),
        )
    except BadCursor:
        abort(400)
    return page, sort, desc
