"""Configuring the service desk: queues, SLA policies, business hours and holidays, canned
responses, escalation rules, call scripts, knowledge-base categories.

Each ``save_*`` validates its whole input first (``ValidationFailed`` naming the fields),
then writes; the caller commits. Deleting something still in use is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from crm_platform.sdk import ValidationFailed, clean_choice, clean_date, db, parse_uuid

from . import validation
from .business_hours import WEEKDAYS, CalendarError, check_hours
from .models import (
    ASSIGNMENT_MODES,
    ESCALATION_ACTIONS,
    ESCALATION_TRIGGERS,
    PRIORITIES,
    Article,
    Calendar,
    Call,
    CallScript,
    CannedResponse,
    EscalationRule,
    Holiday,
    KbCategory,
    Queue,
    QueueMember,
    SlaPolicy,
    SlaTarget,
    Survey,
    Ticket,
)

MAX_TARGET_HOURS = 24 * 365


def _fail_if(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(errors)


def _required(values: dict[str, Any], errors: dict[str, str], name: str, message: str) -> None:
    if name not in errors and not values.get(name):
        errors[name] = message


def _unique(model: Any, column: str, value: Any, current: Any) -> bool:
    stmt = select(model.id).where(getattr(model, column) == value)
    if current is not None:
        stmt = stmt.where(model.id != current.id)
    return db.session.scalar(stmt) is None


def _used(*checks: tuple[Any, Any]) -> bool:
    return any(
        db.session.scalar(select(func.count()).select_from(model).where(condition))
        for model, condition in checks
    )


# ----------------------------------------------------------------- queues


def save_queue(queue: Queue | None, data: Mapping[str, Any], members: list[str]) -> Queue:
    """Create or change a queue and its agents."""
    values, errors = validation.run_checks(
        {
            "name": validation.text(100),
            "description": validation.text(2000, multiline=True),
            "assignment": lambda v: clean_choice(v or "manual", ASSIGNMENT_MODES, required=True),
        },
        data,
        only_given=False,
    )
    _required(values, errors, "name", _("Enter a name."))
    if values.get("name") and not _unique(Queue, "name", values["name"], queue):
        errors["name"] = _("There is a queue with this name already.")
    agent_ids = []
    for raw in members:
        try:
            agent_ids.append(validation.member(raw))
        except ValueError as exc:
            errors["members"] = str(exc)
    _fail_if(errors)
    if queue is None:
        queue = Queue()
        db.session.add(queue)
    queue.name, queue.description, queue.assignment = (
        values["name"],
        values["description"],
        values["assignment"],
    )
    if data.get("is_default") or not _others_default(queue):
        db.session.execute(
            update(Queue).values(is_default=False).execution_options(synchronize_session=False)
        )
        queue.is_default = True
    db.session.flush()
    db.session.execute(delete(QueueMember).where(QueueMember.queue_id == queue.id))
    for uid in dict.fromkeys(a for a in agent_ids if a):
        db.session.add(QueueMember(queue_id=queue.id, user_id=uid))
    db.session.flush()
    return queue


def _others_default(queue: Queue) -> bool:
    stmt = select(Queue.id).where(Queue.is_default.is_(True))
    if queue.id is not None:
        stmt = stmt.where(Queue.id != queue.id)
    return db.session.scalar(stmt) is not None


def delete_queue(queue: Queue) -> None:
    """Delete a queue nobody uses (no tickets, calls or surveys; not the default)."""
    if queue.is_default:
        raise ValidationFailed({"queue": _("The default queue cannot be deleted.")})
    if _used(
        (Ticket, Ticket.queue_id == queue.id),
        (Call, Call.queue_id == queue.id),
        (Survey, Survey.queue_id == queue.id),
    ):
        raise ValidationFailed({"queue": _("Tickets or calls use this queue: move them first.")})
    db.session.delete(queue)


def queue_members(queue: Queue) -> list[QueueMember]:
    """The agents of a queue."""
    return list(db.session.scalars(select(QueueMember).where(QueueMember.queue_id == queue.id)))


# ----------------------------------------------------------------- SLA policies


def _hours(value: Any) -> int:
    """Hours as text (``1.5``) to whole minutes; ValueError."""
    try:
        hours = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(_("Enter a number of hours, e.g. 4 or 0.5.")) from exc
    if not Decimal("0.01") <= hours <= MAX_TARGET_HOURS:
        raise ValueError(_("Enter a number of hours, e.g. 4 or 0.5."))
    return max(1, int(hours * 60))


def _calendar(value: Any) -> Calendar | None:
    if value in (None, ""):
        return None
    cid = parse_uuid(value)
    found = db.session.scalars(select(Calendar).where(Calendar.id == cid)).one_or_none()
    if cid is None or found is None:
        raise ValueError(_("Choose one of the calendars."))
    return found


def _percent(value: Any) -> int:
    try:
        percent = int(value if value not in (None, "") else 75)
    except (TypeError, ValueError) as exc:
        raise ValueError(_("Enter a whole number from 1 to 100.")) from exc
    if not 1 <= percent <= 100:
        raise ValueError(_("Enter a whole number from 1 to 100."))
    return percent


def save_policy(policy: SlaPolicy | None, data: Mapping[str, Any]) -> SlaPolicy:
    """Create or change a policy and its targets (hours per priority)."""
    checks: dict[str, Any] = {
        "name": validation.text(100),
        "match_tag": lambda v: (validation.text(60)(v) or "").lower() or None,
        "calendar_id": _calendar,
        "warn_percent": _percent,
    }
    for priority in PRIORITIES:
        checks[f"{priority}_response"] = _hours
        checks[f"{priority}_resolution"] = _hours
    values, errors = validation.run_checks(checks, data, only_given=False)
    _required(values, errors, "name", _("Enter a name."))
    if values.get("name") and not _unique(SlaPolicy, "name", values["name"], policy):
        errors["name"] = _("There is a policy with this name already.")
    tag = values.get("match_tag")
    if not tag and "match_tag" not in errors:
        stmt = select(SlaPolicy.id).where(SlaPolicy.match_tag.is_(None))
        if policy is not None:
            stmt = stmt.where(SlaPolicy.id != policy.id)
        if db.session.scalar(stmt) is not None:
            errors["match_tag"] = _("Only one policy can be the default: give this one a tag.")
    for priority in PRIORITIES:
        response = values.get(f"{priority}_response")
        resolution = values.get(f"{priority}_resolution")
        if response and resolution and resolution < response:
            errors[f"{priority}_resolution"] = _("Resolution cannot come before first response.")
    _fail_if(errors)
    if policy is None:
        policy = SlaPolicy()
        db.session.add(policy)
    policy.name, policy.match_tag = values["name"], tag
    policy.calendar_id = values["calendar_id"].id if values["calendar_id"] else None
    policy.warn_percent = values["warn_percent"]
    policy.is_default, policy.position = (tag is None), (100 if tag is None else 0)
    db.session.flush()
    db.session.execute(delete(SlaTarget).where(SlaTarget.policy_id == policy.id))
    for priority in PRIORITIES:
        db.session.add(
            SlaTarget(
                policy_id=policy.id,
                priority=priority,
                first_response_minutes=values[f"{priority}_response"],
                resolution_minutes=values[f"{priority}_resolution"],
            )
        )
    db.session.flush()
    return policy


def delete_policy(policy: SlaPolicy) -> None:
    """Delete a tagged policy that no ticket follows."""
    if policy.is_default:
        raise ValidationFailed({"policy": _("The default policy cannot be deleted.")})
    if _used((Ticket, Ticket.sla_policy_id == policy.id)):
        raise ValidationFailed({"policy": _("Tickets follow this policy; it cannot be deleted.")})
    db.session.execute(delete(SlaTarget).where(SlaTarget.policy_id == policy.id))
    db.session.delete(policy)


# ----------------------------------------------------------------- calendars


def _timezone(value: Any) -> str:
    name = (str(value or "").strip()) or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(_("Enter a time zone such as Asia/Shanghai or Europe/Berlin.")) from exc
    return name


def save_calendar(calendar: Calendar | None, data: Mapping[str, Any]) -> Calendar:
    """Create or change business hours: a time zone and from/to per weekday (empty: closed)."""
    values, errors = validation.run_checks(
        {"name": validation.text(100), "timezone": _timezone}, data, only_given=False
    )
    _required(values, errors, "name", _("Enter a name."))
    if values.get("name") and not _unique(Calendar, "name", values["name"], calendar):
        errors["name"] = _("There are business hours with this name already.")
    hours: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        opens = str(data.get(f"{day}_from") or "").strip()
        closes = str(data.get(f"{day}_to") or "").strip()
        if not opens and not closes:
            hours[day] = []
            continue
        try:
            check_hours({day: [[opens, closes]]}, "UTC")
        except CalendarError:
            errors[f"{day}_from"] = _("Enter opening and closing times as HH:MM, e.g. 09:00.")
            continue
        hours[day] = [[opens, closes]]
    if not errors and not any(hours.values()):
        errors["mon_from"] = _("Open on at least one day.")
    _fail_if(errors)
    if calendar is None:
        calendar = Calendar()
        db.session.add(calendar)
    calendar.name, calendar.timezone, calendar.hours = values["name"], values["timezone"], hours
    db.session.flush()
    return calendar


def add_holiday(calendar: Calendar, data: Mapping[str, Any]) -> Holiday:
    """Add a day off to a calendar."""
    errors: dict[str, str] = {}
    try:
        day = clean_date(data.get("day"))
        if day is None:
            errors["day"] = _("Choose a day.")
    except ValueError as exc:
        errors["day"] = str(exc)
    try:
        name = validation.text(100)(data.get("name")) or ""
    except ValueError as exc:
        errors["name"] = str(exc)
    if not errors and db.session.scalar(
        select(Holiday.id).where(Holiday.calendar_id == calendar.id, Holiday.day == day)
    ):
        errors["day"] = _("This day is already a holiday.")
    _fail_if(errors)
    holiday = Holiday(calendar_id=calendar.id, day=day, name=name)
    db.session.add(holiday)
    return holiday


def delete_calendar(calendar: Calendar) -> None:
    """Delete business hours no policy uses."""
    if _used((SlaPolicy, SlaPolicy.calendar_id == calendar.id)):
        raise ValidationFailed({"calendar": _("A policy uses these business hours.")})
    db.session.execute(delete(Holiday).where(Holiday.calendar_id == calendar.id))
    db.session.delete(calendar)


# ----------------------------------------------------------------- the rest


def save_canned(canned: CannedResponse | None, data: Mapping[str, Any]) -> CannedResponse:
    """Create or change a canned response."""
    values, errors = validation.run_checks(
        {"title": validation.text(120), "body": validation.text(20000, multiline=True)},
        data,
        only_given=False,
    )
    _required(values, errors, "title", _("Enter a title."))
    _required(values, errors, "body", _("Write the response."))
    if values.get("title") and not _unique(CannedResponse, "title", values["title"], canned):
        errors["title"] = _("There is a response with this title already.")
    _fail_if(errors)
    if canned is None:
        canned = CannedResponse()
        db.session.add(canned)
    canned.title, canned.body = values["title"], values["body"]
    return canned


def save_rule(data: Mapping[str, Any]) -> EscalationRule:
    """Add an escalation rule."""
    values, errors = validation.run_checks(
        {
            "name": validation.text(100),
            "trigger": lambda v: clean_choice(v or None, ESCALATION_TRIGGERS, required=True),
            "queue_id": validation.queue,
            "priority": lambda v: clean_choice(v or None, PRIORITIES),
            "action": lambda v: clean_choice(v or None, ESCALATION_ACTIONS, required=True),
            "user_id": validation.member,
        },
        data,
        only_given=False,
    )
    _required(values, errors, "name", _("Enter a name."))
    if values.get("action") in ("notify", "assign") and not values.get("user_id"):
        errors.setdefault("user_id", _("Choose the member."))
    _fail_if(errors)
    queue = values.pop("queue_id")
    rule = EscalationRule(**values, queue_id=queue.id if queue else None, active=True)
    db.session.add(rule)
    return rule


def save_script(script: CallScript | None, data: Mapping[str, Any]) -> CallScript:
    """Create or change a call script (steps: one per line)."""
    values, errors = validation.run_checks(
        {"title": validation.text(120), "queue_id": validation.queue}, data, only_given=False
    )
    _required(values, errors, "title", _("Enter a title."))
    if values.get("title") and not _unique(CallScript, "title", values["title"], script):
        errors["title"] = _("There is a script with this title already.")
    steps = [" ".join(line.split()) for line in str(data.get("steps") or "").splitlines()]
    steps = [s[:500] for s in steps if s][:50]
    if not steps:
        errors["steps"] = _("Write at least one step.")
    _fail_if(errors)
    if script is None:
        script = CallScript()
        db.session.add(script)
    script.title, script.steps = values["title"], steps
    script.queue_id = values["queue_id"].id if values["queue_id"] else None
    return script


def save_category(data: Mapping[str, Any]) -> KbCategory:
    """Add a knowledge-base category."""
    values, errors = validation.run_checks({"name": validation.text(100)}, data, only_given=False)
    _required(values, errors, "name", _("Enter a name."))
    if values.get("name") and not _unique(KbCategory, "name", values["name"], None):
        errors["name"] = _("There is a category with this name already.")
    _fail_if(errors)
    position = db.session.scalar(select(func.max(KbCategory.position))) or 0
    category = KbCategory(name=values["name"], position=position + 1)
    db.session.add(category)
    return category


def delete_category(category: KbCategory) -> None:
    """Delete a category without articles."""
    if _used((Article, Article.category_id == category.id)):
        raise ValidationFailed({"category": _("Articles are in this category: move them first.")})
    db.session.delete(category)
