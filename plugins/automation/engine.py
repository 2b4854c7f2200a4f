"""Running rules: which events they listen to, conditions, runs, loop protection.

* ``on_event`` (the ``crm_event`` hook, inside the user's save) only asks whether an active
  rule of the tenant listens to the event and, if one does, queues ONE job after commit.
* ``run_event`` (that job) evaluates each listening rule's conditions against the record's
  current state and the event's changes, and runs the matching rules' actions.
* ``execute`` runs one rule for one change: it claims the run by inserting
  ``(rule_id, key)`` (unique), runs the actions in a savepoint and commits; a failing action
  rolls back the rule's own writes and marks the run ``failed`` with the error. A retried
  job finds the run already there and skips it: exactly once per change and rule.
* Loop protection: changes made by a rule's actions carry ``source="automation:<rule>:<d>"``
  (and the events they emit are tagged with the rule and depth while the actions run). A
  rule never fires on a change it made itself, and a chain of automated changes stops at
  ``MAX_DEPTH`` (the runs it stops are recorded as ``skipped``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Date, select
from sqlalchemy.exc import IntegrityError

from crm_platform.sdk import (
    Account,
    Activity,
    Base,
    Contact,
    DomainEvent,
    automation_actions,
    db,
    job,
    utcnow,
    uuid7,
)

from .models import Rule, RuleRun

log = logging.getLogger(__name__)

#: A chain of automated changes deeper than this stops (user change = depth 0).
MAX_DEPTH = 3
SOURCE_PREFIX = "automation:"
ERROR_CHARS = 2000

#: (rule id, depth of the changes its actions make) while a rule's actions run.
_CHAIN: contextvars.ContextVar[tuple[str, int] | None] = contextvars.ContextVar(
    "automation_chain", default=None
)

# --------------------------------------------------------------------------- records

_CORE_MODELS: dict[str, Any] = {"account": Account, "contact": Contact, "activity": Activity}
#: Where the records of other modules' kinds live (read only; found among mapped classes).
_TABLES = {
    "deal": "sfa_deals",
    "lead": "sfa_leads",
    "quote": "sfa_quotes",
    "ticket": "service_tickets",
    "order": "orders",
}


def model_of(kind: str) -> Any:
    """The mapped class of ``kind`` records, or ``None`` when no module provides it."""
    if kind in _CORE_MODELS:
        return _CORE_MODELS[kind]
    table = _TABLES.get(kind)
    if table is None:
        return None
    for mapper in Base.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table:
            return mapper.class_
    return None


def date_fields(kind: str) -> list[str]:
    """Names of the date columns of ``kind`` records (time-based triggers)."""
    model = model_of(kind)
    if model is None:
        return []
    return [c.key for c in model.__table__.columns if isinstance(c.type, Date)]


def load_record(kind: str, record_id: Any) -> Any:
    """The live record, or ``None`` (deleted, unknown kind, another tenant's id)."""
    model = model_of(kind)
    if model is None or record_id is None:
        return None
    rid = record_id if isinstance(record_id, uuid.UUID) else _uuid(record_id)
    if rid is None:
        return None
    record = db.session.scalars(select(model).where(model.id == rid)).unique().one_or_none()
    if record is not None and getattr(record, "deleted_at", None) is not None:
        return None
    return record


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def record_values(record: Any) -> dict[str, Any]:
    """The record's column values and custom fields (``cf_<key>``) by name."""
    if record is None:
        return {}
    values = {c.key: getattr(record, c.key, None) for c in record.__table__.columns}
    values.pop("tenant_id", None)
    for key, value in (getattr(record, "custom", None) or {}).items():
        values[f"cf_{key}"] = value
    if hasattr(record, "display_name"):
        values.setdefault("name", record.display_name)
    return values


def json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as plain JSON values (dates, decimals and ids as strings)."""
    return json.loads(json.dumps(dict(data), default=str))


# --------------------------------------------------------------------------- conditions

OPERATORS = ("equals", "not_equals", "changed", "changed_to", "gt", "lt", "contains", "empty")
NEEDS_VALUE = frozenset({"equals", "not_equals", "changed_to", "gt", "lt", "contains"})


def operator_labels() -> dict[str, str]:
    return {
        "equals": _("equals"),
        "not_equals": _("does not equal"),
        "changed": _("changed"),
        "changed_to": _("changed to"),
        "gt": _("is greater than"),
        "lt": _("is less than"),
        "contains": _("contains"),
        "empty": _("is empty"),
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value).strip()


def _number(value: Any) -> Decimal | date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            return None


def _compare(op: str, actual: Any, expected: str) -> bool:
    left, right = _number(actual), _number(expected)
    if left is None or right is None or type(left) is not type(right):
        return False
    return left > right if op == "gt" else left < right


def condition_holds(cond: Mapping[str, Any], values: Mapping[str, Any], changed: set[str]) -> bool:
    """One condition ``{field, op, value}`` against the record's values and changed fields."""
    name, op, expected = cond.get("field", ""), cond.get("op", ""), _text(cond.get("value"))
    actual = values.get(name)
    if op == "changed":
        return name in changed
    if op == "changed_to":
        return name in changed and _text(actual).lower() == expected.lower()
    if op == "equals":
        return _text(actual).lower() == expected.lower()
    if op == "not_equals":
        return _text(actual).lower() != expected.lower()
    if op in ("gt", "lt"):
        return _compare(op, actual, expected)
    if op == "contains":
        if isinstance(actual, list | tuple):
            return any(_text(v).lower() == expected.lower() for v in actual)
        return expected.lower() in _text(actual).lower()
    if op == "empty":
        return _text(actual) == ""
    return False


def changed_fields(event_name: str, data: Mapping[str, Any]) -> set[str]:
    """The fields a change touched: ``data["changed"]``, or the stage of a stage change."""
    changed = set(data.get("changed") or ())
    if event_name.endswith(".stage_changed"):
        changed |= {"stage", "stage_id"}
    if event_name.endswith(".created"):
        changed |= {k for k, v in data.items() if v not in (None, "")}
    return changed


def matches(rule: Rule, values: Mapping[str, Any], changed: set[str]) -> bool:
    """All of the rule's conditions hold (a rule without conditions always matches)."""
    return all(condition_holds(c, values, changed) for c in rule.conditions or [])


# --------------------------------------------------------------------------- events


def chain_of(event: DomainEvent) -> tuple[str | None, int]:
    """(the rule whose actions caused ``event``, its depth); ``(None, 0)`` for a user's."""
    current = _CHAIN.get()
    if current is not None:
        return current
    source = str((event.data or {}).get("source") or "")
    if source.startswith(SOURCE_PREFIX):
        parts = source.split(":")
        if len(parts) == 3 and parts[2].isdigit():
            return parts[1], int(parts[2])
    return None, 0


#: Key of the event data that holds the changed fields' values at the time of the change.
SNAPSHOT = "_automation_values"


def snapshot(event: DomainEvent) -> dict[str, Any]:
    """The values of the fields ``event`` changed, as they were then (the record is in the
    session's identity map: no query). A rule's job runs later, when they may differ."""
    changed = list((event.data or {}).get("changed") or ())
    model = model_of(event.name.split(".", 1)[0])
    if not changed or model is None or event.record_id is None:
        return {}
    record = db.session.get(model, (event.tenant_id, event.record_id))
    values = record_values(record)
    return {name: values.get(name) for name in changed}


def listening_rules(event_name: str) -> list[Rule]:
    stmt = (
        select(Rule)
        .where(Rule.active.is_(True), Rule.trigger_type == "event", Rule.event == event_name)
        .order_by(Rule.created_at, Rule.id)
    )
    return list(db.session.scalars(stmt))


def on_event(event: DomainEvent) -> None:
    """``crm_event``: cheap check, then one job per event queued after the save commits."""
    if event.name.startswith("automation."):
        return
    listens = db.session.scalar(
        select(Rule.id)
        .where(Rule.active.is_(True), Rule.trigger_type == "event", Rule.event == event.name)
        .limit(1)
    )
    if listens is None:
        return
    origin, depth = chain_of(event)
    data = dict(event.data or {})
    data[SNAPSHOT] = snapshot(event)
    run_event.enqueue_after_commit(
        event.name,
        str(event.record_id) if event.record_id else None,
        json_safe(data),
        str(uuid7()),
        depth,
        origin,
    )


@job(retries=3, module="automation")
def run_event(
    event_name: str,
    record_id: str | None,
    data: dict[str, Any],
    event_id: str,
    depth: int = 0,
    origin: str | None = None,
) -> dict[str, int]:
    """Evaluate and run every active rule listening to ``event_name`` (a job)."""
    counts = {"ok": 0, "failed": 0, "skipped": 0, "not_matching": 0, "done_before": 0}
    kind = event_name.split(".", 1)[0]
    for rule in listening_rules(event_name):
        if origin is not None and str(rule.id) == origin:
            continue  # a rule never fires on a change it made itself
        record = load_record(kind, record_id)
        values = event_values(data, record)
        tested = event_values(data, record, at_change=True)
        if not matches(rule, tested, changed_fields(event_name, data)):
            counts["not_matching"] += 1
            continue
        ctx = RunContext(
            kind=kind,
            record_id=_uuid(record_id),
            record=record,
            values=values,
            event=event_name,
            rule_name=rule.name,
        )
        status = execute(rule, f"event:{event_id}", ctx, data=data, depth=depth)
        counts[status or "done_before"] += 1
    return counts


def event_values(data: Mapping[str, Any], record: Any, *, at_change: bool = False) -> dict:
    """The event's summary overridden by the record's current state (what actions see);
    ``at_change``: overridden again by the changed fields' values at the time of the
    change (what conditions test, so a later change cannot make an earlier one match)."""
    values = {k: v for k, v in data.items() if k not in ("changed", SNAPSHOT)}
    values.update(record_values(record))
    if at_change:
        values.update(data.get(SNAPSHOT) or {})
    return values


# --------------------------------------------------------------------------- running


@dataclass
class RunContext:
    """What an action gets (``AutomationAction.run(params, context)``)."""

    kind: str | None
    record_id: uuid.UUID | None
    record: Any
    values: dict[str, Any]
    event: str
    rule_name: str
    source: str = ""
    results: list[str] = field(default_factory=list)


@contextmanager
def _chained(rule_id: str, depth: int) -> Iterator[None]:
    token = _CHAIN.set((rule_id, depth))
    try:
        yield
    finally:
        _CHAIN.reset(token)


def run_actions(rule: Rule, ctx: RunContext, depth: int) -> list[str]:
    """Run the rule's actions in order; the first that raises stops the rest."""
    available = automation_actions()
    ctx.source = f"{SOURCE_PREFIX}{rule.id}:{depth + 1}"
    results: list[str] = []
    with _chained(str(rule.id), depth + 1):
        for step in rule.actions or []:
            action = available.get(step.get("type", ""))
            if action is None:
                raise RuntimeError(
                    _("The action %(action)s is not available.", action=step.get("type"))
                )
            if action.kinds and ctx.kind not in action.kinds:
                raise RuntimeError(
                    _("%(action)s does not work on this kind of record.", action=action.label)
                )
            outcome = action.run(dict(step.get("params") or {}), ctx)
            results.append(f"{action.key}: {outcome}" if outcome else action.key)
    return results


def execute(
    rule: Rule,
    key: str,
    ctx: RunContext,
    *,
    data: Mapping[str, Any] | None = None,
    depth: int = 0,
) -> str | None:
    """Run ``rule`` once for the change ``key``; its status, or ``None`` when it ran before."""
    exists = db.session.scalar(
        select(RuleRun.id).where(RuleRun.rule_id == rule.id, RuleRun.key == key)
    )
    if exists is not None:
        return None
    run = RuleRun(
        id=uuid7(),
        rule_id=rule.id,
        key=key[:200],
        event=ctx.event[:80],
        record_id=ctx.record_id,
        data=json_safe(data or {}),
        depth=depth,
        status="running",
        started_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:  # another worker claimed it a moment ago
        return None
    if depth >= MAX_DEPTH:
        _finish(rule, run, "skipped", None, [], 0)
        run.error = _("Stopped: a chain of %(num)d automated changes (loop protection).", num=depth)
        db.session.commit()
        return "skipped"
    _attempt(rule, run, ctx)
    return run.status


def _attempt(rule: Rule, run: RuleRun, ctx: RunContext) -> None:
    """Run the actions in a savepoint, record the outcome, commit."""
    started = time.monotonic()
    try:
        with db.session.begin_nested():
            results = run_actions(rule, ctx, run.depth)
    except Exception as exc:  # a failing action fails the run, never the caller
        log.info("automation rule %s failed: %s", rule.id, exc)
        message = str(exc) or type(exc).__name__
        errors = getattr(exc, "errors", None)
        if isinstance(errors, Mapping) and errors:
            message = "; ".join(f"{k}: {v}" for k, v in errors.items())
        _finish(rule, run, "failed", message, [], started)
    else:
        _finish(rule, run, "ok", None, results, started)
    db.session.commit()


def _finish(
    rule: Rule, run: RuleRun, status: str, error: str | None, results: list[str], started: float
) -> None:
    now = utcnow()
    run.status, run.error, run.results = status, (error or None) and error[:ERROR_CHARS], results
    run.finished_at = now
    run.duration_ms = int((time.monotonic() - started) * 1000) if started else 0
    rule.last_run_at, rule.last_status = now, status


@job(retries=0, module="automation")
def retry_run(run_id: str) -> str:
    """Run a failed run's actions again (an admin's choice) for the same change."""
    run = db.session.scalars(select(RuleRun).where(RuleRun.id == _uuid(run_id))).one_or_none()
    if run is None or run.status != "failed":
        return "skipped"
    rule = db.session.scalars(select(Rule).where(Rule.id == run.rule_id)).one()
    kind = run.event.split(".", 1)[0] if "." in run.event else None
    record = load_record(kind, run.record_id) if kind else None
    values = event_values(run.data or {}, record)
    ctx = RunContext(kind, run.record_id, record, values, run.event, rule.name)
    run.attempts += 1
    run.status, run.error = "running", None
    _attempt(rule, run, ctx)
    return run.status


# --------------------------------------------------------------------------- time-based


def _today() -> date:
    return utcnow().date()


@job(retries=3, module="automation")
def scan_time_rules() -> dict[str, int]:
    """Date-relative and scheduled rules (hourly; each runs once per record and day)."""
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    now, today = utcnow(), _today()
    rules = db.session.scalars(
        select(Rule)
        .where(Rule.active.is_(True), Rule.trigger_type.in_(("date", "schedule")))
        .order_by(Rule.created_at, Rule.id)
    ).all()
    for rule in rules:
        if rule.trigger_type == "schedule":
            items = _scheduled(rule, now, today)
        else:
            items = _dated(rule, today)
        for key, ctx in items:
            if not matches(rule, ctx.values, set()):
                continue
            status = execute(rule, key, ctx)
            if status:
                counts[status] += 1
    return counts


def _scheduled(rule: Rule, now: datetime, today: date) -> list[tuple[str, RunContext]]:
    trigger = rule.trigger or {}
    hour, _sep, minute = str(trigger.get("at") or "08:00").partition(":")
    due = now.replace(hour=int(hour), minute=int(minute or 0), second=0, microsecond=0)
    if now < due:
        return []
    if trigger.get("every") == "weekly" and int(trigger.get("weekday", 0)) != today.weekday():
        return []
    ctx = RunContext(None, None, None, {"today": today.isoformat()}, "schedule", rule.name)
    return [(f"schedule:{today.isoformat()}", ctx)]


#: Records a date rule looks at per scan, at most.
DATE_BATCH = 500


def _dated(rule: Rule, today: date) -> list[tuple[str, RunContext]]:
    trigger = rule.trigger or {}
    kind, name = trigger.get("kind", ""), trigger.get("field", "")
    model = model_of(kind)
    if model is None or name not in date_fields(kind):
        return []
    days = int(trigger.get("days") or 0)
    target = today + timedelta(days=days if trigger.get("when") == "before" else -days)
    stmt = select(model).where(getattr(model, name) == target)
    if hasattr(model, "deleted_at"):
        stmt = stmt.where(model.deleted_at.is_(None))
    records = db.session.scalars(stmt.order_by(model.id).limit(DATE_BATCH)).unique().all()
    out = []
    for record in records:
        values = record_values(record)
        ctx = RunContext(kind, record.id, record, values, f"{kind}.date", rule.name)
        out.append((f"date:{record.id}:{today.isoformat()}", ctx))
    return out
