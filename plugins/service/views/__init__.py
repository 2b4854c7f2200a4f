"""The service pages: one blueprint under ``/t/<slug>/service``, views split by subject."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select

from crm_platform.sdk import Membership, User, ValidationFailed, db

from ..attachments import Upload
from ..models import Queue

bp = Blueprint(
    "service", __name__, url_prefix="/t/<tenant_slug>/service", template_folder="../templates"
)


def membership() -> Any:
    """The signed-in member (``g.membership``)."""
    return g.get("membership")


def member_choices(blank: bool = True) -> list[tuple[str, str]]:
    """``(user id, name)`` of the workspace's members, for selects."""
    rows = db.session.execute(
        select(User.id, User.name)
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.name)
    ).all()
    return ([("", "—")] if blank else []) + [(str(uid), name) for uid, name in rows]


def queue_choices(blank: bool = True) -> list[tuple[str, str]]:
    """``(queue id, name)`` of the workspace's queues."""
    queues = db.session.scalars(select(Queue).order_by(Queue.name)).all()
    return ([("", "—")] if blank else []) + [(str(q.id), q.name) for q in queues]


def apply_errors(form: FlaskForm, errors: dict[str, str], fallback: str) -> None:
    """Show service errors on the form's fields (unknown fields on ``fallback``)."""
    for name, message in errors.items():
        field = form._fields.get(name) or form._fields.get(fallback)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]


def uploads(field: str = "attachments") -> list[Upload]:
    """The files posted in ``field``."""
    files = request.files.getlist(field)
    return [
        Upload(f.filename or "attachment", f.mimetype or "application/octet-stream", f.read())
        for f in files
        if f and f.filename
    ]


def submit(form: FlaskForm, action: Callable[[], Any], fallback: str) -> tuple[Any, dict[str, str]]:
    """Check ``form`` (CSRF) and run ``action``, committing when it succeeds.

    Returns ``(result, {})``, or ``(None, errors by field)`` after a rollback: the service's
    ``ValidationFailed``, or an expired form (on ``fallback``).
    """
    if not form.validate_on_submit():
        return None, {fallback: _("The form expired: send it again.")}
    try:
        result = action()
    except ValidationFailed as exc:
        db.session.rollback()
        return None, dict(exc.errors)
    db.session.commit()
    return result, {}


def submit_and_flash(form: FlaskForm, action: Callable[[], Any], done: str, failed: str) -> bool:
    """:func:`submit` for small forms shown on another page: flash ``done`` or ``failed``
    (``%(problem)s`` gets the errors). True when it worked."""
    _result, errors = submit(form, action, "form")
    if errors:
        flash(failed % {"problem": "; ".join(errors.values())}, "error")
        return False
    flash(done, "success")
    return True


def form_data() -> dict[str, Any]:
    """The posted form as a plain dict (single values)."""
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


from . import admin, calls, kb, public, reports, tickets  # noqa: E402,F401 - routes
