"""Sequences (drip): e-mail and task steps, each some hours after the one before.

A contact is enrolled by hand, from a segment (set-based) or through the API; the
dispatcher advances every enrollment that is due: it moves the enrollment to its next step
with a conditional update (so two dispatchers never do a step twice), and in the same
transaction writes the step's e-mail message (unique per enrollment and step) or the task
for the contact's owner. The e-mail then goes out through the same sending lanes as
campaigns. An enrollment stops when the contact replies (an e-mail logged on the contact, or
a ``contact.replied`` event), converts (``deal.won``, a new order), or unsubscribes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, insert, literal, select, update

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    clean_text,
    create_activity,
    db,
    parse_uuid,
    require_tenant,
    utcnow,
)

from .merge import Renderer, check_template
from .models import Enrollment, Message, Segment, Sequence, SequenceStep
from .segments import segment_query
from .sender import Content, Lane
from .sqlutil import sql_uuid
from .suppression import topics

STEP_KINDS = ("email", "task")
STEP_LABELS = {"email": _l("E-mail"), "task": _l("Task for the owner")}
STOP_REASONS = {
    "replied": _l("replied"),
    "converted": _l("converted"),
    "unsubscribed": _l("unsubscribed"),
    "removed": _l("removed"),
    "manual": _l("stopped by hand"),
}
MAX_STEPS = 20
MAX_DELAY_HOURS = 24 * 365


def check_sequence(data: Mapping[str, Any], *, sequence: Sequence | None = None) -> dict[str, Any]:
    """Cleaned values of a sequence and its steps; ValidationFailed."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        name = clean_text(data.get("name"), 120)
        if not name:
            raise ValueError(_("Give the sequence a name."))
        clash = select(Sequence.id).where(func.lower(Sequence.name) == name.lower())
        if sequence is not None:
            clash = clash.where(Sequence.id != sequence.id)
        if db.session.scalar(clash):
            raise ValueError(_("Another sequence has this name."))
        values["name"] = name
    except ValueError as exc:
        errors["name"] = str(exc)
    topic = data.get("topic") or "newsletter"
    if topic not in topics():
        errors["topic"] = _("Choose one of the topics.")
    values["topic"] = topic
    status = data.get("status") or "active"
    if status not in ("active", "paused"):
        errors["status"] = _("Choose one of the listed options.")
    values["status"] = status
    try:
        values["from_name"] = clean_text(data.get("from_name"), 120)
    except ValueError as exc:
        errors["from_name"] = str(exc)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        errors["steps"] = _("Add at least one step.")
        steps = []
    if len(steps) > MAX_STEPS:
        errors["steps"] = _("Use at most %(num)d steps.", num=MAX_STEPS)
        steps = []
    values["steps"] = [_check_step(step, i, errors) for i, step in enumerate(steps)]
    if errors:
        raise ValidationFailed(errors)
    return values


def _check_step(step: Any, i: int, errors: dict[str, str]) -> dict[str, Any]:
    where = f"steps.{i}"
    if not isinstance(step, Mapping):
        errors[where] = _("Give each step a kind, a delay and its content.")
        return {}
    kind = step.get("kind") or "email"
    if kind not in STEP_KINDS:
        errors[f"{where}.kind"] = _("Choose one of the listed options.")
    try:
        delay = int(
            str(step.get("delay_hours") if step.get("delay_hours") not in (None, "") else 0)
        )
        if not 0 <= delay <= MAX_DELAY_HOURS:
            raise ValueError
    except ValueError:
        errors[f"{where}.delay_hours"] = _(
            "Enter a number of hours from 0 to %(max)d.", max=MAX_DELAY_HOURS
        )
        delay = 0
    out = {"kind": kind, "delay_hours": delay, "subject": "", "body_html": ""}
    if kind == "email":
        for name in ("subject", "body_html"):
            try:
                out[name] = check_template(step.get(name), name)
            except ValueError as exc:
                errors[f"{where}.{name}"] = str(exc)
    else:
        subject = clean_text(step.get("subject"), 200)
        if not subject:
            errors[f"{where}.subject"] = _("Say what the task is.")
        out["subject"] = subject or ""
    return out


