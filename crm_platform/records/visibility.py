"""Who sees which customer records: all, their team's, or their own.

Owners, admins and managers see every record. For the other roles the tenant chooses a rule
per role (``Tenant.settings["record_visibility"]``; default ``all``):

* ``own``: records the member owns;
* ``team``: records they own, records of one of their teams, and records owned by a
  teammate;
* ``all``: every record.

The rule is one SQL condition applied to list queries, search, duplicates and get-by-id, so a
record a member may not see answers 404 exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, or_, select

from ..extensions import db
from ..ids import parse_uuid
from .teams import TeamMember

RULES = ("own", "team", "all")
RULE_LABELS = {
    "own": _l("Own records only"),
    "team": _l("Their team's records"),
    "all": _l("All records"),
}
#: Roles that always see every record.
SEE_ALL_ROLES = frozenset({"owner", "admin", "manager"})
#: Roles whose rule the tenant chooses.
RULED_ROLES = ("member", "readonly")
SETTING = "record_visibility"


def visibility_settings(tenant: Any) -> dict[str, str]:
    """The rule of each ruled role for ``tenant`` (``all`` unless set)."""
    stored = (tenant.settings or {}).get(SETTING) or {}
    return {role: stored.get(role) if stored.get(role) in RULES else "all" for role in RULED_ROLES}


def save_visibility_settings(tenant: Any, rules: dict[str, str]) -> dict[str, Any]:
    """Store the rules (validated); returns the changes for the audit log. Caller commits."""
    old = visibility_settings(tenant)
    new = {role: rules.get(role, old[role]) for role in RULED_ROLES}
    if any(value not in RULES for value in new.values()):
        raise ValueError("unknown visibility rule")
    settings = dict(tenant.settings or {})
    settings[SETTING] = new
    tenant.settings = settings
    return {r: {"from": old[r], "to": new[r]} for r in RULED_ROLES if old[r] != new[r]}


def rule_for(membership: Any) -> str:
    """The visibility rule that applies to ``membership``."""
    if membership is None:
        return "own"
    if membership.role in SEE_ALL_ROLES:
        return "all"
    tenant = g.get("tenant") if g else None
    if tenant is None:
        from ..identity import Tenant

        tenant = db.session.get(Tenant, membership.tenant_id)
    return visibility_settings(tenant).get(membership.role, "own")


def visible_clause(model: Any, membership: Any) -> ColumnElement[bool] | None:
    """The SQL condition for ``model`` rows ``membership`` may see (``None``: all of them)."""
    rule = rule_for(membership)
    if rule == "all":
        return None
    user_id = membership.user_id
    if rule == "own":
        return model.owner_id == user_id
    my_teams = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    teammates = select(TeamMember.user_id).where(TeamMember.team_id.in_(my_teams))
    return or_(
        model.owner_id == user_id,
        model.team_id.in_(my_teams),
        model.owner_id.in_(teammates),
    )


def live_and_visible(model: Any, membership: Any) -> list[ColumnElement[bool]]:
    """Conditions for live (not deleted) records ``membership`` may see."""
    conditions: list[ColumnElement[bool]] = [model.deleted_at.is_(None)]
    clause = visible_clause(model, membership)
    if clause is not None:
        conditions.append(clause)
    return conditions


def can_see(record: Any, membership: Any) -> bool:
    """True when ``membership`` may see ``record`` (live or not)."""
    clause = visible_clause(type(record), membership)
    if clause is None:
        return True
    model = type(record)
    stmt = select(model.id).where(model.id == record.id, clause)
    return db.session.scalar(stmt) is not None


def find_visible(model: Any, record_id: Any, membership: Any, *, deleted: bool = False) -> Any:
    """The record ``record_id`` if ``membership`` may see it, else ``None``.

    Live records only, unless ``deleted`` (the trash: records in it only).
    """
    rid = parse_uuid(record_id)
    if rid is None:
        return None
    stmt = select(model).where(model.id == rid)
    stmt = stmt.where(model.deleted_at.is_not(None) if deleted else model.deleted_at.is_(None))
    clause = visible_clause(model, membership)
    if clause is not None:
        stmt = stmt.where(clause)
    return db.session.execute(stmt).unique().scalar_one_or_none()


def get_visible_or_404(
    model: Any, record_id: Any, membership: Any, *, deleted: bool = False
) -> Any:
    """Like :func:`find_visible`, answering 404 when there is no such record to see."""
    row = find_visible(model, record_id, membership, deleted=deleted)
    if row is None:
        abort(404)
    return row
