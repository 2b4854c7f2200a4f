"""Fast bulk writes for imports, run beside the checking of the next rows.

:class:`BulkWriter` inserts the rows of a chunk while the importer checks the next one. On
PostgreSQL each write is a ``COPY`` into a temporary table (``ON COMMIT DROP``) followed by one
``INSERT ... SELECT`` into the real table (binary ``COPY`` where :func:`copy_types` covers the
columns), run on the session's own connection (so inside the
import's transaction) by one background thread: the database inserts a chunk while Python
validates the next. Row-level security still checks every row (``WITH CHECK``; a temporary
table has no tenant data of its own), and so do foreign keys and unique indexes. ``COPY`` is
the quickest way in, but PostgreSQL refuses ``COPY FROM`` into a table with row-level
security, hence the temporary table. A lookup that needs the import's own writes
(:meth:`BulkWriter.query`) queues behind the write on the same thread; one that does not (the
``skip`` dedupe lookup, :meth:`BulkWriter.read`) runs at once on a second connection, so that
Python never waits for a chunk's write before it can check the next one. Other databases get
a plain ``executemany`` and lookups at once.

While work is queued the importer leaves the session alone: :meth:`BulkWriter.wait` (which
re-raises the first error) comes before any other query, :meth:`BulkWriter.close` before the
transaction ends.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    SmallInteger,
    String,
    Table,
    Uuid,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from ..extensions import db

T = TypeVar("T")
Batch = tuple[Table, Sequence[str], list[tuple]]


def is_postgres() -> bool:
    """True when the session's database is PostgreSQL."""
    return db.session.get_bind().dialect.name == "postgresql"


_GENERIC_PLANS = text("SET LOCAL plan_cache_mode = force_generic_plan")


def prefer_generic_plans() -> None:
    """Plan each lookup of this import once (PostgreSQL).

    A lookup of 2,000 keys is one array parameter (``= ANY(:keys)``, see
    :func:`~crm_platform.records.listing.one_of`). Planned for its values, PostgreSQL would
    estimate every key of the array against the column's statistics again for every chunk,
    which costs more than the lookup itself; the generic plan (an index scan of the array)
    is the same for any keys (and prepared statements reuse it). Only the import's own
    lookups run this way: :func:`default_plans` when it is done.
    """
    if is_postgres():
        db.session.execute(_GENERIC_PLANS)


def default_plans() -> None:
    """Undo :func:`prefer_generic_plans` for the rest of the transaction."""
    if is_postgres():
        db.session.execute(text("SET LOCAL plan_cache_mode TO DEFAULT"))


