"""Assignment rules: who gets a new lead that arrives without an owner.

Rules are tried in order; the first active one whose condition matches the lead wins and
hands the lead to the next of its members in turn (round-robin; a rule with one member
always assigns to that member). A condition is *any lead*, or the lead's region, industry
or source being one of the rule's values (comma-separated, case ignored), or the lead falling
in one of the named territories (``territories.py``; a territory rule without members of its
own hands leads to the territory's members). When no rule matches, the lead stays
unassigned in the shared pool. Members who left the workspace are skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm_platform.sdk import Membership, ValidationFailed, audit_record, clean_text, db, parse_uuid

from .models import AssignmentRule, Lead

MATCH_FIELDS = {
    "any": _l("Any lead"),
    "region": _l("Region (territory)"),
    "industry": _l("Industry"),
    "source": _l("Source"),
    "territory": _l("Territory (by name; no members chosen: the territory's members)"),
}
MAX_RULES = 50


def all_rules() -> list[AssignmentRule]:
    """The rules in the order they are tried."""
    stmt = select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.created_at)
    return list(db.session.scalars(stmt))


def values_of(rule: AssignmentRule) -> list[str]:
    """The values a rule's condition accepts, case-folded."""
    return [v.strip().casefold() for v in (rule.match_value or "").split(",") if v.strip()]


def matches(rule: AssignmentRule, lead: Lead) -> bool:
    """True when ``rule`` applies to ``lead``."""
    if not rule.active:
        return False
    if rule.match_field == "any":
        return True
    if rule.match_field == "territory":
        from .territories import territories_for

        names = values_of(rule)
        return any(t.name.casefold() in names for t in territories_for(lead.region, lead.industry))
    value = str(getattr(lead, rule.match_field, None) or "").strip().casefold()
    return bool(value) and value in values_of(rule)


def check_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values of a rule; ``ValidationFailed`` naming each bad field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        values["name"] = clean_text(data.get("name"), 100)
    except ValueError as exc:
        errors["name"] = str(exc)
    if not values.get("name") and "name" not in errors:
        errors["name"] = _("Enter a name.")
    field = str(data.get("match_field") or "any")
    if field not in MATCH_FIELDS:
        errors["match_field"] = _("Choose a condition.")
    values["match_field"] = field
    try:
        match_value = clean_text(data.get("match_value"), 200)
    except ValueError as exc:
        errors["match_value"] = str(exc)
        match_value = None
    if field != "any" and not match_value:
        errors.setdefault("match_value", _("Enter one or more values, separated by commas."))
    values["match_value"] = match_value if field != "any" else None
    raw = data.get("member_ids") or []
    raw = [raw] if isinstance(raw, str) else list(raw)
    ids = [parse_uuid(v) for v in raw]
    members = set(db.session.scalars(select(Membership.user_id)))
    if (not ids and field != "territory") or any(i is None or i not in members for i in ids):
        errors["member_ids"] = _("Choose one or more members of this workspace.")
    values["member_ids"] = list(dict.fromkeys(str(i) for i in ids if i is not None))
    values["active"] = bool(data.get("active", True))
    if errors:
        raise ValidationFailed(errors)
    return values


def add_rule(data: Mapping[str, Any], *, actor: Any = None) -> AssignmentRule:
    """Validate and add a rule at the end of the list (audited). Caller commits."""
    if db.session.scalar(select(func.count()).select_from(AssignmentRule)) >= MAX_RULES:
        raise ValidationFailed(
            {"name": _("A workspace can have at most %(num)d rules.", num=MAX_RULES)}
        )
    values = check_rule(data)
    position = (db.session.scalar(select(func.max(AssignmentRule.position))) or 0) + 1
    rule = AssignmentRule(**values, position=position)
    db.session.add(rule)
    db.session.flush()
    audit_record("sfa.assignment_rule.created", target=rule.name, actor=actor)
    return rule


def update_rule(rule: AssignmentRule, data: Mapping[str, Any], *, actor: Any = None) -> None:
    """Validate and apply changes to a rule (audited). Caller commits."""
    for name, value in check_rule(data).items():
        setattr(rule, name, value)
    audit_record("sfa.assignment_rule.updated", target=rule.name, actor=actor)


def delete_rule(rule: AssignmentRule, *, actor: Any = None) -> None:
    """Remove a rule (audited). Caller commits."""
    audit_record("sfa.assignment_rule.deleted", target=rule.name, actor=actor)
    db.session.delete(rule)


def move_rule(rule: AssignmentRule, offset: int) -> None:
    """Try a rule one place earlier (``-1``) or later (``+1``)."""
    rules = all_rules()
    index = next(i for i, r in enumerate(rules) if r.id == rule.id)
    other = index + offset
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
        for position, row in enumerate(rules):
            row.position = position


def assignee_for(lead: Lead) -> uuid.UUID | None:
    """The member the first matching rule hands ``lead`` to (advancing its turn), or None.

    The rule rows are locked while their turn advances, so two leads arriving at once go to
    two members.
    """
    members = set(db.session.scalars(select(Membership.user_id)))
    stmt = (
        select(AssignmentRule)
        .where(AssignmentRule.active.is_(True))
        .order_by(AssignmentRule.position, AssignmentRule.created_at)
        .with_for_update()
    )
    for rule in db.session.scalars(stmt):
        if not matches(rule, lead):
            continue
        chosen = [parse_uuid(m) for m in rule.member_ids]
        if not chosen and rule.match_field == "territory":
            from .territories import territory_members_for

            chosen = territory_members_for(values_of(rule), lead.region, lead.industry)
        candidates = [u for u in chosen if u in members]
        if not candidates:
            continue
        choice = candidates[rule.next_index % len(candidates)]
        rule.next_index = (rule.next_index + 1) % len(candidates)
        return choice
    return None
