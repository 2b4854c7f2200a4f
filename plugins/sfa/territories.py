"""Territories, the team hierarchy and the "territory" visibility rule of deals and leads.

**Territories.** A territory covers the accounts (and leads) whose region and/or industry is
one of its values: values of one field are alternatives, and when a territory has values of
both fields a record must match both (*East, North* × *banking*). A territory with no values
covers nothing. Its members work it; lead assignment rules can hand a lead round-robin to the
members of the territory it falls in (``assignment.py``, condition *Territory*).

**Team hierarchy.** The core's teams are flat; ``TeamParent`` puts a team under another one.
A team's pipeline (board, forecast, "my team") is its members' and its sub-teams' members'.

**Visibility.** Sales can choose, per ruled role (member, read-only), a rule of its own for
deals and leads instead of the customer database's: *own*, *team* (own and teammates'),
*territory* (own, teammates' and every deal or lead in one of the member's territories) or
*all*. Owners, admins and managers see everything, as in the core.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, delete, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from crm_platform.sdk import (
    Account,
    Membership,
    Team,
    TeamMember,
    ValidationFailed,
    audit_record,
    clean_text,
    db,
    parse_uuid,
)

from .planning_models import TERRITORY_FIELDS, TeamParent, Territory, TerritoryMember, TerritoryRule

FIELD_LABELS = {"region": _l("Region"), "industry": _l("Industry")}
#: Visibility rules Sales offers for deals and leads ("" follows the customer database's).
RULES = ("own", "team", "territory", "all")
RULE_LABELS = {
    "": _l("As in the customer database"),
    "own": _l("Own deals and leads only"),
    "team": _l("Their team's deals and leads"),
    "territory": _l("Their team's and their territories' deals and leads"),
    "all": _l("All deals and leads"),
}
RULED_ROLES = ("member", "readonly")
MAX_TERRITORIES = 200
MAX_VALUES = 50


# --------------------------------------------------------------------------- territories


def all_territories() -> list[Territory]:
    """The tenant's territories in order."""
    return list(db.session.scalars(select(Territory).order_by(Territory.position, Territory.name)))


def rules_of(territory_ids: Iterable[uuid.UUID] | None = None) -> dict[uuid.UUID, dict[str, list]]:
    """``{territory id: {"region": [...], "industry": [...]}}`` (values case-folded)."""
    stmt = select(TerritoryRule).order_by(TerritoryRule.value)
    if territory_ids is not None:
        stmt = stmt.where(TerritoryRule.territory_id.in_(list(territory_ids)))
    out: dict[uuid.UUID, dict[str, list]] = defaultdict(lambda: {f: [] for f in TERRITORY_FIELDS})
    for rule in db.session.scalars(stmt):
        out[rule.territory_id][rule.field].append(rule.value)
    return out


def members_of(territory_ids: Iterable[uuid.UUID] | None = None) -> dict[uuid.UUID, list]:
    """``{territory id: [user id, ...]}``."""
    stmt = select(TerritoryMember.territory_id, TerritoryMember.user_id)
    if territory_ids is not None:
        stmt = stmt.where(TerritoryMember.territory_id.in_(list(territory_ids)))
    out: dict[uuid.UUID, list] = defaultdict(list)
    for territory_id, user_id in db.session.execute(stmt):
        out[territory_id].append(user_id)
    return out


def _values(raw: Any) -> list[str]:
    """Comma-separated (or listed) values, trimmed, case-folded, without repeats."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    out: list[str] = []
    for item in items:
        value = " ".join(str(item).split()).casefold()
        if value and value not in out:
            out.append(value)
    return out


def check_territory(data: Mapping[str, Any], territory: Territory | None = None) -> dict[str, Any]:
    """Cleaned values of a territory; ``ValidationFailed`` naming each bad field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        values["name"] = clean_text(data.get("name"), 100)
    except ValueError as exc:
        errors["name"] = str(exc)
    if "name" not in errors:
        if not values["name"]:
            errors["name"] = _("Enter a name.")
        else:
            stmt = select(Territory.id).where(func.lower(Territory.name) == values["name"].lower())
            if territory is not None:
                stmt = stmt.where(Territory.id != territory.id)
            if db.session.scalar(stmt) is not None:
                errors["name"] = _("There is already a territory of this name.")
    for name in TERRITORY_FIELDS:
        found = _values(data.get(name))
        if len(found) > MAX_VALUES or any(len(v) > 80 for v in found):
            errors[name] = _(
                "Use at most %(num)d values of at most 80 characters each.", num=MAX_VALUES
            )
        values[name] = found
    if not errors and not values["region"] and not values["industry"]:
        errors["region"] = _("Enter regions, industries or both.")
    raw = data.get("member_ids") or []
    raw = [raw] if isinstance(raw, str) else list(raw)
    ids = [parse_uuid(v) for v in raw]
    members = set(db.session.scalars(select(Membership.user_id)))
    if any(i is None or i not in members for i in ids):
        errors["member_ids"] = _("Choose members of this workspace.")
    values["member_ids"] = list(dict.fromkeys(i for i in ids if i is not None))
    if errors:
        raise ValidationFailed(errors)
    return values


