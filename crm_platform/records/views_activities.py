"""Activity pages: log one from a record page, edit, tick off, delete; "My tasks"."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import get_or_404, has_permission, require_permission
from ..extensions import db
from ..provisioning import ValidationFailed
from ..web import safe_next, tenant_bp
from .activities import Activity
from .activity_service import (
    activity_visible,
    create_activity,
    open_tasks,
    set_done,
    update_activity,
)
from .forms import ActivityForm, ButtonForm
from .pages import apply_errors, member_choices, membership
from .views import record_url, render_record
from .visibility import find_visible


def _back(activity: Activity) -> str:
    target = safe_next(request.form.get("next") or request.args.get("next"))
    if target:
        return target
    if activity.contact_id is not None:
        return url_for("workspace.contact", contact_id=activity.contact_id)
    if activity.account_id is not None:
        return url_for("workspace.account", account_id=activity.account_id)
    return url_for("workspace.tasks")


def _visible_activity(activity_id: str) -> Activity:
    activity = get_or_404(Activity, activity_id)
    if not activity_visible(activity, membership()):
        abort(404)
    return activity


def _linked_record(form: ActivityForm) -> tuple[str, Any] | None:
    from ..customers import Account, Contact

    if form.contact_id.data:
        found = find_visible(Contact, form.contact_id.data, membership())
        return ("contact", found) if found is not None else None
    if form.account_id.data:
        found = find_visible(Account, form.account_id.data, membership())
        return ("account", found) if found is not None else None
    return None


@tenant_bp.post("/activities")
@require_permission("records.write")
def activity_new() -> Any:
    """Log an activity (call, meeting, task, note, e-mail) on an account or a contact."""
    form = ActivityForm()
    form.owner_id.choices = member_choices()
    linked = _linked_record(form)
    if linked is None:
        abort(400, description=_("Log the activity on an account or a contact."))
    kind, record = linked
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        data = {name: form[name].data for name in ("kind", "subject", "body", "due_date")}
        data.update(
            owner_id=form.owner_id.data,
            done=form.done.data,
            account_id=record.id if kind == "account" else None,
            contact_id=record.id if kind == "contact" else None,
        )
        try:
            create_activity(data, actor=current_user, membership=membership())
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Activity logged."), "success")
            return redirect(record_url(kind, record) + "#activities"), 303
    apply_errors(form, errors, "subject")
    return render_record(kind, record, activity_form=form, status=400)


@tenant_bp.route("/activities/<activity_id>/edit", methods=["GET", "POST"])
@require_permission("records.write")
def activity_edit(activity_id: str) -> Any:
    """Change an activity's type, subject, details, due date or assignee."""
    activity = _visible_activity(activity_id)
    form = ActivityForm(
        data={
            "kind": activity.kind,
            "subject": activity.subject,
            "body": activity.body or "",
            "due_date": activity.due_date,
            "owner_id": str(activity.owner_id or ""),
            "done": activity.done,
        }
    )
    form.owner_id.choices = member_choices()
    if form.validate_on_submit():
        data = {name: form[name].data for name in ("kind", "subject", "body", "due_date")}
        data["owner_id"] = form.owner_id.data
        try:
            update_activity(activity, data, membership=membership())
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, "subject")
        else:
            if form.done.data != activity.done:
                set_done(activity, form.done.data)
            db.session.commit()
            flash(_("Activity saved."), "success")
            return redirect(_back(activity)), 303
    return (
        render_template(
            "records/activity_form.html",
            activity=activity,
            form=form,
            button_form=ButtonForm(),
            back=_back(activity),
            can_delete=_may_delete(activity),
        ),
        400 if form.errors else 200,
    )


@tenant_bp.post("/activities/<activity_id>/done")
@require_permission("records.write")
def activity_done(activity_id: str) -> Any:
    """Tick an activity off, or open it again (``done=0``)."""
    activity = _visible_activity(activity_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    set_done(activity, request.form.get("done", "1") != "0")
    db.session.commit()
    return redirect(_back(activity)), 303


def _may_delete(activity: Activity) -> bool:
    return has_permission("records.delete") or activity.created_by_id == current_user.id


@tenant_bp.post("/activities/<activity_id>/delete")
@require_permission("records.write")
def activity_delete(activity_id: str) -> Any:
    """Delete an activity (its author, or members who may delete records)."""
    activity = _visible_activity(activity_id)
    if not _may_delete(activity):
        abort(403)
    if not ButtonForm().validate_on_submit():
        abort(400)
    back = _back(activity)
    db.session.delete(activity)
    db.session.commit()
    flash(_("Activity deleted."), "success")
    return redirect(back), 303


@tenant_bp.get("/tasks")
@require_permission("records.read")
def tasks() -> Any:
    """My tasks: activities assigned to me that are still to do, due first."""
    show_done = request.args.get("show") == "all"
    rows = open_tasks(current_user.id, limit=200, include_done=show_done)
    return render_template(
        "records/tasks.html",
        tasks=rows,
        show_done=show_done,
        button_form=ButtonForm(),
        can_write=has_permission("records.write"),
    )