class BulkWriter:
    """Writes chunks of rows and runs lookups in order, in the background on PostgreSQL (see
    the module docstring). Rows are tuples in the order of a table's ``columns``, their JSON
    values encoded by :meth:`json`."""

    def __init__(self) -> None:
        self.postgres = is_postgres()
        self._pool: ThreadPoolExecutor | None = None
        self._queued: list[Future[Any]] = []
        self._last_write: Future[Any] | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._read_session: Session | None = None
        #: Whether :meth:`read`'s session plans its lookups once (see prefer_generic_plans).
        self.generic_plans = False
        #: Staging tables made in this transaction (they go at its end: ``ON COMMIT DROP``).
        self._staging: set[str] = set()

    def json(self, value: Any) -> Any:
        """A value of a JSON column as :meth:`write` takes it (JSON text for ``COPY``)."""
        if not self.postgres:
            return value
        return "[]" if value == [] else _encode_json(value)

    def write(self, batches: Sequence[Batch]) -> None:
        """Insert ``(table, columns, rows)`` batches, in this order.

        On PostgreSQL the insert is queued (after waiting for the previous write, so at most
        one chunk is in flight): call :meth:`wait` before the session's next query.
        """
        batches = [b for b in batches if b[2]]
        if not batches:
            return
        if not self.postgres:
            for table, columns, rows in batches:
                dicts = [dict(zip(columns, r, strict=True)) for r in rows]
                db.session.execute(insert(table), dicts)
            return
        if self._last_write is not None:
            self._last_write.result()
        connection = db.session.connection().connection.dbapi_connection
        self._last_write = self._submit(_copy, connection, list(batches), self._staging)

    def query(self, run: Callable[[], T]) -> Future[T]:
        """``run()`` (a query of the session) once the queued writes are done.

        On PostgreSQL it runs on the background thread, in the caller's context (app, tenant);
        the caller may not use the session until it has the result.
        """
        if not self.postgres:
            done: Future[T] = Future()
            done.set_result(run())
            return done
        return self._submit(contextvars.copy_context().run, run)

    def read(self, run: Callable[[Session], T]) -> Future[T]:
        """``run(session)``: a read-only lookup that need not see this import's own writes.

        On PostgreSQL it runs at once on a thread and a session of its own (a second
        connection, in the caller's context: the tenant's row-level security and the ORM's
        tenant criteria apply as to any session), so it does not queue behind the writes
        and Python does not wait for a chunk's write before it can check the next. It sees
        what was committed before it ran, not what the import's transaction wrote: the
        caller keeps track of those rows itself (an import remembers the keys it wrote).
        Other databases run it at once on the import's own session.
        """
        if not self.postgres:
            done: Future[T] = Future()
            done.set_result(run(db.session))
            return done
        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="crm-bulk-read")
        future = self._reader.submit(contextvars.copy_context().run, self._read, run)
        self._queued.append(future)
        return future

    def _read(self, run: Callable[[Session], T]) -> T:
        if self._read_session is None:
            self._read_session = db.session.session_factory()
            if self.generic_plans:
                self._read_session.execute(_GENERIC_PLANS)
        return run(self._read_session)

    def wait(self) -> None:
        """Wait for everything queued; raises the first error."""
        queued, self._queued = self._queued, []
        self._last_write = None
        error: BaseException | None = None
        for future in queued:
            try:
                future.result()
            except BaseException as exc:  # the first one is the cause of the others
                error = error or exc
        if error is not None:
            raise error

    def close(self, *, failed: bool = False) -> None:
        """Wait for the queued work and stop the thread; ``failed`` ignores its error (the
        transaction is rolled back anyway)."""
        try:
            self.wait()
        except Exception:
            if not failed:
                raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            if self._reader is not None:
                self._reader.shutdown(wait=True)
                self._reader = None
            if self._read_session is not None:
                self._read_session.close()  # ends its read-only transaction
                self._read_session = None

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="crm-bulk")
        self._queued = [f for f in self._queued if not f.done() or f.exception() is not None]
        future = self._pool.submit(fn, *args)
        self._queued.append(future)
        return future


_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def copy_types(table: Table, columns: Sequence[str]) -> list[str] | None:
    """psycopg's type names for a binary ``COPY`` of ``columns``, or ``None`` when a column's
    type is not one of those below (the text format then serves).

    Binary is about half the work of text on both sides (a UUID is 16 bytes rather than 36
    characters to format and parse again). The cells must be of the Python types the names
    take: ``uuid.UUID``, ``str``, ``datetime``, ``date``, ``int``, ``bool``, ``None``. A
    ``json`` column takes its JSON text (its binary form is the text); ``jsonb`` is not
    covered.
    """
    out = []
    for name in columns:
        kind = table.columns[name].type
        if isinstance(kind, JSONB):
            return None
        if isinstance(kind, JSON):
            out.append("text")
        elif isinstance(kind, DateTime):
            out.append("timestamptz" if kind.timezone else "timestamp")
        elif isinstance(kind, Uuid):
            out.append("uuid")
        elif isinstance(kind, String):  # Text and Enum too
            out.append("text")
        elif isinstance(kind, Date):
            out.append("date")
        elif isinstance(kind, Boolean):
            out.append("bool")
        elif isinstance(kind, BigInteger):
            out.append("int8")
        elif isinstance(kind, SmallInteger):
            out.append("int2")
        elif isinstance(kind, Integer):
            out.append("int4")
        else:
            return None
    return out


def _copy(connection: Any, batches: list[Batch], made: set[str]) -> None:
    """Write ``batches`` through staging tables (``made``: those this transaction has).

    Each wait for the database costs this thread a turn at the GIL too (the checking thread
    holds it meanwhile), so there are as few as can be: the staging table is made once, and
    it is emptied in the same round trip as the insert that reads it.
    """
    with connection.cursor() as cursor:
        for table, columns, rows in batches:
            staging = f"crm_bulk_{table.name}"
            if staging not in made:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} (LIKE {table.name}) "
                    "ON COMMIT DROP"
                )
                made.add(staging)
            names = ", ".join(columns)
            types = copy_types(table, columns)
            binary = " (FORMAT BINARY)" if types else ""
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN{binary}") as copy:
                if types:
                    copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging}; "
                f"TRUNCATE {staging}"
            )
