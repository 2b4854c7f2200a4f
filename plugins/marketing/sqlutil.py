"""Small SQL helpers the set-based writes share (both PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

from crm_platform.sdk import db


def dialect() -> str:
    """``postgresql`` or ``sqlite``."""
    return db.session.get_bind().dialect.name


def sql_uuid() -> Any:
    """A new random id made by the database, for ``INSERT ... SELECT`` of many rows.

    PostgreSQL's ``gen_random_uuid()``; on SQLite 32 random hex digits, which is how a
    ``Uuid`` column stores an id there.
    """
    if dialect() == "postgresql":
        return func.gen_random_uuid()
    return func.lower(func.hex(func.randomblob(16)))
