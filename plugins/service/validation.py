"""Checks of the ids and values a form, the API, an import or a mail hands the service.

Each check returns the cleaned value or raises ``ValueError`` with a message for people;
:func:`run_checks` gathers them into values and per-field errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Account,
    Contact,
    Membership,
    User,
    clean_text,
    db,
    parse_uuid,
    visible_clause,
)

from .models import Queue


def run_checks(
    checks: Mapping[str, Callable[[Any], Any]], data: Mapping[str, Any], *, only_given: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run ``checks`` on ``data``: cleaned values and error messages by field.

    With ``only_given`` a field missing from ``data`` is left out (a partial update).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, check in checks.items():
        if only_given and name not in data:
            continue
        try:
            values[name] = check(data.get(name))
        except ValueError as exc:
            errors[name] = str(exc)
    return values, errors


def text(max_length: int, *, multiline: bool = False) -> Callable[[Any], str | None]:
    """A check of optional text of at most ``max_length`` characters."""
    return lambda value: clean_text(value, max_length, multiline=multiline)


def member(value: Any) -> uuid.UUID | None:
    """A member's user id (``None`` when empty)."""
    if value in (None, ""):
        return None
    uid = parse_uuid(value)
    found = uid is not None and db.session.scalar(
        select(Membership.user_id).where(Membership.user_id == uid)
    )
    if not found:
        raise ValueError(_("Choose a member of this workspace."))
    return uid


def member_user(value: Any) -> User | None:
    """The member whose user id is ``value`` (``None`` when empty)."""
    uid = member(value)
    return db.session.get(User, uid) if uid else None


def _record(model: Any, value: Any, membership: Any, message: str) -> Any:
    if value in (None, ""):
        return None
    rid = parse_uuid(value)
    stmt = select(model).where(model.id == rid, model.deleted_at.is_(None))
    clause = visible_clause(model, membership) if membership is not None else None
    if clause is not None:
        stmt = stmt.where(clause)
    found = db.session.execute(stmt).unique().scalar_one_or_none() if rid else None
    if found is None:
        raise ValueError(message)
    return found


def contact(value: Any, membership: Any = None) -> Contact | None:
    """A live contact the member may see (``None`` when empty)."""
    return _record(Contact, value, membership, _("Choose one of the contacts."))


def account(value: Any, membership: Any = None) -> Account | None:
    """A live account the member may see (``None`` when empty)."""
    return _record(Account, value, membership, _("Choose one of the accounts."))


def queue(value: Any) -> Queue | None:
    """One of the workspace's queues (``None`` when empty)."""
    if value in (None, ""):
        return None
    qid = parse_uuid(value)
    found = db.session.scalars(select(Queue).where(Queue.id == qid)).one_or_none() if qid else None
    if found is None:
        raise ValueError(_("Choose one of the queues."))
    return found


def default_queue() -> Queue | None:
    """The queue new tickets go to when none is chosen."""
    return db.session.scalars(select(Queue).order_by(Queue.is_default.desc(), Queue.name)).first()


def contact_by_email(email: str | None) -> Contact | None:
    """The live contact with this e-mail address (the oldest, when several)."""
    if not email:
        return None
    return db.session.scalars(
        select(Contact)
        .where(Contact.email == email.lower(), Contact.deleted_at.is_(None))
        .order_by(Contact.created_at)
    ).first()