def save_sequence(data: Mapping[str, Any], *, sequence: Sequence | None = None) -> Sequence:
    """Create a sequence, or change one (its steps are replaced); caller commits."""
    values = check_sequence(data, sequence=sequence)
    steps = values.pop("steps")
    if sequence is None:
        sequence = Sequence(**values)
        db.session.add(sequence)
        db.session.flush()
    else:
        for name, value in values.items():
            setattr(sequence, name, value)
        for old in db.session.scalars(
            select(SequenceStep).where(SequenceStep.sequence_id == sequence.id)
        ):
            db.session.delete(old)
        db.session.flush()
    for position, step in enumerate(steps):
        db.session.add(SequenceStep(sequence_id=sequence.id, position=position, **step))
    db.session.flush()
    return sequence


def steps_of(sequence: Sequence) -> list[SequenceStep]:
    """The steps of a sequence, in order."""
    stmt = (
        select(SequenceStep)
        .where(SequenceStep.sequence_id == sequence.id)
        .order_by(SequenceStep.position)
    )
    return list(db.session.scalars(stmt))


def _first_delay(sequence: Sequence) -> int:
    stmt = select(SequenceStep.delay_hours).where(
        SequenceStep.sequence_id == sequence.id, SequenceStep.position == 0
    )
    return int(db.session.scalar(stmt) or 0)


def enroll(sequence: Sequence, contact_ids: Iterable[Any], now: datetime | None = None) -> int:
    """Enroll live contacts (those already enrolled once are left alone); returns how many."""
    now = now or utcnow()
    wanted = {parse_uuid(c) for c in contact_ids} - {None}
    live = set(
        db.session.scalars(
            select(Contact.id).where(Contact.id.in_(wanted), Contact.deleted_at.is_(None))
        )
    )
    if not wanted or live != wanted:
        raise ValidationFailed({"contact_id": _("Choose one of the contacts.")})
    known = set(
        db.session.scalars(
            select(Enrollment.contact_id).where(
                Enrollment.sequence_id == sequence.id, Enrollment.contact_id.in_(live)
            )
        )
    )
    start = now + timedelta(hours=_first_delay(sequence))
    for contact_id in sorted(live - known):
        db.session.add(
            Enrollment(
                sequence_id=sequence.id, contact_id=contact_id, enrolled_at=now, next_run_at=start
            )
        )
    db.session.flush()
    return len(live - known)


def enroll_segment(sequence: Sequence, segment: Segment, now: datetime | None = None) -> int:
    """Enroll every contact of a segment not enrolled yet (one ``INSERT ... SELECT``)."""
    now = now or utcnow()
    tid = require_tenant().id
    start = now + timedelta(hours=_first_delay(sequence))
    before = _count(sequence)
    already = exists(
        select(Enrollment.id).where(
            Enrollment.tenant_id == tid,
            Enrollment.sequence_id == sequence.id,
            Enrollment.contact_id == Contact.id,
        )
    )
    source = segment_query(
        segment,
        literal(tid),
        sql_uuid(),
        literal(sequence.id),
        Contact.id,
        literal("active"),
        literal(0),
        literal(start),
        literal(now),
    ).where(~already)
    columns = [
        "tenant_id",
        "id",
        "sequence_id",
        "contact_id",
        "status",
        "next_position",
        "next_run_at",
        "enrolled_at",
    ]
    db.session.execute(insert(Enrollment).from_select(columns, source))
    return _count(sequence) - before


def _count(sequence: Sequence) -> int:
    stmt = select(func.count()).where(Enrollment.sequence_id == sequence.id)
    return int(db.session.scalar(stmt) or 0)


