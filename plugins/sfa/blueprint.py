"""The sales pages' blueprint (``/t/<slug>/sales/...``), its static files, and what the pages
share: the signed-in member, member and record choices, money formatting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, g, request, url_for
from flask_babel import format_currency
from sqlalchemy import select

from crm_platform.sdk import Account, Contact, Membership, db, visible_clause

bp = Blueprint("sfa", __name__, url_prefix="/t/<tenant_slug>/sales", template_folder="templates")
#: SortableJS and the board's script and styles; public files, like the core's ``/static``.
assets = Blueprint("sfa_assets", __name__, static_folder="static", static_url_path="/assets/sfa")

MAX_CHOICES = 500


def membership() -> Any:
    """The signed-in member of the current tenant."""
    return g.membership


def is_htmx() -> bool:
    """True for an htmx (or board script) request that swaps part of the page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request"
    )


def local_next(default: str) -> str:
    """The form's ``next`` when it is a path on this site (no open redirects), else ``default``."""
    target = request.form.get("next") or ""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok and target.isprintable() else default


def next_page_url(endpoint: str, cursor: str | None) -> str | None:
    """The current list's address for the page after ``cursor`` (``None``: no next page)."""
    if not cursor:
        return None
    return url_for(endpoint, **{**request.args.to_dict(), "after": cursor})


def members() -> list[Membership]:
    """Members of the tenant, by name."""
    rows = db.session.scalars(select(Membership)).unique().all()
    return sorted(rows, key=lambda m: (m.user.name or "").lower())


def member_choices(*first: tuple[str, Any]) -> list[tuple[str, Any]]:
    """Members as select options (value: user id), after ``first``."""
    return [*first, *((str(m.user_id), m.user.name) for m in members())]


def record_choices(model: Any, current: Any = None) -> list[tuple[str, Any]]:
    """Live accounts or contacts the member sees as options, the current one included."""
    name = model.name if model is Account else model.last_name
    stmt = select(model).where(model.deleted_at.is_(None))
    clause = visible_clause(model, membership())
    if clause is not None:
        stmt = stmt.where(clause)
    order = (name,) if model is Account else (Contact.last_name, Contact.first_name)
    rows = db.session.scalars(stmt.order_by(*order).limit(MAX_CHOICES)).unique().all()
    options = [(str(r.id), r.display_name) for r in rows]
    if current is not None and str(current.id) not in {i for i, _ in options}:
        options.insert(0, (str(current.id), current.display_name))
    return [("", "—"), *options]


@bp.app_template_filter("sfa_money")
def money(amount: Decimal | float | int | None, currency: str) -> str:
    """An amount in its currency, in the reader's language (``$12,000.00``)."""
    return format_currency(amount or 0, currency)