def save_territory(
    data: Mapping[str, Any], territory: Territory | None = None, *, actor: Any = None
) -> Territory:
    """Validate and add (or change) a territory with its values and members (audited).

    Caller commits.
    """
    if territory is None and len(all_territories()) >= MAX_TERRITORIES:
        raise ValidationFailed(
            {"name": _("A workspace can have at most %(num)d territories.", num=MAX_TERRITORIES)}
        )
    values = check_territory(data, territory)
    if territory is None:
        position = (db.session.scalar(select(func.max(Territory.position))) or 0) + 1
        territory = Territory(name=values["name"], position=position)
        db.session.add(territory)
        db.session.flush()
        action = "sfa.territory.created"
    else:
        territory.name = values["name"]
        db.session.execute(delete(TerritoryRule).where(TerritoryRule.territory_id == territory.id))
        db.session.execute(
            delete(TerritoryMember).where(TerritoryMember.territory_id == territory.id)
        )
        action = "sfa.territory.updated"
    for name in TERRITORY_FIELDS:
        for value in values[name]:
            db.session.add(TerritoryRule(territory_id=territory.id, field=name, value=value))
    for user_id in values["member_ids"]:
        db.session.add(TerritoryMember(territory_id=territory.id, user_id=user_id))
    db.session.flush()
    audit_record(
        action,
        target=territory.name,
        actor=actor,
        details={n: values[n] for n in TERRITORY_FIELDS} | {"members": len(values["member_ids"])},
    )
    return territory


def delete_territory(territory: Territory, *, actor: Any = None) -> None:
    """Remove a territory (its values and members go with it; audited). Caller commits."""
    audit_record("sfa.territory.deleted", target=territory.name, actor=actor)
    db.session.delete(territory)


def find_territory(value: Any) -> Territory | None:
    """The territory with id ``value``, or ``None``."""
    tid = parse_uuid(value)
    return db.session.scalar(select(Territory).where(Territory.id == tid)) if tid else None


def record_matches(rules: Mapping[str, list[str]], region: Any, industry: Any) -> bool:
    """True when a record of ``region`` and ``industry`` falls in a territory of ``rules``."""
    if not any(rules.get(f) for f in TERRITORY_FIELDS):
        return False
    have = {"region": region, "industry": industry}
    for name in TERRITORY_FIELDS:
        wanted = rules.get(name) or []
        value = " ".join(str(have[name] or "").split()).casefold()
        if wanted and value not in wanted:
            return False
    return True


def territories_for(region: Any, industry: Any) -> list[Territory]:
    """The territories a record of ``region`` and ``industry`` falls in, in order."""
    territories = all_territories()
    rules = rules_of([t.id for t in territories])
    return [t for t in territories if record_matches(rules[t.id], region, industry)]


def territory_members_for(names: Iterable[str], region: Any, industry: Any) -> list[uuid.UUID]:
    """Members of the territories named ``names`` (case ignored) that the record falls in."""
    wanted = {n.strip().casefold() for n in names if n.strip()}
    hits = [t for t in territories_for(region, industry) if t.name.casefold() in wanted]
    people = members_of([t.id for t in hits])
    out: list[uuid.UUID] = []
    for territory in hits:
        out.extend(u for u in people.get(territory.id, []) if u not in out)
    return out


# --------------------------------------------------------------------------- team hierarchy


def parents() -> dict[uuid.UUID, uuid.UUID]:
    """``{team id: parent team id}`` of the tenant."""
    rows = db.session.execute(select(TeamParent.team_id, TeamParent.parent_id))
    return {team_id: parent_id for team_id, parent_id in rows}