def stop_enrollments(contact_ids: Iterable[Any], reason: str) -> int:
    """Stop the active enrollments of these contacts; returns how many stopped."""
    ids = [c for c in (parse_uuid(x) for x in contact_ids) if c is not None]
    if not ids:
        return 0
    result = db.session.execute(
        update(Enrollment)
        .where(Enrollment.contact_id.in_(ids), Enrollment.status == "active")
        .values(status="stopped", stop_reason=reason, finished_at=utcnow(), next_run_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def advance_sequences(now: datetime | None = None, limit: int = 500) -> int:
    """Do the due step of every due enrollment (each in its own transaction); returns how
    many steps were done."""
    now = now or utcnow()
    due = db.session.execute(
        select(Enrollment.id, Enrollment.next_position, Enrollment.sequence_id)
        .join(
            Sequence,
            and_(Sequence.tenant_id == Enrollment.tenant_id, Sequence.id == Enrollment.sequence_id),
        )
        .where(
            Enrollment.status == "active",
            Enrollment.next_run_at <= now,
            Sequence.status == "active",
        )
        .order_by(Enrollment.next_run_at)
        .limit(limit)
    ).all()
    steps: dict[uuid.UUID, list[SequenceStep]] = {}
    done = 0
    for enrollment_id, position, sequence_id in due:
        if sequence_id not in steps:
            steps[sequence_id] = list(
                db.session.scalars(
                    select(SequenceStep)
                    .where(SequenceStep.sequence_id == sequence_id)
                    .order_by(SequenceStep.position)
                )
            )
        if _do_step(enrollment_id, position, steps[sequence_id], now):
            done += 1
        db.session.commit()
    return done


def _do_step(
    enrollment_id: uuid.UUID, position: int, steps: list[SequenceStep], now: datetime
) -> bool:
    following = steps[position + 1] if position + 1 < len(steps) else None
    values: dict[str, Any] = {"next_position": position + 1}
    if following is None:
        values.update(status="completed", finished_at=now, next_run_at=None)
    else:
        values["next_run_at"] = now + timedelta(hours=following.delay_hours)
    moved = db.session.execute(
        update(Enrollment)
        .where(
            Enrollment.id == enrollment_id,
            Enrollment.status == "active",
            Enrollment.next_position == position,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not moved.rowcount or position >= len(steps):
        return False
    step = steps[position]
    enrollment = db.session.get(Enrollment, (require_tenant().id, enrollment_id))
    contact = db.session.scalars(select(Contact).where(Contact.id == enrollment.contact_id)).first()
    if contact is None or contact.deleted_at is not None:
        return False
    if step.kind == "task":
        create_activity(
            {
                "kind": "task",
                "subject": step.subject,
                "contact_id": str(contact.id),
                "owner_id": str(contact.owner_id) if contact.owner_id else None,
                "due_date": now.date().isoformat(),
            }
        )
        return True
    if not contact.email:
        return False
    db.session.add(
        Message(
            enrollment_id=enrollment_id,
            step_id=step.id,
            contact_id=contact.id,
            email=contact.email.lower(),
            status="pending",
            position=0,
        )
    )
    db.session.flush()
    return True


class _SequenceContent:
    """Renderers and settings of sequence e-mail, read once per step (plain values, so the
    lane's per-message commits expire nothing that would be read again)."""

    def __init__(self) -> None:
        self.steps: dict[uuid.UUID, tuple[Renderer, dict[str, Any]]] = {}

    def _step(self, row: Any) -> tuple[Renderer, dict[str, Any]]:
        if row.step_id not in self.steps:
            found = db.session.execute(
                select(
                    SequenceStep.subject,
                    SequenceStep.body_html,
                    Sequence.name,
                    Sequence.topic,
                    Sequence.from_name,
                )
                .join(
                    Sequence,
                    and_(
                        Sequence.tenant_id == SequenceStep.tenant_id,
                        Sequence.id == SequenceStep.sequence_id,
                    ),
                )
                .where(SequenceStep.id == row.step_id)
            ).first()
            if found is None:
                raise LookupError(f"sequence step {row.step_id} no longer exists")
            info = {"name": found.name, "topic": found.topic, "from_name": found.from_name}
            self.steps[row.step_id] = (Renderer({"a": found.subject}, found.body_html), info)
        return self.steps[row.step_id]

    def content(self) -> Content:
        return Content(
            renderer_of=lambda row: self._step(row)[0],
            from_name=lambda row: self._step(row)[1]["from_name"],
            reply_to=lambda row: None,
            topic=lambda row: self._step(row)[1]["topic"],
            extra=lambda row: {"campaign": {"name": self._step(row)[1]["name"]}},
        )


def send_sequence_messages(owner: str) -> int:
    """Send every pending sequence e-mail of the tenant; returns how many went out."""
    scope = and_(Message.campaign_id.is_(None), Message.enrollment_id.is_not(None))
    return Lane(scope, owner, _SequenceContent().content()).run().sent
