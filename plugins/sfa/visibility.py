"""Who sees which leads and deals: the core's own/team/all rule (``visible_clause``), or the
rule Sales settings chose for the role (own/team/territory/all, see ``territories.py``).

Deals and leads have an owner but no team of their own, so under the "team" rule a member
sees their own and their teammates' deals and leads. Leads nobody owns (the shared pool) are
visible to everyone who may read sales, so that anyone can claim them. A deal or lead that
a member may not see answers 404 exactly like a missing one.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import abort
from sqlalchemy import ColumnElement, null, or_, select

from crm_platform.sdk import db, parse_uuid, visible_clause

from .models import Deal, Lead


def _owned(model: Any) -> Any:
    """What ``visible_clause`` reads of a record: its owner and (here: no) team."""
    return SimpleNamespace(owner_id=model.owner_id, team_id=null())


def _clause(model: Any, membership: Any) -> ColumnElement[bool] | None:
    """Sales' own rule for the member's role when the tenant chose one (own, team, territory,
    all: ``territories.py``), else the customer database's."""
    from .settings import sales_settings
    from .territories import rule_clause, sales_rule

    rule = sales_rule(membership, sales_settings().record_visibility)
    if rule is None:
        return visible_clause(_owned(model), membership)
    return rule_clause(model, rule, membership.user_id)


def deal_clause(membership: Any) -> ColumnElement[bool] | None:
    """The deals ``membership`` may see (``None``: all of them)."""
    return _clause(Deal, membership)


def lead_clause(membership: Any) -> ColumnElement[bool] | None:
    """The leads ``membership`` may see: by the rule, plus the unassigned pool."""
    clause = _clause(Lead, membership)
    return None if clause is None else or_(clause, Lead.owner_id.is_(None))


def visible(model: Any, membership: Any) -> list[ColumnElement[bool]]:
    """Conditions for the ``Deal`` or ``Lead`` rows ``membership`` sees (for ``.where(*...)``)."""
    clause = deal_clause(membership) if model is Deal else lead_clause(membership)
    return [] if clause is None else [clause]


def get_visible_or_404(model: Any, record_id: Any, membership: Any) -> Any:
    """The deal or lead ``record_id`` when ``membership`` may see it, else abort 404."""
    rid = parse_uuid(record_id)
    if rid is None:
        abort(404)
    stmt = select(model).where(model.id == rid, *visible(model, membership))
    row = db.session.execute(stmt).unique().scalar_one_or_none()
    if row is None:
        abort(404)
    return row
