"""The credit and payment status panel on an account synced with an ERP."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import Panel, TimelineEntry, db

from .models import Invoice, LedgerEntry

PANEL_ROWS = 8


def payment_panel(account: Any) -> Panel | None:
    """Open and overdue amounts, credit limit and the latest invoices; ``None`` when the
    account has no ERP data."""
    invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.account_id == account.id)
            .order_by(Invoice.invoiced_at.desc().nulls_last(), Invoice.updated_at.desc())
        )
    )
    entries = list(
        db.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.crm_kind == "account", LedgerEntry.crm_id == account.id
            )
        )
    )
    if not invoices and not entries:
        return None
    today = date.today()
    live = [i for i in invoices if i.state not in ("cancelled", "draft")]
    due: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for invoice in live:
        if invoice.state == "paid" or not invoice.amount_due:
            continue
        due[invoice.currency] = due.get(invoice.currency, Decimal(0)) + invoice.amount_due
        if invoice.due_date and invoice.due_date < today:
            overdue[invoice.currency] = (
                overdue.get(invoice.currency, Decimal(0)) + invoice.amount_due
            )
    credit_limit = next(
        (e.snapshot.get("credit_limit") for e in entries if (e.snapshot or {}).get("credit_limit")),
        None,
    )
    if overdue:
        status, tone = _("Overdue"), "warn"
    elif due:
        status, tone = _("Open invoices"), ""
    elif live:
        status, tone = _("Paid up"), "ok"
    else:
        status, tone = _("No invoices"), ""
    html = render_template(
        "erp/payment_panel.html",
        invoices=invoices[:PANEL_ROWS],
        due=due,
        overdue=overdue,
        credit_limit=credit_limit,
        status=status,
        tone=tone,
        deleted=[e for e in entries if e.state == "deleted"],
        today=today,
    )
    return Panel(title=_("Credit and payments (ERP)"), html=html, order=35, key="erp-payments")


def invoice_timeline(account: Any, limit: int = 50) -> list[TimelineEntry]:
    """One timeline line per ERP invoice of ``account`` (on its invoice date)."""
    rows = db.session.scalars(
        select(Invoice)
        .where(Invoice.account_id == account.id, Invoice.invoiced_at.is_not(None))
        .order_by(Invoice.invoiced_at.desc())
        .limit(limit)
    )
    out = []
    for invoice in rows:
        state = {
            "paid": _("paid"),
            "open": _("open"),
            "cancelled": _("cancelled"),
            "draft": _("draft"),
        }.get(invoice.state, invoice.state)
        out.append(
            TimelineEntry(
                at=datetime.combine(invoice.invoiced_at, time(0), tzinfo=UTC),
                title=_("Invoice %(number)s (ERP)", number=invoice.number or invoice.external_id),
                body=_(
                    "%(total)s %(currency)s, %(state)s",
                    total=f"{invoice.total:.2f}",
                    currency=invoice.currency,
                    state=state,
                ),
                kind="erp",
            )
        )
    return out
