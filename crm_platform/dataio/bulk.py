"""Fast bulk writes: one ``INSERT ... SELECT FROM json_populate_recordset`` per chunk.

On PostgreSQL psycopg sends an ``executemany`` one row at a time (pipelined), a multi-row
``VALUES`` costs SQLAlchemy a fresh compile per chunk, and arrays per column cost psycopg a
slow text dump; one JSON document per chunk (``json.dumps`` is C) that PostgreSQL turns into
rows of the table's own type is the quickest. Row-level security still checks every row
(``WITH CHECK``). Other databases use ``executemany``.
Lookups of many keys at once stay plain ``IN`` lists, planned per execution
(:func:`prefer_custom_plans`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, insert, text

from ..extensions import db


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _json_default(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a bulk insert")


def bulk_insert(table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the current transaction."""
    if not rows:
        return
    if not _postgres():
        db.session.execute(insert(table), list(rows))
        return
    quote = db.session.get_bind().dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in rows[0])
    sql = (
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{quote(table.name)}, CAST(:rows AS JSON))"
    )
    db.session.execute(text(sql), {"rows": json.dumps(rows, default=_json_default)})


def prefer_custom_plans() -> None:
    """Plan each lookup of this transaction for its own values (PostgreSQL).

    A bulk import inserts thousands of rows into a table whose statistics still describe it
    as it was before; a generic (cached) plan of a lookup ``IN (...)`` list of 2,000 keys can
    then walk every row for every key. With custom plans the key list is a constant that
    PostgreSQL hashes, which keeps each lookup linear whatever the statistics say.
    """
    if _postgres():
        db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
