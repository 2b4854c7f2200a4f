"""A report's result as a file: CSV, XLSX (openpyxl) or PDF (fpdf2), for downloads and for
the scheduled e-mails. Cells that a spreadsheet would read as a formula are quoted."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

from flask import current_app

from .engine import Result

MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def safe_cell(value: Any) -> Any:
    """Text starting like a formula (``= + - @``) is quoted so spreadsheets show it as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table(result: Result) -> tuple[list[str], list[list[Any]]]:
    """Headings and rows (group labels, then numbers rounded to cents)."""
    head = [*result.group_headings, *result.value_headings]
    rows = [
        [*row.labels, *(None if v is None else round(v, 2) for v in row.values)]
        for row in result.rows
    ]
    return head, rows


def filename(title: str, fmt: str) -> str:
    """A safe file name for the report."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-")[:60] or "report"
    return f"{stem}.{fmt}"


def csv_bytes(result: Result) -> bytes:
    head, rows = table(result)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(result: Result, title: str) -> bytes:
    from openpyxl import Workbook

    head, rows = table(result)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Report")
    sheet.append(head)
    for row in rows:
        sheet.append([safe_cell(c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _font() -> Path | None:
    configured = current_app.config.get("ANALYTICS_PDF_FONT") or os.environ.get(
        "ANALYTICS_PDF_FONT"
    )
    for candidate in (configured, *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def pdf_bytes(result: Result, title: str) -> bytes:
    from fpdf import FPDF

    head, rows = table(result)
    pdf = FPDF(orientation="L" if len(head) > 4 else "P", unit="mm", format="A4")
    name, unicode = "Helvetica", False
    font = _font()
    if font is not None:
        try:
            pdf.add_font("ReportSans", "", str(font))
            name, unicode = "ReportSans", True
        except Exception:  # a broken font file: the core font, Latin-1 only
            current_app.logger.warning("analytics: cannot use the font %s", font)

    def text(value: Any) -> str:
        shown = (
            "" if value is None else (f"{value:,.2f}" if isinstance(value, float) else str(value))
        )
        return shown if unicode else shown.encode("latin-1", "replace").decode("latin-1")

    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font(name, size=14)
    pdf.cell(0, 10, text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(name, size=9)
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / max(1, len(head))
    for cell in head:
        pdf.cell(width, 7, text(cell)[:40], border=1)
    pdf.ln()
    for row in rows:
        for i, cell in enumerate(row):
            align = "R" if i >= len(result.group_headings) else "L"
            pdf.cell(width, 6, text(cell)[:40], border=1, align=align)
        pdf.ln()
    if result.truncated:
        pdf.cell(0, 8, text("…"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_export(result: Result, title: str, fmt: str) -> tuple[bytes, str, str]:
    """(content, mimetype, file name) of ``result`` in ``fmt``."""
    if fmt == "csv":
        content = csv_bytes(result)
    elif fmt == "xlsx":
        content = xlsx_bytes(result, title)
    else:
        content = pdf_bytes(result, title)
    return content, MIMETYPES[fmt], filename(title, fmt)
