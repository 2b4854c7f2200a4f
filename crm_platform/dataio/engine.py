"""Checking and writing rows: the part of an import that previews and the job share.

Rows go through a *batch importer* in chunks: ``check(rows)`` validates a chunk without
writing (dedupe lookups are one query per chunk) and says what each row will do (create,
update, skip, or reject with a message per field); ``write(results)`` writes the accepted
rows of the chunk (bulk inserts, which may still run while the next chunk is checked);
``close()``, when the importer has it, waits for the last write. :func:`run_rows` drives a
whole file through one importer inside the caller's transaction and collects the rejected
rows into a report; the caller commits once, so either every accepted row is written or, on
any failure, none is.

Targets that only give ``import_row`` get :class:`RowByRow`: each row is written in a
savepoint, and a row whose ``import_row`` raises ``ValidationFailed`` is rolled back and
rejected (such targets cannot tell before writing, so their preview shows rows unchecked).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, methodcaller
from typing import Any, Protocol

from flask_babel import gettext as _

from ..extensions import db
from ..plugin_types import ImportTarget
from ..provisioning import ValidationFailed
from .reading import Row, unescape_cell

CHUNK = 2000
PREVIEW_ROWS = 20
#: Rejections kept for the page; the downloadable report has them all.
SHOWN_REJECTIONS = 500
ROW_ERROR = "_row"
#: Whether a cell starts with a quote (called at C speed for every cell).
_quoted = methodcaller("startswith", "'")
_action, _line = attrgetter("action"), attrgetter("line")
#: Every other action is a rejection.
_ACCEPTED = frozenset({"create", "update", "skip"})


class ImportProblem(RuntimeError):
    """Why a whole import cannot run (its message is meant for people)."""


@dataclass
class SourceRow:
    """One spreadsheet row: its line number, its cells, and the mapped raw values by field."""

    line: int
    cells: list[str]
    values: dict[str, str]


@dataclass
class RowResult:
    """What importing one row does: ``create``, ``update``, ``skip`` or ``reject``."""

    line: int
    action: str
    errors: dict[str, str] = field(default_factory=dict)
    shown: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    payload: Any = None


class BatchImporter(Protocol):
    """What ``ImportTarget.batch(dedupe=, membership=, actor=)`` returns."""

    #: False when rows are only checked while they are written (no real preview).
    checks_before_writing: bool

    def check(self, rows: Sequence[SourceRow], *, preview: bool = False) -> list[RowResult]:
        """What each row will do, without writing anything."""

    def write(self, results: Sequence[RowResult]) -> None:
        """Write the rows whose action is ``create`` or ``update`` (may reject some)."""

    # Optional: ``close(*, failed: bool = False) -> None`` waits for writes still running
    # (raising their error unless ``failed``); :func:`run_rows` calls it once at the end.


class RowByRow:
    """The batch importer of a target that has only ``import_row``."""

    checks_before_writing = False

    def __init__(self, target: ImportTarget) -> None:
        self.target = target

    def check(self, rows: Sequence[SourceRow], *, preview: bool = False) -> list[RowResult]:
        return [RowResult(r.line, "create", shown=dict(r.values), payload=r.values) for r in rows]

    def write(self, results: Sequence[RowResult]) -> None:
        for result in results:
            if result.action != "create":
                continue
            try:
                with db.session.begin_nested():
                    self.target.import_row(dict(result.payload))
            except ValidationFailed as exc:
                result.action, result.errors = "reject", dict(exc.errors)


def make_importer(
    target: ImportTarget, *, dedupe: str, membership: Any, actor: Any
) -> BatchImporter:
    """The batch importer of ``target`` for one import."""
    if target.batch is not None:
        return target.batch(dedupe=dedupe, membership=membership, actor=actor)
    return RowByRow(target)


def source_rows(
    rows: Iterable[Row], width: int, mapping: Sequence[str | None], *, padded: bool
) -> Iterator[SourceRow | RowResult]:
    """Mapped rows, or a rejection for a row whose cells do not fit the header."""
    columns = [(i, f) for i, f in enumerate(mapping) if f]
    names = [f for _i, f in columns]
    picks = [i for i, _f in columns]
    for line, cells in rows:
        count = len(cells)
        if count == width:
            # The common case at C speed; only a cell starting with a quote can be a guarded
            # formula (see unescape_cell).
            picked = [cells[i] for i in picks]
            values = dict(zip(names, map(str.strip, picked), strict=True))
            if any(map(_quoted, picked)):
                for name, cell in zip(names, picked, strict=True):
                    if cell[:1] == "'":
                        values[name] = unescape_cell(cell)
            yield SourceRow(line, cells, values)
            continue
        if count != width and (
            (count > width and "".join(cells[width:]).strip()) or (count < width and not padded)
        ):
            message = _(
                "This line has %(cells)d cells but the header names %(columns)d columns.",
                cells=count,
                columns=width,
            )
            yield RowResult(line, "reject", errors={ROW_ERROR: message}, payload=cells)
            continue
        values = {}
        for i, f in columns:
            cell = cells[i] if i < count else ""
            # Only a cell starting with a quote can be a guarded formula (see unescape_cell).
            values[f] = unescape_cell(cell) if cell[:1] == "'" else cell.strip()
        yield SourceRow(line, cells, values)


def reasons(errors: Mapping[str, str], labels: Mapping[str, Any]) -> list[str]:
    """A row's errors as lines for people: ``E-mail: Enter a valid e-mail address.``"""
    out = []
    for name, message in errors.items():
        if name == ROW_ERROR or name not in labels:
            out.append(str(message))
        else:
            out.append(f"{labels[name]}: {message}")
    return out


