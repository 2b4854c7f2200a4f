"""Service settings (permission ``service.manage``): the desk's options and inbound address,
queues, SLA policies, business hours and holidays, canned responses, escalation rules,
call scripts and knowledge-base categories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import available_timezones

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select

from crm_platform.sdk import ValidationFailed, db, get_or_404, require_permission

from .. import admin
from ..business_hours import WEEKDAYS
from ..canned import FIELDS as MERGE_FIELDS
from ..forms import (
    WEEKDAY_LABELS,
    ButtonForm,
    CalendarForm,
    CannedForm,
    CategoryForm,
    EscalationForm,
    HolidayForm,
    PolicyForm,
    QueueForm,
    ScriptForm,
    SettingsForm,
    options,
)
from ..models import (
    ESCALATION_ACTION_LABELS,
    ESCALATION_TRIGGER_LABELS,
    PRIORITIES,
    PRIORITY_LABELS,
    Calendar,
    CallScript,
    CannedResponse,
    EscalationRule,
    Holiday,
    KbCategory,
    Queue,
    SlaPolicy,
    SlaTarget,
)
from ..settings import WorkspaceSettings, inbound_address
from . import (
    apply_errors,
    bp,
    form_data,
    member_choices,
    queue_choices,
    submit,
    submit_and_flash,
)

MANAGE = "service.manage"


def _back() -> Any:
    return redirect(url_for("service.settings"), 303)


def _save_page(
    form: FlaskForm,
    save: Callable[[], Any],
    template: str,
    *,
    done: str,
    fallback: str,
    **context: Any,
) -> Any:
    """GET shows ``template``; POST runs ``save`` (ValidationFailed → the form again, 400)."""
    if request.method == "POST":
        _result, errors = submit(form, save, fallback)
        if not errors:
            flash(done, "success")
            return _back()
        apply_errors(form, errors, fallback)
        return render_template(template, form=form, **context), 400
    return render_template(template, form=form, **context)


def _delete(action: Callable[[], Any], done: str) -> Any:
    submit_and_flash(ButtonForm(), action, done, "%(problem)s")
    return _back()


@bp.route("/settings", methods=["GET", "POST"], endpoint="settings")
@require_permission(MANAGE)
def settings_page() -> Any:
    """The desk's options, its inbound address, and everything it is configured with."""
    current = WorkspaceSettings.load()
    form = SettingsForm(obj=current) if request.method == "GET" else SettingsForm()

    def save() -> None:
        days = form.auto_close_days.data
        if days is None or not 0 <= days <= 365:
            raise ValidationFailed({"auto_close_days": _("Enter a number of days from 0 to 365.")})
        WorkspaceSettings(
            acknowledge=form.acknowledge.data,
            csat=form.csat.data,
            auto_close_days=days,
            public_kb=form.public_kb.data,
        ).save()

    targets: dict[Any, dict[str, SlaTarget]] = {}
    for target in db.session.scalars(select(SlaTarget)):
        targets.setdefault(target.policy_id, {})[target.priority] = target
    return _save_page(
        form,
        save,
        "service/settings.html",
        done=_("Settings saved."),
        fallback="auto_close_days",
        address=inbound_address(),
        queues=db.session.scalars(select(Queue).order_by(Queue.name)).all(),
        policies=db.session.scalars(
            select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.name)
        ).all(),
        targets=targets,
        priorities=PRIORITIES,
        priority_labels=PRIORITY_LABELS,
        calendars=db.session.scalars(select(Calendar).order_by(Calendar.name)).all(),
        canned=db.session.scalars(select(CannedResponse).order_by(CannedResponse.title)).all(),
        rules=db.session.scalars(select(EscalationRule).order_by(EscalationRule.name)).all(),
        scripts=db.session.scalars(select(CallScript).order_by(CallScript.title)).all(),
        categories=db.session.scalars(select(KbCategory).order_by(KbCategory.position)).all(),
        rule_form=_rule_form(),
        category_form=CategoryForm(),
        button_form=ButtonForm(),
        triggers=ESCALATION_TRIGGER_LABELS,
        actions=ESCALATION_ACTION_LABELS,
    )


# ----------------------------------------------------------------- queues


def _queue_page(queue: Queue | None) -> Any:
    form = QueueForm()
    form.members.choices = options(member_choices(blank=False))
    if request.method == "GET" and queue is not None:
        form.name.data, form.description.data = queue.name, queue.description
        form.assignment.data, form.is_default.data = queue.assignment, queue.is_default
        form.members.data = [str(m.user_id) for m in admin.queue_members(queue)]
    elif request.method == "GET":
        form.assignment.data = "manual"
    return _save_page(
        form,
        lambda: admin.save_queue(queue, form_data(), request.form.getlist("members")),
        "service/queue_form.html",
        done=_("Queue saved."),
        fallback="name",
        queue=queue,
    )


