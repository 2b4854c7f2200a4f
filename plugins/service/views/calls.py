"""Call-centre pages: the call log, the screen-pop by phone number (caller, open tickets,
script, log form), a call with its callback, and scripts stepped through with htmx."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm_platform.sdk import (
    db,
    get_or_404,
    parse_uuid,
    require_permission,
    utcnow,
)

from .. import calls, tickets, validation
from ..forms import CallbackForm, CallForm, options
from ..models import Call, CallScript, Ticket
from . import apply_errors, bp, form_data, member_choices, membership, queue_choices, submit

PAGE = 50


@bp.get("/calls", endpoint="calls")
@require_permission("service.read")
def calls_page() -> Any:
    """The call log, newest first."""
    stmt = select(Call)
    before = parse_uuid(request.args.get("before"))
    if before is not None:
        stmt = stmt.where(Call.id < before)
    rows = list(db.session.scalars(stmt.order_by(Call.id.desc()).limit(PAGE + 1)).unique())
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render_template(
        "service/calls.html", calls=rows, next_before=str(rows[-1].id) if more else None
    )


def _call_form(caller: calls.Caller | None, queue_id: str) -> CallForm:
    form = CallForm()
    form.queue_id.choices = options(queue_choices())
    contacts = caller.contacts if caller else []
    form.contact_id.choices = options(
        [("", "—")]
        + [
            (str(c.id), f"{c.full_name} · {c.account.name}" if c.account else c.full_name)
            for c in contacts
        ]
    )
    ticket_rows = caller.tickets if caller else []
    form.ticket_id.choices = options(
        [("", "—")] + [(str(t.id), f"#{t.number} {t.subject}") for t in ticket_rows]
    )
    if request.method == "GET" and caller is not None:
        form.number.data = caller.number
        form.direction.data = request.args.get("direction", "inbound")
        form.outcome.data = "answered"
        form.queue_id.data = queue_id
        if caller.contact is not None:
            form.contact_id.data = str(caller.contact.id)
    return form


def _default_queue_id() -> str:
    chosen = parse_uuid(request.values.get("queue_id"))
    if chosen is not None:
        return str(chosen)
    queue = validation.default_queue()
    return str(queue.id) if queue else ""


@bp.get("/calls/pop")
@require_permission("service.read")
def screen_pop() -> Any:
    """Screen-pop: who calls from ``?number=`` (or ask for the number)."""
    raw = request.args.get("number", "").strip()
    queue_id = _default_queue_id()
    caller, problem = None, None
    if raw:
        try:
            caller = calls.find_caller(raw, membership())
        except ValueError as exc:
            problem = str(exc)
    scripts = calls.scripts_for(parse_uuid(queue_id))
    return render_template(
        "service/pop.html",
        raw=raw,
        problem=problem,
        caller=caller,
        form=_call_form(caller, queue_id),
        scripts=scripts,
        queue_id=queue_id,
        queues=queue_choices(blank=False),
        can_work=membership().can("service.work"),
    ), (400 if problem else 200)


@bp.post("/calls")
@require_permission("service.work")
def call_log() -> Any:
    """Log a call (from the screen-pop), and open a ticket from it when a subject is given."""
    data = form_data()
    caller = None
    try:
        caller = calls.find_caller(data.get("number"), membership())
    except ValueError:
        caller = None
    form = _call_form(caller, data.get("queue_id", ""))

    def log() -> Call:
        call = calls.log_call(data, actor=current_user, membership=membership())
        subject = (data.get("new_ticket") or "").strip()
        if subject and call.ticket_id is None:
            ticket = _ticket_from_call(call, subject)
            call.ticket_id, call.outcome = ticket.id, "ticket"
        return call

    call, errors = submit(form, log, "number")
    if not errors:
        flash(_("Call logged."), "success")
        return redirect(url_for("service.call", call_id=call.id), 303)
    apply_errors(form, errors, "number")
    return render_template(
        "service/pop.html",
        raw=data.get("number", ""),
        problem=None,
        caller=caller,
        form=form,
        scripts=calls.scripts_for(parse_uuid(data.get("queue_id"))),
        queue_id=data.get("queue_id", ""),
        queues=queue_choices(blank=False),
        can_work=True,
    ), 400


def _ticket_from_call(call: Call, subject: str) -> Ticket:
    contact = call.contact
    ticket, _refused = tickets.create_ticket(
        {
            "subject": subject,
            "description": call.notes or "",
            "contact_id": str(call.contact_id) if call.contact_id else "",
            "requester_email": contact.email if contact and contact.email else "",
            "queue_id": str(call.queue_id) if call.queue_id else "",
        },
        channel="phone",
        actor=current_user,
        membership=membership(),
    )
    return ticket


@bp.get("/calls/<call_id>")
@require_permission("service.read")
def call(call_id: str) -> Any:
    """A call: who, when, how it went; schedule a callback."""
    row = get_or_404(Call, call_id)
    form = CallbackForm()
    form.owner_id.choices = options(member_choices())
    form.owner_id.data = str(current_user.id)
    return render_template("service/call.html", call=row, form=form, today=utcnow().date())


@bp.post("/calls/<call_id>/callback")
@require_permission("service.work")
def call_callback(call_id: str) -> Any:
    """Promise a callback: a task on the caller's record, due on the chosen day."""
    row = get_or_404(Call, call_id)
    form = CallbackForm()
    form.owner_id.choices = options(member_choices())
    data = {
        "due_date": request.form.get("due_date", ""),
        "owner_id": form.owner_id.data,
        "note": form.note.data,
    }
    _task, errors = submit(
        form,
        lambda: calls.schedule_callback(row, data, actor=current_user, membership=membership()),
        "due_date",
    )
    if not errors:
        flash(_("Callback scheduled: it is in the tasks."), "success")
        return redirect(url_for("service.call", call_id=row.id), 303)
    apply_errors(form, errors, "due_date")
    return render_template("service/call.html", call=row, form=form, today=utcnow().date()), 400


@bp.get("/scripts/<script_id>")
@require_permission("service.read")
def script_step(script_id: str) -> Any:
    """One step of a call script, with back and next (htmx swaps it in place)."""
    script = get_or_404(CallScript, script_id)
    try:
        step = int(request.args.get("step", "0"))
    except ValueError:
        step = 0
    step = min(max(step, 0), max(len(script.steps) - 1, 0))
    return render_template("service/_script.html", script=script, step=step)
