"""A quote as a PDF (fpdf2): the seller, the customer, the lines and the totals.

Text in any script the fonts cover: a Unicode TrueType font from the system's fonts (DejaVu
Sans on Debian, found by ``SFA_PDF_FONT`` or the usual paths) when there is one, and a CJK
font it falls back to for the characters it lacks (Chinese, Japanese, Korean: Debian's Droid
Sans Fallback, ``SFA_PDF_CJK_FONT`` to choose another); with no Unicode font, the PDF core
font Helvetica, with characters it cannot show replaced by ``?`` (never an error). Only the
glyphs a quote uses are embedded. The quote's number is also the document's title (its
metadata).
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import format_currency, format_date
from flask_babel import gettext as _
from fpdf import FPDF

from .quotes import STATUS_LABELS, cents_to_decimal, lines_of, quote_summary

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
#: Fonts with the CJK ideographs (a fallback for what the main font lacks).
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf",
)


def find_font(setting: str = "SFA_PDF_FONT", candidates: tuple[str, ...] = ()) -> Path | None:
    """A TrueType font to embed (the ``setting`` first: app config, then environment; then
    ``candidates``, by default :data:`FONT_CANDIDATES`), or ``None``."""
    configured = current_app.config.get(setting) or os.environ.get(setting)
    for candidate in (configured, *(candidates or FONT_CANDIDATES)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.font_name = "Helvetica"
        self.unicode = False
        font = find_font()
        if font is not None:
            try:
                self.add_font("QuoteSans", "", str(font))
                self.font_name, self.unicode = "QuoteSans", True
            except Exception:  # a broken font file: fall back to the core font
                current_app.logger.warning("sfa: cannot use the font %s for quote PDFs", font)
        cjk = find_font("SFA_PDF_CJK_FONT", CJK_FONT_CANDIDATES) if self.unicode else None
        if cjk is not None:
            try:
                self.add_font("QuoteCJK", "", str(cjk))
                self.set_fallback_fonts(["QuoteCJK"])
            except Exception:  # a broken font file: CJK text shows as missing glyphs
                current_app.logger.warning("sfa: cannot use the font %s for quote PDFs", cjk)
        self.set_auto_page_break(auto=True, margin=18)

    def text_of(self, value: Any) -> str:
        text = str(value if value is not None else "")
        if self.unicode:
            return text
        return text.encode("latin-1", "replace").decode("latin-1")

    def use(self, size: float) -> None:
        self.set_font(self.font_name, size=size)

    def para(self, text: Any, size: float = 10, height: float = 6, **kwargs: Any) -> None:
        self.use(size)
        self.multi_cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT", **kwargs)


def _money(amount: Decimal, currency: str) -> str:
    return format_currency(amount, currency)


def render_quote_pdf(quote: Any, tenant_name: str) -> bytes:
    """The PDF bytes of ``quote`` (of the workspace ``tenant_name``)."""
    deal = quote.deal
    pdf = _Document()
    pdf.set_title(quote.label)
    pdf.set_subject(pdf.text_of(deal.name))
    pdf.set_author(pdf.text_of(tenant_name))
    pdf.set_creator("CRM")
    pdf.add_page()
    pdf.para(tenant_name, size=16, height=8)
    pdf.para(_("Quote %(number)s", number=quote.label), size=13, height=8)
    facts = [
        (_("Status"), STATUS_LABELS.get(quote.status, quote.status)),
        (_("Deal"), deal.name),
        (_("Customer"), deal.account.name if deal.account else "-"),
        (_("Contact"), deal.contact.full_name if deal.contact else "-"),
        (_("Date"), format_date(quote.created_at.date())),
        (_("Valid until"), format_date(quote.valid_until) if quote.valid_until else "-"),
        (_("Currency"), quote.currency),
    ]
    for label, value in facts:
        pdf.para(f"{label}: {value}", size=10, height=5)
    pdf.ln(4)
    widths = (70, 20, 28, 18, 16, 28)
    headings = (
        _("Description"),
        _("Qty"),
        _("Unit price"),
        _("Discount"),
        _("Tax rate"),
        _("Amount"),
    )
    pdf.use(9)
    pdf.set_fill_color(235, 235, 235)
    for width, heading in zip(widths, headings, strict=True):
        pdf.cell(width, 7, pdf.text_of(heading), border=1, fill=True)
    pdf.ln()
    for row in lines_of(quote):
        cells = (
            row.description,
            f"{Decimal(row.quantity).normalize():f}",
            _money(Decimal(row.unit_price), quote.currency),
            f"{Decimal(row.discount_percent).normalize():f}",
            f"{Decimal(row.tax_rate).normalize():f}",
            _money(cents_to_decimal(row.subtotal_cents - row.discount_cents), quote.currency),
        )
        description = pdf.text_of(cells[0])
        if pdf.get_string_width(description) > widths[0] - 2:
            while description and pdf.get_string_width(description + "…") > widths[0] - 2:
                description = description[:-1]
            description = pdf.text_of(description + "…")
        pdf.cell(widths[0], 6, description, border=1)
        for width, value in zip(widths[1:], cells[1:], strict=True):
            pdf.cell(width, 6, pdf.text_of(value), border=1, align="R")
        pdf.ln()
    pdf.ln(3)
    totals = quote_summary(quote)
    for label, key in (
        (_("Subtotal"), "subtotal"),
        (_("Discount"), "discount"),
        (_("Tax"), "tax"),
        (_("Total"), "total"),
    ):
        pdf.use(11 if key == "total" else 10)
        pdf.cell(sum(widths[:-1]), 6, pdf.text_of(label), align="R")
        pdf.cell(widths[-1], 6, pdf.text_of(_money(totals[key], quote.currency)), align="R")
        pdf.ln()
    if quote.notes:
        pdf.ln(4)
        pdf.para(quote.notes, size=9, height=5)
    return bytes(pdf.output())