@bp.route("/settings/queues/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def queue_new() -> Any:
    """Add a queue."""
    return _queue_page(None)


@bp.route("/settings/queues/<queue_id>", methods=["GET", "POST"])
@require_permission(MANAGE)
def queue_edit(queue_id: str) -> Any:
    """Change a queue: name, assignment rule, agents."""
    return _queue_page(get_or_404(Queue, queue_id))


@bp.post("/settings/queues/<queue_id>/delete")
@require_permission(MANAGE)
def queue_delete(queue_id: str) -> Any:
    """Delete a queue nobody uses."""
    queue = get_or_404(Queue, queue_id)
    return _delete(lambda: admin.delete_queue(queue), _("Queue deleted."))


# ----------------------------------------------------------------- SLA policies


def _hours_text(minutes: int) -> str:
    hours = minutes / 60
    return str(int(hours)) if hours == int(hours) else f"{hours:.2f}".rstrip("0")


def _policy_page(policy: SlaPolicy | None) -> Any:
    form = PolicyForm()
    form.calendar_id.choices = options(
        [("", _("Always open (24/7)"))]
        + [
            (str(c.id), c.name)
            for c in db.session.scalars(select(Calendar).order_by(Calendar.name))
        ]
    )
    if request.method == "GET" and policy is not None:
        form.name.data, form.match_tag.data = policy.name, policy.match_tag or ""
        form.calendar_id.data = str(policy.calendar_id or "")
        form.warn_percent.data = policy.warn_percent
        for target in policy.targets:
            form[f"{target.priority}_response"].data = _hours_text(target.first_response_minutes)
            form[f"{target.priority}_resolution"].data = _hours_text(target.resolution_minutes)
    elif request.method == "GET":
        form.warn_percent.data = 75
    return _save_page(
        form,
        lambda: admin.save_policy(policy, form_data()),
        "service/policy_form.html",
        done=_("SLA policy saved."),
        fallback="name",
        policy=policy,
        priorities=PRIORITIES,
        priority_labels=PRIORITY_LABELS,
    )


@bp.route("/settings/policies/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def policy_new() -> Any:
    """Add an SLA policy (for customers with a tag)."""
    return _policy_page(None)


@bp.route("/settings/policies/<policy_id>", methods=["GET", "POST"])
@require_permission(MANAGE)
def policy_edit(policy_id: str) -> Any:
    """Change an SLA policy's targets, calendar, warning threshold."""
    return _policy_page(get_or_404(SlaPolicy, policy_id))


@bp.post("/settings/policies/<policy_id>/delete")
@require_permission(MANAGE)
def policy_delete(policy_id: str) -> Any:
    """Delete a tagged policy no ticket follows."""
    policy = get_or_404(SlaPolicy, policy_id)
    return _delete(lambda: admin.delete_policy(policy), _("SLA policy deleted."))


# ----------------------------------------------------------------- business hours


def _calendar_page(calendar: Calendar | None) -> Any:
    form = CalendarForm()
    if request.method == "GET":
        form.timezone.data = calendar.timezone if calendar else "UTC"
        form.name.data = calendar.name if calendar else ""
        hours = calendar.hours if calendar else {}
        for day in WEEKDAYS:
            intervals = (hours or {}).get(day) or []
            if intervals:
                form[f"{day}_from"].data, form[f"{day}_to"].data = intervals[0]
    return _save_page(
        form,
        lambda: admin.save_calendar(calendar, form_data()),
        "service/calendar_form.html",
        done=_("Business hours saved."),
        fallback="name",
        calendar=calendar,
        weekdays=WEEKDAYS,
        weekday_labels=WEEKDAY_LABELS,
        holiday_form=HolidayForm(),
        holidays=calendar.holidays if calendar else [],
        button_form=ButtonForm(),
        timezones=sorted(available_timezones()),
    )


@bp.route("/settings/calendars/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def calendar_new() -> Any:
    """Add business hours (e.g. another team's time zone)."""
    return _calendar_page(None)


@bp.route("/settings/calendars/<calendar_id>", methods=["GET", "POST"])
@require_permission(MANAGE)
def calendar_edit(calendar_id: str) -> Any:
    """Change opening hours and time zone; add and remove holidays."""
    return _calendar_page(get_or_404(Calendar, calendar_id))


@bp.post("/settings/calendars/<calendar_id>/delete")
@require_permission(MANAGE)
def calendar_delete(calendar_id: str) -> Any:
    """Delete business hours no policy uses."""
    calendar = get_or_404(Calendar, calendar_id)
    return _delete(lambda: admin.delete_calendar(calendar), _("Business hours deleted."))


@bp.post("/settings/calendars/<calendar_id>/holidays")
@require_permission(MANAGE)
def holiday_add(calendar_id: str) -> Any:
    """Add a holiday to business hours."""
    calendar = get_or_404(Calendar, calendar_id)
    form = HolidayForm()
    submit_and_flash(
        form,
        lambda: admin.add_holiday(calendar, form_data()),
        _("Holiday added."),
        _("Holiday not added: %(problem)s"),
    )
    return redirect(url_for("service.calendar_edit", calendar_id=calendar.id), 303)


@bp.post("/settings/holidays/<holiday_id>/delete")
@require_permission(MANAGE)
def holiday_delete(holiday_id: str) -> Any:
    """Remove a holiday."""
    holiday = get_or_404(Holiday, holiday_id)
    calendar_id = holiday.calendar_id
    submit_and_flash(
        ButtonForm(), lambda: db.session.delete(holiday), _("Holiday removed."), "%(problem)s"
    )
    return redirect(url_for("service.calendar_edit", calendar_id=calendar_id), 303)


# ----------------------------------------------------------------- canned responses


def _canned_page(canned: CannedResponse | None) -> Any:
    form = CannedForm(obj=canned) if request.method == "GET" else CannedForm()
    return _save_page(
        form,
        lambda: admin.save_canned(canned, form_data()),
        "service/canned_form.html",
        done=_("Canned response saved."),
        fallback="title",
        canned=canned,
        merge_fields=MERGE_FIELDS,
    )


@bp.route("/settings/canned/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def canned_new() -> Any:
    """Add a canned response."""
    return _canned_page(None)


@bp.route("/settings/canned/<canned_id>", methods=["GET", "POST"])
@require_permission(MANAGE)
def canned_edit(canned_id: str) -> Any:
    """Change a canned response."""
    return _canned_page(get_or_404(CannedResponse, canned_id))


@bp.post("/settings/canned/<canned_id>/delete")
@require_permission(MANAGE)
def canned_delete(canned_id: str) -> Any:
    """Delete a canned response."""
    canned = get_or_404(CannedResponse, canned_id)
    return _delete(lambda: db.session.delete(canned), _("Canned response deleted."))


# ----------------------------------------------------------------- escalation rules


def _rule_form() -> EscalationForm:
    form = EscalationForm()
    form.queue_id.choices = options([("", _("Any queue"))] + queue_choices(blank=False))
    form.priority.choices = options(
        [("", _("Any priority"))] + [(p, PRIORITY_LABELS[p]) for p in PRIORITIES]
    )
    form.user_id.choices = options(member_choices())
    return form


@bp.post("/settings/rules")
@require_permission(MANAGE)
def rule_add() -> Any:
    """Add an escalation rule."""
    submit_and_flash(
        _rule_form(),
        lambda: admin.save_rule(form_data()),
        _("Escalation rule added."),
        _("Rule not added: %(problem)s"),
    )
    return _back()


@bp.post("/settings/rules/<rule_id>/delete")
@require_permission(MANAGE)
def rule_delete(rule_id: str) -> Any:
    """Delete an escalation rule."""
    rule = get_or_404(EscalationRule, rule_id)
    return _delete(lambda: db.session.delete(rule), _("Escalation rule deleted."))


# ----------------------------------------------------------------- call scripts


def _script_page(script: CallScript | None) -> Any:
    form = ScriptForm()
    form.queue_id.choices = options(queue_choices())
    if request.method == "GET" and script is not None:
        form.title.data, form.queue_id.data = script.title, str(script.queue_id or "")
        form.steps.data = "\n".join(script.steps or [])
    return _save_page(
        form,
        lambda: admin.save_script(script, form_data()),
        "service/script_form.html",
        done=_("Call script saved."),
        fallback="title",
        script=script,
    )


@bp.route("/settings/scripts/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def script_new() -> Any:
    """Add a call script."""
    return _script_page(None)


@bp.route("/settings/scripts/<script_id>", methods=["GET", "POST"])
@require_permission(MANAGE)
def script_edit(script_id: str) -> Any:
    """Change a call script."""
    return _script_page(get_or_404(CallScript, script_id))


@bp.post("/settings/scripts/<script_id>/delete")
@require_permission(MANAGE)
def script_delete(script_id: str) -> Any:
    """Delete a call script."""
    script = get_or_404(CallScript, script_id)
    return _delete(lambda: db.session.delete(script), _("Call script deleted."))


# ----------------------------------------------------------------- KB categories


@bp.post("/settings/categories")
@require_permission(MANAGE)
def category_add() -> Any:
    """Add a knowledge-base category."""
    submit_and_flash(
        CategoryForm(),
        lambda: admin.save_category(form_data()),
        _("Category added."),
        _("Category not added: %(problem)s"),
    )
    return _back()


@bp.post("/settings/categories/<category_id>/delete")
@require_permission(MANAGE)
def category_delete(category_id: str) -> Any:
    """Delete an empty knowledge-base category."""
    category = get_or_404(KbCategory, category_id)
    return _delete(lambda: admin.delete_category(category), _("Category deleted."))
