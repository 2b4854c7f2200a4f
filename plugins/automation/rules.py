"""The rule builder's form: reading trigger → conditions → actions from the posted fields,
checking them (one message per field) and saving the rule.

Condition and action rows are added by htmx without a page reload; each row carries a
random ``token`` so its fields (``c_<token>_field``, ``a_<token>_<param>``) stay apart.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm_platform.sdk import (
    ValidationFailed,
    automation_actions,
    installed_modules,
    module_enabled,
)
from crm_platform.sdk import db as _db

from .actions import new_secret
from .engine import NEEDS_VALUE, OPERATORS, date_fields, model_of
from .models import Rule

#: Events of the core's records that rules may listen to.
CORE_EVENTS = {
    "account.created": _l("An account was created"),
    "account.updated": _l("An account was changed"),
    "contact.created": _l("A contact was created"),
    "contact.updated": _l("A contact was changed"),
    "activity.created": _l("An activity or task was logged"),
    "order.created": _l("An order was created"),
    "order.updated": _l("An order was changed"),
}
#: Kinds whose date fields time-based rules may watch.
DATE_KINDS = ("account", "contact", "activity", "deal", "ticket", "quote")
TRIGGER_TYPES = ("event", "date", "schedule")
MAX_ROWS = 20
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TOKEN = re.compile(r"^[a-z0-9]{4,16}$")


def trigger_events() -> dict[str, Any]:
    """Events a rule may listen to: the core's and those of the modules that are on."""
    events: dict[str, Any] = dict(CORE_EVENTS)
    for key, descriptor in sorted(installed_modules().items()):
        if key != "automation" and module_enabled(key):
            for name, label in descriptor.events.items():
                if not name.startswith(("module.", "automation.")):
                    events.setdefault(name, label)
    return events


def date_choices() -> list[tuple[str, str]]:
    """``kind.field`` pairs of the date fields time-based rules may watch."""
    out = []
    for kind in DATE_KINDS:
        if model_of(kind) is None:
            continue
        out += [(f"{kind}.{name}", f"{kind}: {name}") for name in date_fields(kind)]
    return out


def field_suggestions() -> list[str]:
    """Field names conditions may test (a datalist for the builder)."""
    names: set[str] = {"name", "changed"}
    for kind in ("account", "contact", "activity", "deal", "ticket", "lead", "order"):
        model = model_of(kind)
        if model is not None:
            names |= {c.key for c in model.__table__.columns if c.key != "tenant_id"}
    names |= {"from_stage", "to_stage", "stage", "amount", "total", "status"}
    return sorted(names)


def token() -> str:
    return secrets.token_hex(4)


@dataclass
class RuleDraft:
    """The form's values, to show again with errors."""

    name: str = ""
    description: str = ""
    active: bool = True
    trigger_type: str = "event"
    event: str = ""
    date_field: str = ""
    date_days: str = "3"
    date_when: str = "before"
    schedule_every: str = "daily"
    schedule_weekday: str = "0"
    schedule_at: str = "08:00"
    conditions: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, rule: Rule) -> RuleDraft:
        trigger = rule.trigger or {}
        return cls(
            name=rule.name,
            description=rule.description or "",
            active=rule.active,
            trigger_type=rule.trigger_type,
            event=rule.event or "",
            date_field=f"{trigger.get('kind')}.{trigger.get('field')}"
            if rule.trigger_type == "date"
            else "",
            date_days=str(trigger.get("days", 3)),
            date_when=trigger.get("when", "before"),
            schedule_every=trigger.get("every", "daily"),
            schedule_weekday=str(trigger.get("weekday", 0)),
            schedule_at=trigger.get("at", "08:00"),
            conditions=[{**c, "token": token()} for c in rule.conditions or []],
            actions=[
                {"type": a.get("type", ""), "params": dict(a.get("params") or {}), "token": token()}
                for a in rule.actions or []
            ],
        )


def _tokens(form: Mapping[str, Any], name: str) -> list[str]:
    values = form.getlist(name) if hasattr(form, "getlist") else form.get(name, [])
    return [t for t in values if _TOKEN.match(t or "")][:MAX_ROWS]


def read_form(form: Mapping[str, Any]) -> RuleDraft:
    """A draft from the posted fields (nothing checked yet)."""
    get = lambda n, d="": str(form.get(n, d) or "").strip()  # noqa: E731
    draft = RuleDraft(
        name=get("name"),
        description=get("description"),
        active=bool(form.get("active")),
        trigger_type=get("trigger_type", "event"),
        event=get("event"),
        date_field=get("date_field"),
        date_days=get("date_days", "0"),
        date_when=get("date_when", "before"),
        schedule_every=get("schedule_every", "daily"),
        schedule_weekday=get("schedule_weekday", "0"),
        schedule_at=get("schedule_at", "08:00"),
    )
    for t in _tokens(form, "condition"):
        draft.conditions.append(
            {
                "token": t,
                "field": get(f"c_{t}_field"),
                "op": get(f"c_{t}_op"),
                "value": get(f"c_{t}_value"),
            }
        )
    actions = automation_actions()
    for t in _tokens(form, "action"):
        kind = get(f"a_{t}_type")
        action = actions.get(kind)
        names = list(action.fields) if action else []
        params = {n: get(f"a_{t}_{n}") for n in names}
        if kind == "call_webhook":
            params["secret"] = get(f"a_{t}_secret")
        draft.actions.append({"token": t, "type": kind, "params": params})
    return draft