def sub_team_ids(team_id: uuid.UUID) -> list[uuid.UUID]:
    """``team_id`` and every team under it (any depth)."""
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for child, parent in parents().items():
        children[parent].append(child)
    out, todo = [team_id], [team_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.append(child)
                todo.append(child)
    return out


def team_tree_member_ids(team_id: uuid.UUID) -> list[uuid.UUID]:
    """The users of a team and of its sub-teams."""
    stmt = select(TeamMember.user_id).where(TeamMember.team_id.in_(sub_team_ids(team_id)))
    return list(dict.fromkeys(db.session.scalars(stmt)))


def set_parent(team: Team, parent_id: Any, *, actor: Any = None) -> None:
    """Put ``team`` under the team ``parent_id`` ("" or ``None``: at the top). A team cannot
    sit under itself or one of its sub-teams (``ValidationFailed``). Caller commits."""
    row = db.session.scalar(select(TeamParent).where(TeamParent.team_id == team.id))
    pid = parse_uuid(parent_id) if parent_id not in (None, "") else None
    if parent_id not in (None, "") and (
        pid is None or db.session.scalar(select(Team.id).where(Team.id == pid)) is None
    ):
        raise ValidationFailed({f"parent_{team.id}": _("Choose one of the teams.")})
    if pid is not None and pid in sub_team_ids(team.id):
        raise ValidationFailed(
            {f"parent_{team.id}": _("A team cannot sit under itself or one of its sub-teams.")}
        )
    if pid is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(TeamParent(team_id=team.id, parent_id=pid))
    else:
        row.parent_id = pid
    db.session.flush()
    audit_record(
        "sfa.team.parent_set", target=team.name, actor=actor, details={"parent": str(pid or "")}
    )


def managed_team(membership: Any) -> uuid.UUID | None:
    """The team a manager looks at first: their first team that no other team of theirs sits
    under (so a manager of a parent team starts on the whole tree)."""
    if membership is None or membership.role != "manager":
        return None
    mine = list(
        db.session.scalars(
            select(TeamMember.team_id).where(TeamMember.user_id == membership.user_id)
        )
    )
    if not mine:
        return None
    tree = parents()
    for team_id in mine:
        up, seen = tree.get(team_id), set()
        while up is not None and up not in mine and up not in seen:
            seen.add(up)
            up = tree.get(up)
        if up is None or up not in mine:
            return team_id
    return mine[0]


# --------------------------------------------------------------------------- visibility


def sales_rule(membership: Any, configured: Mapping[str, str]) -> str | None:
    """The rule Sales applies to ``membership`` (``None``: the customer database's rule)."""
    if membership is None or membership.role not in RULED_ROLES:
        return None
    rule = configured.get(membership.role) or ""
    return rule if rule in RULES else None


def _teammates(user_id: uuid.UUID) -> Any:
    my_teams = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    return select(TeamMember.user_id).where(TeamMember.team_id.in_(my_teams))


def in_territories(user_id: uuid.UUID, region: Any, industry: Any) -> ColumnElement[bool]:
    """SQL: a record of ``region`` and ``industry`` (columns) falls in one of ``user_id``'s
    territories."""
    mine = aliased(TerritoryMember)

    def field_ok(name: str, column: Any) -> ColumnElement[bool]:
        any_rule, hit = aliased(TerritoryRule), aliased(TerritoryRule)
        has_values = (
            exists()
            .where(any_rule.territory_id == mine.territory_id, any_rule.field == name)
            .correlate_except(any_rule)
        )
        matches = (
            exists()
            .where(
                hit.territory_id == mine.territory_id,
                hit.field == name,
                hit.value == func.lower(column),
            )
            .correlate_except(hit)
        )
        return or_(not_(has_values), matches)

    some = aliased(TerritoryRule)
    has_any = exists().where(some.territory_id == mine.territory_id).correlate_except(some)
    return (
        exists()
        .where(
            mine.user_id == user_id,
            has_any,
            field_ok("region", region),
            field_ok("industry", industry),
        )
        .correlate_except(mine)
    )


def rule_clause(model: Any, rule: str, user_id: uuid.UUID) -> ColumnElement[bool] | None:
    """The deals or leads (``model``) a member sees under ``rule`` (``None``: all)."""
    if rule == "all":
        return None
    own = model.owner_id == user_id
    if rule == "own":
        return own
    team = or_(own, model.owner_id.in_(_teammates(user_id)))
    if rule == "team":
        return team
    if model.__tablename__ == "sfa_leads":
        return or_(team, in_territories(user_id, model.region, model.industry))
    covered = select(Account.id).where(in_territories(user_id, Account.region, Account.industry))
    return or_(team, and_(model.account_id.is_not(None), model.account_id.in_(covered)))
