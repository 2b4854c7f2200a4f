"""Lead scoring: rules a tenant defines, and each lead's score recomputed when it changes.

A rule gives points (negative ones too) either for a field condition of the lead
(``industry`` *is* ``banking`` → +10; ``email`` *contains* ``@gmail.`` → -5; ``phone`` *is
filled in* → +3) or for every activity of a kind logged on the lead (each call → +5). A
lead's score is the sum over all rules. It is recomputed whenever the lead or its activities
change, and for every open lead (a job) when the rules change. Text compares ignore case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm_platform.sdk import ACTIVITY_KIND_LABELS, ValidationFailed, audit_record, clean_text, db

from .models import Lead, LeadActivity, ScoringRule

FIELDS = {
    "industry": _l("Industry"),
    "source": _l("Source"),
    "region": _l("Region"),
    "company": _l("Company"),
    "title": _l("Job title"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
}
OPERATORS = {"equals": _l("is"), "contains": _l("contains"), "is_set": _l("is filled in")}
#: What can be logged on a lead (the core's activity kinds without tasks).
ACTIVITY_KINDS = ("call", "meeting", "email", "note")
MAX_RULES = 100
MAX_POINTS = 1000


def all_rules() -> list[ScoringRule]:
    """The tenant's scoring rules in the order they were added."""
    return list(db.session.scalars(select(ScoringRule).order_by(ScoringRule.position)))


def describe(rule: ScoringRule) -> str:
    """A rule as a line of text: ``Industry is banking`` or ``Each call``."""
    if rule.kind == "activity":
        label = ACTIVITY_KIND_LABELS.get(rule.activity_kind or "", rule.activity_kind)
        return _("Each %(kind)s logged", kind=str(label).lower())
    field = FIELDS.get(rule.field or "", rule.field)
    operator = OPERATORS.get(rule.operator or "", rule.operator)
    if rule.operator == "is_set":
        return f"{field} {operator}"
    return f"{field} {operator} “{rule.value}”"


def check_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned values of a new rule; ``ValidationFailed`` naming each bad field."""
    errors: dict[str, str] = {}
    kind = str(data.get("kind") or "field")
    values: dict[str, Any] = {"kind": kind}
    try:
        points = int(str(data.get("points", "")).strip())
    except ValueError:
        points = None
    if points is None or not -MAX_POINTS <= points <= MAX_POINTS or points == 0:
        errors["points"] = _(
            "Enter points from %(min)d to %(max)d, not 0.", min=-MAX_POINTS, max=MAX_POINTS
        )
    values["points"] = points
    if kind == "activity":
        activity_kind = str(data.get("activity_kind") or "")
        if activity_kind not in ACTIVITY_KINDS:
            errors["activity_kind"] = _("Choose a kind of activity.")
        values["activity_kind"] = activity_kind
    elif kind == "field":
        field, operator = str(data.get("field") or ""), str(data.get("operator") or "")
        if field not in FIELDS:
            errors["field"] = _("Choose a field.")
        if operator not in OPERATORS:
            errors["operator"] = _("Choose a condition.")
        try:
            value = clean_text(data.get("value"), 200)
        except ValueError as exc:
            errors["value"] = str(exc)
            value = None
        if operator != "is_set" and not value:
            errors.setdefault("value", _("Enter the value to compare with."))
        values.update(field=field, operator=operator, value=value if operator != "is_set" else None)
    else:
        errors["kind"] = _("Choose a field condition or an activity.")
    if db.session.scalar(select(func.count()).select_from(ScoringRule)) >= MAX_RULES:
        errors["points"] = _("A workspace can have at most %(num)d scoring rules.", num=MAX_RULES)
    if errors:
        raise ValidationFailed(errors)
    return values


def add_rule(data: Mapping[str, Any], *, actor: Any = None) -> ScoringRule:
    """Validate and add a rule (audited). Caller commits and rescores (``rescore_leads``)."""
    values = check_rule(data)
    position = (db.session.scalar(select(func.max(ScoringRule.position))) or 0) + 1
    rule = ScoringRule(**values, position=position)
    db.session.add(rule)
    db.session.flush()
    audit_record(
        "sfa.scoring_rule.created",
        target=describe(rule),
        actor=actor,
        details={"points": rule.points},
    )
    return rule


def delete_rule(rule: ScoringRule, *, actor: Any = None) -> None:
    """Remove a rule (audited). Caller commits and rescores."""
    audit_record("sfa.scoring_rule.deleted", target=describe(rule), actor=actor)
    db.session.delete(rule)
    db.session.flush()


def _text_of(lead: Lead, field: str) -> str:
    return str(getattr(lead, field, None) or "").strip().casefold()


def matches(rule: ScoringRule, lead: Lead) -> bool:
    """True when a field rule's condition holds for ``lead``."""
    value = _text_of(lead, rule.field or "")
    if rule.operator == "is_set":
        return bool(value)
    wanted = (rule.value or "").strip().casefold()
    if rule.operator == "equals":
        return value == wanted
    return bool(wanted) and wanted in value


def score_of(lead: Lead, rules: list[ScoringRule], activity_counts: Mapping[str, int]) -> int:
    """The score ``rules`` give ``lead`` with ``activity_counts`` (by kind) logged on it."""
    total = 0
    for rule in rules:
        if rule.kind == "activity":
            total += rule.points * activity_counts.get(rule.activity_kind or "", 0)
        elif matches(rule, lead):
            total += rule.points
    return total


def activity_counts(lead_ids: list[Any]) -> dict[Any, dict[str, int]]:
    """How many activities of each kind each lead has (one query)."""
    out: dict[Any, dict[str, int]] = {}
    if not lead_ids:
        return out
    stmt = (
        select(LeadActivity.lead_id, LeadActivity.kind, func.count())
        .where(LeadActivity.lead_id.in_(lead_ids))
        .group_by(LeadActivity.lead_id, LeadActivity.kind)
    )
    for lead_id, kind, count in db.session.execute(stmt):
        out.setdefault(lead_id, {})[kind] = count
    return out


def rescore(lead: Lead, rules: list[ScoringRule] | None = None) -> int:
    """Recompute and store one lead's score; returns it."""
    rules = all_rules() if rules is None else rules
    counts = activity_counts([lead.id]).get(lead.id, {}) if lead.id else {}
    lead.score = score_of(lead, rules, counts)
    return lead.score


def rescore_all(batch: int = 500, progress: Any = None) -> int:
    """Recompute the score of every lead not converted yet; returns how many changed."""
    rules = all_rules()
    ids = list(db.session.scalars(select(Lead.id).where(Lead.status != "converted")))
    changed = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        counts = activity_counts(chunk)
        for lead in db.session.scalars(select(Lead).where(Lead.id.in_(chunk))).unique():
            score = score_of(lead, rules, counts.get(lead.id, {}))
            if score != lead.score:
                lead.score, changed = score, changed + 1
        db.session.flush()
        if progress is not None:
            progress(min(start + batch, len(ids)), len(ids))
    return changed
