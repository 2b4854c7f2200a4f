"""A sending lane's per-message status marks, each in its own commit.

On PostgreSQL a lane keeps one connection of its own for them, with the tenant set for the
whole session (row-level security), ``synchronous_commit`` off and autocommit, so a mark is
one ``UPDATE`` that commits itself, one round trip (a commit that returns before its WAL is
flushed cannot be lost to a killed worker, only to a crashed database server). The
connection is thrown away afterwards, never returned to the pool with the tenant set.
Elsewhere (SQLite), and for marks that must commit with other writes of the session (the
outbox), the ORM session is used.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text, update

from crm_platform.sdk import db

from .models import Message
from .sqlutil import dialect


class Marks:
    """Writes the status of the rows one lane has claimed."""

    def __init__(self, tenant_id: uuid.UUID, owner: str) -> None:
        self.tenant_id, self.owner = tenant_id, owner
        self.connection: Any = None
        if dialect() == "postgresql":
            connection = db.engine.connect()
            connection.execute(
                text("select set_config('app.tenant_id', :t, false)"), {"t": str(tenant_id)}
            )
            connection.execute(text("SET synchronous_commit TO OFF"))
            connection.commit()
            # each mark is one UPDATE that commits itself: one round trip, not two
            self.connection = connection.execution_options(isolation_level="AUTOCOMMIT")

    def _statement(self, row_id: uuid.UUID, values: dict[str, Any]) -> Any:
        table = Message.__table__
        return (
            update(table)
            .where(
                table.c.tenant_id == self.tenant_id,
                table.c.id == row_id,
                table.c.claimed_by == self.owner,
            )
            .values(**values)
        )

    def write(self, row_id: uuid.UUID, values: dict[str, Any], *, with_session: bool = False):
        """Mark one row and commit (with the session's own pending writes when asked)."""
        if self.connection is None or with_session:
            db.session.execute(
                update(Message)
                .where(
                    Message.tenant_id == self.tenant_id,
                    Message.id == row_id,
                    Message.claimed_by == self.owner,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            return
        self.connection.execute(self._statement(row_id, values))
        self.connection.commit()  # autocommit: already committed, no round trip

    def close(self) -> None:
        """Throw the lane's own connection away (it carries the tenant)."""
        if self.connection is not None:
            self.connection.invalidate()
            self.connection.close()
            self.connection = None
