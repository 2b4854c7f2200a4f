"""Activities on a record (list, log one) and one activity (get, change), and the custom-field
definitions (read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import get_or_404, require_permission
from ..extensions import db
from ..provisioning import ValidationFailed
from ..records.activities import Activity
from ..records.activity_service import (
    activity_visible,
    create_activity,
    set_done,
    update_activity,
)
from ..records.custom_fields import ENTITIES
from ..records.service import get_record
from .blueprint import bp
from .errors import validation_error
from .helpers import api_doc, api_page, json_body
from .serialize import active_fields, activity_json, field_json, json_value

WRITABLE = {"kind": str, "subject": str, "body": str, "due_date": str, "owner_id": str}
READ_ONLY = frozenset(
    {
        "id",
        "object",
        "done_at",
        "created_by_id",
        "account_id",
        "contact_id",
        "created_at",
        "updated_at",
    }
)


def _activity_input(body: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in body.items():
        if name in READ_ONLY:
            continue
        if name == "done":
            if not isinstance(value, bool):
                errors[name] = "Expected true or false."
            else:
                data[name] = value
        elif name not in WRITABLE:
            errors[name] = "Unknown field."
        elif value is not None and not isinstance(value, str):
            errors[name] = "Expected a string or null."
        else:
            data[name] = value
    if errors:
        raise validation_error(errors)
    return data


def _record_activities(kind: str, record_id: str) -> Any:
    record = get_record(kind, record_id, g.membership)
    column = Activity.account_id if kind == "account" else Activity.contact_id
    stmt = select(Activity).where(column == record.id)
    return api_page(
        stmt, Activity.id, activity_json, list_name=f"activities:{record.id}", descending=True
    )


def _log_activity(kind: str, record_id: str) -> Any:
    record = get_record(kind, record_id, g.membership)
    data = _activity_input(json_body())
    data["account_id" if kind == "account" else "contact_id"] = record.id
    try:
        activity = create_activity(data, actor=current_user, membership=g.membership)
    except ValidationFailed as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from exc
    db.session.commit()
    return (
        activity_json(activity),
        201,
        {"Location": url_for("api.activity_get", activity_id=activity.id)},
    )


@bp.get("/accounts/<record_id>/activities")
@api_doc(response_schema="Activity", many=True)
@require_permission("records.read")
def account_activities(record_id: str) -> Any:
    """List the activities of an account, newest first."""
    return _record_activities("account", record_id)


@bp.post("/accounts/<record_id>/activities")
@api_doc(request_schema="ActivityInput", response_schema="Activity", status=201)
@require_permission("records.write")
def account_activity_create(record_id: str) -> Any:
    """Log an activity on an account."""
    return _log_activity("account", record_id)


@bp.get("/contacts/<record_id>/activities")
@api_doc(response_schema="Activity", many=True)
@require_permission("records.read")
def contact_activities(record_id: str) -> Any:
    """List the activities of a contact, newest first."""
    return _record_activities("contact", record_id)


@bp.post("/contacts/<record_id>/activities")
@api_doc(request_schema="ActivityInput", response_schema="Activity", status=201)
@require_permission("records.write")
def contact_activity_create(record_id: str) -> Any:
    """Log an activity on a contact (it is on the contact's account too)."""
    return _log_activity("contact", record_id)


def _visible_activity(activity_id: str) -> Activity:
    activity = get_or_404(Activity, activity_id)
    if not activity_visible(activity, g.membership):
        abort(404)
    return activity


@bp.get("/activities/<activity_id>")
@api_doc(response_schema="Activity")
@require_permission("records.read")
def activity_get(activity_id: str) -> Any:
    """Get one activity."""
    return activity_json(_visible_activity(activity_id))


@bp.patch("/activities/<activity_id>")
@api_doc(request_schema="ActivityPatch", response_schema="Activity")
@require_permission("records.write")
def activity_update(activity_id: str) -> Any:
    """Change an activity's kind, subject, body, due date, owner, or tick it off (done)."""
    activity = _visible_activity(activity_id)
    patch = _activity_input(json_body())
    done = patch.pop("done", None)
    current = {
        "kind": activity.kind,
        "subject": activity.subject,
        "body": activity.body,
        "due_date": json_value(activity.due_date),
        "owner_id": json_value(activity.owner_id),
    }
    try:
        update_activity(activity, {**current, **patch}, membership=g.membership)
    except ValidationFailed as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from exc
    if done is not None and done != activity.done:
        set_done(activity, done)
    db.session.commit()
    return activity_json(activity)


@bp.get("/custom-fields")
@api_doc(
    response_schema="CustomField",
    many=True,
    parameters=[
        {
            "name": "entity",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(ENTITIES)},
            "description": "Only the fields of accounts or of contacts.",
        }
    ],
)
@require_permission("records.read")
def custom_fields() -> Any:
    """List the active custom-field definitions of accounts and contacts."""
    entity = request.args.get("entity")
    unknown = set(request.args) - {"entity"}
    if unknown or (entity is not None and entity not in ENTITIES):
        errors = {name: "Unknown query parameter." for name in unknown}
        if entity is not None and entity not in ENTITIES:
            errors["entity"] = "Use account or contact."
        raise validation_error(errors, "Some query parameters are not valid.")
    entities = [entity] if entity else list(ENTITIES)
    rows = [f for e in entities for f in active_fields(e)]
    return {"data": [field_json(f) for f in rows], "next_cursor": None}
