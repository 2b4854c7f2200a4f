"""Count the SQL statements a block of test code runs, to show a page or a service does not
query once per row (N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from crm_platform.extensions import db


@contextmanager
def counted(app: Any) -> Iterator[list[str]]:
    """The SQL statements run on the app's engine inside the block, in order."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
