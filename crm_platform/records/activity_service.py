"""Logging activities on records, ticking tasks off, and a member's open tasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from ..customers import Account, Contact
from ..extensions import db
from ..modules import emit_event
from ..provisioning import ValidationFailed
from ..tenancy import utcnow
from .activities import ACTIVITY_KINDS, Activity
from .service import _check_account, _member
from .validation import clean_choice, clean_date, clean_text


def _check_contact(value: Any, membership: Any) -> Contact | None:
    from ..ids import parse_uuid
    from .visibility import visible_clause

    if value in (None, ""):
        return None
    cid = parse_uuid(value)
    stmt = select(Contact).where(Contact.id == cid, Contact.deleted_at.is_(None))
    clause = visible_clause(Contact, membership) if membership is not None else None
    if clause is not None:
        stmt = stmt.where(clause)
    contact = db.session.execute(stmt).unique().scalar_one_or_none() if cid else None
    if contact is None:
        raise ValueError(_("Choose one of the contacts."))
    return contact


def check_activity(
    data: Mapping[str, Any], *, membership: Any = None, activity: Activity | None = None
) -> dict[str, Any]:
    """Cleaned values of an activity (linked records only for a new one); ValidationFailed."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    checks = {
        "kind": lambda v: clean_choice(v or "note", ACTIVITY_KINDS, required=True),
        "subject": lambda v: clean_text(v, 200),
        "body": lambda v: clean_text(v, 10000, multiline=True),
        "due_date": clean_date,
        "owner_id": _member,
    }
    for name, check in checks.items():
        try:
            values[name] = check(data.get(name))
        except ValueError as exc:
            errors[name] = str(exc)
    if "subject" not in errors and not values.get("subject"):
        errors["subject"] = _("Enter a subject.")
    if activity is None:
        try:
            contact = _check_contact(data.get("contact_id"), membership)
            values["contact_id"] = contact.id if contact else None
            account_id = _check_account(data.get("account_id"), membership)
            if account_id is None and contact is not None:
                account_id = contact.account_id
            values["account_id"] = account_id
        except ValueError as exc:
            errors["record"] = str(exc)
        else:
            if values["account_id"] is None and values["contact_id"] is None:
                errors["record"] = _("Log the activity on an account or a contact.")
    if errors:
        raise ValidationFailed(errors)
    return values


def create_activity(
    data: Mapping[str, Any], *, actor: Any = None, membership: Any = None
) -> Activity:
    """Validate and add an activity; emits ``activity.created``. Caller commits."""
    values = check_activity(data, membership=membership)
    if values.get("owner_id") is None and actor is not None and "owner_id" not in data:
        values["owner_id"] = actor.id
    done = (
        bool(data.get("done"))
        or values["kind"] in ("note", "email", "call", "meeting")
        and (values.get("due_date") is None)
    )
    activity = Activity(
        **values,
        done=done,
        done_at=utcnow() if done else None,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(activity)
    db.session.flush()
    emit_event(
        "activity.created",
        record_id=activity.id,
        data={
            "kind": activity.kind,
            "subject": activity.subject,
            "account_id": str(activity.account_id) if activity.account_id else None,
            "contact_id": str(activity.contact_id) if activity.contact_id else None,
        },
        actor=actor,
    )
    return activity


def update_activity(activity: Activity, data: Mapping[str, Any], *, membership: Any = None) -> None:
    """Validate and apply changes (kind, subject, body, due date, owner). Caller commits."""
    values = check_activity(data, membership=membership, activity=activity)
    for name, value in values.items():
        setattr(activity, name, value)


def set_done(activity: Activity, done: bool) -> None:
    """Tick an activity off (or open it again). Caller commits."""
    activity.done = done
    activity.done_at = utcnow() if done else None


def activity_visible(activity: Activity, membership: Any) -> bool:
    """An activity is visible with the records it is on (or when it is one's own task)."""
    from .visibility import can_see

    if activity.owner_id == membership.user_id:
        return True
    for record in (activity.account, activity.contact):
        if record is not None and record.deleted_at is None and can_see(record, membership):
            return True
    return False


def _open_tasks_statement(user_id: Any, include_done: bool) -> Any:
    """Activities assigned to ``user_id`` whose records are not in the trash."""
    acct, cont = aliased(Account), aliased(Contact)
    stmt = (
        select(Activity)
        .outerjoin(acct, and_(acct.tenant_id == Activity.tenant_id, acct.id == Activity.account_id))
        .outerjoin(cont, and_(cont.tenant_id == Activity.tenant_id, cont.id == Activity.contact_id))
        .where(
            Activity.owner_id == user_id,
            or_(Activity.account_id.is_(None), acct.deleted_at.is_(None)),
            or_(Activity.contact_id.is_(None), cont.deleted_at.is_(None)),
        )
    )
    return stmt if include_done else stmt.where(Activity.done.is_(False))


def open_tasks(user_id: Any, *, limit: int = 100, include_done: bool = False) -> list[Activity]:
    """A member's activities still to do (or all), due first, undated last."""
    stmt = _open_tasks_statement(user_id, include_done).order_by(
        case((Activity.due_date.is_(None), 1), else_=0),
        Activity.due_date,
        Activity.created_at.desc(),
    )
    return list(db.session.execute(stmt.limit(limit)).unique().scalars())


def count_open_tasks(user_id: Any) -> int:
    """How many activities ``user_id`` still has to do."""
    stmt = _open_tasks_statement(user_id, False).with_only_columns(func.count(Activity.id))
    return db.session.scalar(stmt) or 0


def activities_of(kind: str, record: Any, *, limit: int = 200) -> list[Activity]:
    """Activities on an account or a contact, newest first."""
    column = Activity.account_id if kind == "account" else Activity.contact_id
    stmt = select(Activity).where(column == record.id).order_by(Activity.created_at.desc())
    return list(db.session.execute(stmt.limit(limit)).unique().scalars())
