"""Helpers the customer database pages share: choices, htmx partials, form errors."""

from __future__ import annotations

from typing import Any

from flask import g, request
from sqlalchemy import select
from wtforms.fields import SelectChoice

from ..customers import Account
from ..extensions import db
from ..identity import Membership
from .forms import NONE
from .teams import all_teams
from .visibility import live_and_visible

MAX_ACCOUNT_CHOICES = 500


def membership() -> Any:
    """The signed-in member of the current tenant."""
    return g.membership


def is_partial() -> bool:
    """True for an htmx request that swaps part of the page (not a history restore)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request"
    )


def members() -> list[Membership]:
    """Members of the tenant, by name."""
    rows = db.session.scalars(select(Membership)).unique().all()
    return sorted(rows, key=lambda m: (m.user.name or "").lower())


def member_choices(blank: Any = NONE) -> list[SelectChoice]:
    """Members as select options (value: user id)."""
    options = [SelectChoice(str(m.user_id), m.user.name) for m in members()]
    return ([blank] if blank is not None else []) + options


def team_choices() -> list[SelectChoice]:
    """Teams as select options, after "—"."""
    return [NONE] + [SelectChoice(str(t.id), t.name) for t in all_teams()]


def account_choices(current: Any = None) -> list[SelectChoice]:
    """Visible live accounts as select options (the current one always included)."""
    stmt = (
        select(Account.id, Account.name)
        .where(*live_and_visible(Account, membership()))
        .order_by(Account.name)
        .limit(MAX_ACCOUNT_CHOICES)
    )
    rows = [(str(i), n) for i, n in db.session.execute(stmt)]
    if current is not None and str(current.id) not in {i for i, _ in rows}:
        rows.insert(0, (str(current.id), current.name))
    return [NONE] + [SelectChoice(i, n) for i, n in rows]


def apply_errors(form: Any, errors: dict[str, str], fallback: str) -> None:
    """Show each service error under its form field (unknown names under ``fallback``)."""
    for name, message in errors.items():
        target = form._fields.get(name) or form._fields[fallback]
        target.errors = [message]