def check(draft: RuleDraft, rule: Rule | None = None) -> dict[str, Any]:
    """The rule's stored values from ``draft``; raises ``ValidationFailed`` by field."""
    errors: dict[str, str] = {}
    if not draft.name:
        errors["name"] = _("Give the rule a name.")
    elif len(draft.name) > 120:
        errors["name"] = _("Use at most %(num)d characters.", num=120)
    else:
        same = select(Rule.id).where(Rule.name == draft.name)
        if rule is not None:
            same = same.where(Rule.id != rule.id)
        if _db.session.scalar(same) is not None:
            errors["name"] = _("Another rule has this name.")
    trigger: dict[str, Any] = {"type": draft.trigger_type}
    event: str | None = None
    if draft.trigger_type == "event":
        if draft.event not in trigger_events():
            errors["event"] = _("Choose the event that starts the rule.")
        event = trigger["event"] = draft.event
    elif draft.trigger_type == "date":
        if draft.date_field not in dict(date_choices()):
            errors["date_field"] = _("Choose a date field.")
        kind, _sep, name = draft.date_field.partition(".")
        trigger.update(kind=kind, field=name, when=draft.date_when)
        if draft.date_when not in ("before", "after"):
            errors["date_when"] = _("Choose before or after.")
        if not draft.date_days.isdigit() or int(draft.date_days) > 365:
            errors["date_days"] = _("Enter a number of days from 0 to 365.")
        else:
            trigger["days"] = int(draft.date_days)
    elif draft.trigger_type == "schedule":
        if draft.schedule_every not in ("daily", "weekly"):
            errors["schedule_every"] = _("Choose daily or weekly.")
        if not _TIME.match(draft.schedule_at):
            errors["schedule_at"] = _("Enter a time as HH:MM (UTC).")
        if not draft.schedule_weekday.isdigit() or int(draft.schedule_weekday) > 6:
            errors["schedule_weekday"] = _("Choose a day of the week.")
        trigger.update(
            every=draft.schedule_every,
            at=draft.schedule_at,
            weekday=int(draft.schedule_weekday) if draft.schedule_weekday.isdigit() else 0,
        )
    else:
        errors["trigger_type"] = _("Choose what starts the rule.")
    conditions = []
    for row in draft.conditions:
        t = row["token"]
        if not row["field"] and not row["value"]:
            continue  # an empty row is ignored
        if not re.match(r"^[a-z_][a-z0-9_]{0,79}$", row["field"]):
            errors[f"c_{t}_field"] = _("Enter a field name such as lifecycle_stage.")
        if row["op"] not in OPERATORS:
            errors[f"c_{t}_op"] = _("Choose how to compare.")
        elif row["op"] in NEEDS_VALUE and not row["value"]:
            errors[f"c_{t}_value"] = _("Enter the value to compare with.")
        if row["op"] in ("changed", "changed_to") and draft.trigger_type != "event":
            errors[f"c_{t}_op"] = _("Only rules started by a change can test what changed.")
        conditions.append({"field": row["field"], "op": row["op"], "value": row["value"][:500]})
    actions = automation_actions()
    stored = []
    if not draft.actions:
        errors["actions"] = _("Add at least one action.")
    for row in draft.actions:
        t, action = row["token"], actions.get(row["type"])
        if action is None:
            errors[f"a_{t}_type"] = _("Choose an action.")
            continue
        params = dict(row["params"])
        for name, message in (action.check(params) if action.check else {}).items():
            errors[f"a_{t}_{name}"] = str(message)
        if action.key == "call_webhook" and not params.get("secret"):
            params["secret"] = new_secret()
        stored.append({"type": action.key, "params": params})
    if errors:
        raise ValidationFailed(errors)
    return {
        "name": draft.name,
        "description": draft.description[:2000] or None,
        "active": draft.active,
        "trigger_type": draft.trigger_type,
        "event": event,
        "trigger": trigger,
        "conditions": conditions,
        "actions": stored,
    }


def save(draft: RuleDraft, rule: Rule | None, actor: Any) -> Rule:
    """Create or update a rule from ``draft``; raises ``ValidationFailed``. Caller commits."""
    values = check(draft, rule)
    if rule is None:
        rule = Rule(created_by_id=getattr(actor, "id", None), **values)
        _db.session.add(rule)
    else:
        for name, value in values.items():
            setattr(rule, name, value)
    _db.session.flush()
    return rule