def report_cell(value: str) -> str:
    """A cell of a report or export that spreadsheets will not run as a formula."""
    from .exporting import safe_cell

    return safe_cell(value)


@dataclass
class Outcome:
    """What a whole import did."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: list[list[Any]] = field(default_factory=list)
    report: bytes | None = None

    @property
    def rows(self) -> int:
        """Rows read."""
        return self.created + self.updated + self.skipped + self.rejected


class Report:
    """The rejected rows as CSV: line, problems, then the row's own cells."""

    def __init__(self, headers: Sequence[str]) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.writer.writerow([_("Line"), _("Problems"), *map(report_cell, headers)])
        self.count = 0

    def add(self, line: int, problems: list[str], cells: Sequence[str]) -> None:
        self.count += 1
        self.writer.writerow([line, report_cell(" | ".join(problems)), *map(report_cell, cells)])

    def payload(self) -> bytes | None:
        if not self.count:
            return None
        return gzip.compress(("\ufeff" + self.buffer.getvalue()).encode("utf-8"))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_rows(
    rows: Iterable[Row],
    *,
    headers: Sequence[str],
    mapping: Sequence[str | None],
    padded: bool,
    importer: BatchImporter,
    labels: Mapping[str, Any],
    max_rows: int,
    progress: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
) -> Outcome:
    """Check and write every row, chunk by chunk, in the caller's transaction.

    Raises :class:`ImportProblem` when the file has more than ``max_rows`` rows (after
    writing nothing the caller will keep: it rolls back).
    """
    close = getattr(importer, "close", None)
    try:
        outcome = _run_chunks(
            rows, headers, mapping, padded, importer, labels, max_rows, progress, chunk_size
        )
    except BaseException:
        if close is not None:
            close(failed=True)
        raise
    if close is not None:
        close()
    return outcome


def _run_chunks(
    rows: Iterable[Row],
    headers: Sequence[str],
    mapping: Sequence[str | None],
    padded: bool,
    importer: BatchImporter,
    labels: Mapping[str, Any],
    max_rows: int,
    progress: Callable[[int], None] | None,
    chunk_size: int | None,
) -> Outcome:
    outcome = Outcome()
    report = Report(headers)
    seen = 0
    mapped = source_rows(rows, len(headers), mapping, padded=padded)
    for chunk in _chunks(mapped, chunk_size or CHUNK):
        seen += len(chunk)
        if seen > max_rows:
            raise ImportProblem(
                _(
                    "The file has more than %(num)s rows: split it and import the parts.",
                    num=f"{max_rows:,}",
                )
            )
        early = [r for r in chunk if isinstance(r, RowResult)]
        sources = [r for r in chunk if isinstance(r, SourceRow)]
        results = importer.check(sources)
        importer.write(results)
        done = Counter(map(_action, results))
        outcome.created += done["create"]
        outcome.updated += done["update"]
        outcome.skipped += done["skip"]
        rejected = [r for r in results if r.action not in _ACCEPTED] + early
        if rejected:
            outcome.rejected += len(rejected)
            by_line = {s.line: s.cells for s in sources}
            for result in early:
                by_line[result.line] = result.payload
            for result in sorted(rejected, key=_line):
                problems = reasons(result.errors, labels)
                if len(outcome.rejections) < SHOWN_REJECTIONS:
                    outcome.rejections.append([result.line, problems])
                report.add(result.line, problems, by_line.get(result.line) or [])
        if progress is not None:
            progress(seen)
    outcome.report = report.payload()
    return outcome


def preview(
    rows: Iterable[Row],
    *,
    headers: Sequence[str],
    mapping: Sequence[str | None],
    padded: bool,
    importer: BatchImporter,
    size: int = PREVIEW_ROWS,
) -> list[tuple[SourceRow | None, RowResult]]:
    """The first ``size`` rows as they will be imported (nothing is written)."""
    out: list[tuple[SourceRow | None, RowResult]] = []
    sources: list[SourceRow] = []
    for item in source_rows(rows, len(headers), mapping, padded=padded):
        if isinstance(item, RowResult):
            out.append((None, item))
        else:
            sources.append(item)
        if len(out) + len(sources) >= size:
            break
    results = importer.check(sources, preview=True) if sources else []
    close = getattr(importer, "close", None)
    if close is not None:
        close()
    out += list(zip(sources, results, strict=True))
    out.sort(key=lambda pair: pair[1].line)
    return out
