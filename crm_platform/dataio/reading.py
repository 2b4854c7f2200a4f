"""Reading spreadsheets: format, encoding and delimiter detection, then rows of text cells.

CSV: UTF-8 (with or without a byte-order mark), UTF-16 or UTF-32 with a byte-order mark, else
GB18030 (what Excel writes for Simplified Chinese); the delimiter is the one of ``, ; TAB |``
that splits the first lines most consistently. Quotes are read strictly, so a stray quote is
reported with its line instead of silently swallowing the rest of the file. XLSX: the first
worksheet, cells converted to text (dates as ``YYYY-MM-DD``, whole numbers without ``.0``).

Every problem is a :class:`FileProblem` whose message is meant for people.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _

FORMATS = ("csv", "xlsx")
CSV_EXTENSIONS = (".csv", ".txt", ".tsv")
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 200
MAX_HEADER = 100
SNIFF_CHARS = 64 * 1024
SNIFF_LINES = 20

Row = tuple[int, list[str]]


class FileProblem(ValueError):
    """A file that cannot be imported; ``str(exc)`` says why, for people."""


@dataclass
class Sheet:
    """An opened spreadsheet: its header cells and an iterator of ``(line, cells)`` rows.

    ``line`` is the spreadsheet's line (row) number, the header being on line 1 usually.
    ``padded``: rows shorter than the header are complete (XLSX drops trailing empty cells);
    in CSV a short row is a broken row. ``estimated_rows`` is known for XLSX (its dimension).
    """

    format: str
    headers: list[str]
    rows: Iterator[Row]
    encoding: str | None = None
    delimiter: str | None = None
    padded: bool = False
    estimated_rows: int | None = None


def detect_format(filename: str, data: bytes) -> str:
    """``"csv"`` or ``"xlsx"`` from the file's name and first bytes."""
    name = (filename or "").lower()
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise FileProblem(
            _("This is an old Excel workbook (.xls): save it as .xlsx or CSV and upload it again.")
        )
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if name.endswith(XLSX_EXTENSIONS):
        raise FileProblem(_("The file is not a valid Excel workbook (.xlsx)."))
    if name.endswith(CSV_EXTENSIONS) or "." not in name.rsplit("/", 1)[-1]:
        return "csv"
    raise FileProblem(_("Upload a CSV file or an Excel workbook (.xlsx)."))


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with; raises :class:`FileProblem`."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        candidates = ["utf-32"]
    elif data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, encoding
    raise FileProblem(
        _(
            "The file's characters cannot be read (it is not UTF-8, UTF-16 or GB18030 text). "
            "Save it as “CSV UTF-8” and upload it again."
        )
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most consistent columns."""
    sample = text[:SNIFF_CHARS]
    lines = sample.splitlines()
    if len(sample) < len(text) and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines[: SNIFF_LINES + 1] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(1 for r in rows if len(r) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_problem(exc: csv.Error, line: int) -> FileProblem:
    text = str(exc)
    if "expected after" in text:
        why = _("a quoted cell must end with a quote followed by the delimiter")
    elif "end of data" in text or "EOF" in text:
        why = _("a quote is opened but never closed")
    else:
        why = text
    return FileProblem(
        _("The file is not valid CSV at line %(line)d: %(why)s.", line=line, why=why)
    )


def iter_csv(text: str, delimiter: str) -> Iterator[Row]:
    """``(line, cells)`` of every non-blank row; raises :class:`FileProblem` on bad quoting."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if "".join(cells).strip():
                yield start, cells
    except csv.Error as exc:
        raise _csv_problem(exc, line) from exc


def cell_text(value: Any) -> str:
    """An XLSX cell value as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    return str(value)


def _open_xlsx(data: bytes) -> tuple[Iterator[Row], int | None]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FileProblem(_("The file is not a valid Excel workbook (.xlsx).")) from exc
    if not book.worksheets:
        book.close()
        raise FileProblem(_("The workbook has no worksheet."))
    sheet = book.worksheets[0]

    def rows() -> Iterator[Row]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    cells = [cell_text(v) for v in values]
                    while cells and not cells[-1].strip():
                        cells.pop()
                    if cells:
                        yield number, cells
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
            raise FileProblem(_("The file is not a valid Excel workbook (.xlsx).")) from exc
        finally:
            book.close()

    return rows(), sheet.max_row


def clean_header(cell: str) -> str:
    """A header cell: whitespace collapsed, at most 100 characters."""
    return " ".join(cell.replace("\ufeff", "").split())[:MAX_HEADER]


def open_sheet(
    data: bytes, format: str, *, encoding: str | None = None, delimiter: str | None = None
) -> Sheet:
    """Open ``data`` and read its header; raises :class:`FileProblem`."""
    if not data.strip():
        raise FileProblem(_("The file is empty."))
    estimated = None
    if format == "xlsx":
        rows, max_row = _open_xlsx(data)
        padded = True
    else:
        if encoding is None:
            text, encoding = decode(data)
        else:
            try:
                text = data.decode(encoding)
            except (UnicodeDecodeError, LookupError) as exc:
                raise FileProblem(
                    _("The file's characters cannot be read as %(encoding)s.", encoding=encoding)
                ) from exc
        delimiter = delimiter or sniff_delimiter(text)
        rows, max_row, padded = iter_csv(text, delimiter), None, False
    first = next(rows, None)
    if first is None:
        raise FileProblem(_("The file is empty."))
    line, cells = first
    if len(cells) > MAX_COLUMNS:
        raise FileProblem(
            _(
                "The file has %(num)d columns; an import reads at most %(max)d.",
                num=len(cells),
                max=MAX_COLUMNS,
            )
        )
    if max_row:
        estimated = max(max_row - line, 0)
    return Sheet(
        format=format,
        headers=[clean_header(c) for c in cells],
        rows=rows,
        encoding=encoding,
        delimiter=delimiter,
        padded=padded,
        estimated_rows=estimated,
    )


_DATA_LIKE = re.compile(r"^(?:[^@\s]+@[^@\s]+\.[^@\s]+|[\d\s.,:/+\-()]*\d[\d\s.,:/+\-()]*)$")


def looks_like_data(headers: list[str]) -> str | None:
    """A header cell that looks like a value (an e-mail address, a number, a date), if any."""
    for cell in headers:
        if cell and _DATA_LIKE.match(cell):
            return cell
    return None


def column_name(index: int) -> str:
    """A spreadsheet column name: 0 → ``A``, 26 → ``AA``."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def unescape_cell(cell: str) -> str:
    """Undo the formula-injection guard of exports (``'=...`` → ``=...``) and trim."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_PREFIXES:
        cell = cell[1:]
    return cell.strip()
