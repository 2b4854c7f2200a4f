"""Ticket pages: the list with SLA states, a new ticket, the ticket with its thread, reply
(canned responses), properties, customer, merge, attachments; agent status and the board."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from crm_platform.sdk import (
    ValidationFailed,
    clean_email,
    db,
    get_or_404,
    parse_uuid,
    require_permission,
    utcnow,
)

from .. import agents, canned, kb, sla, tickets, validation
from ..forms import (
    AgentStatusForm,
    ButtonForm,
    CustomerForm,
    MergeForm,
    PropertiesForm,
    ReplyForm,
    TicketForm,
    options,
)
from ..models import (
    AGENT_STATUS_LABELS,
    OPEN_STATUSES,
    PRIORITIES,
    PRIORITY_LABELS,
    SLA_STATUS_LABELS,
    STATUS_LABELS,
    STATUSES,
    Attachment,
    Call,
    CannedResponse,
    Message,
    Ticket,
)
from ..sla import at_risk_clause, breached_clause
from . import (
    apply_errors,
    bp,
    form_data,
    member_choices,
    membership,
    queue_choices,
    submit,
    submit_and_flash,
    uploads,
)

PAGE = 50
VIEWS = {
    "open": lambda now: Ticket.status.in_(OPEN_STATUSES),
    "mine": lambda now: Ticket.status.in_(OPEN_STATUSES),  # plus the assignee, below
    "unassigned": lambda now: Ticket.status.in_(OPEN_STATUSES) & Ticket.assignee_id.is_(None),
    "breached": lambda now: Ticket.status.in_(OPEN_STATUSES) & breached_clause(now),
    "at_risk": lambda now: at_risk_clause(now) & ~breached_clause(now),
    "pending": lambda now: Ticket.status == "pending",
    "solved": lambda now: Ticket.status.in_(("solved", "closed")),
    "all": lambda now: Ticket.merged_into_id.is_(None),
}


def view_labels() -> dict[str, str]:
    """The list's saved views, labelled."""
    return {
        "open": _("Open"),
        "mine": _("Mine"),
        "unassigned": _("Unassigned"),
        "breached": _("SLA breached"),
        "at_risk": _("SLA at risk"),
        "pending": _("Waiting on customer"),
        "solved": _("Solved"),
        "all": _("All"),
    }


def _list_statement(args: Any) -> tuple[Any, dict[str, str]]:
    now = utcnow()
    state = {
        "view": args.get("view", "open") if args.get("view") in VIEWS else "open",
        "q": " ".join(args.get("q", "").split())[:100],
        "queue": args.get("queue", ""),
        "priority": args.get("priority", "") if args.get("priority") in PRIORITIES else "",
        "status": args.get("status", "") if args.get("status") in STATUSES else "",
    }
    stmt = select(Ticket).where(VIEWS[state["view"]](now))
    if state["view"] == "mine":
        stmt = stmt.where(Ticket.assignee_id == current_user.id)
    if state["q"]:
        q = state["q"]
        conditions = [
            Ticket.subject.ilike(f"%{q}%"),
            Ticket.requester_email.ilike(f"%{q}%"),
            Ticket.requester_name.ilike(f"%{q}%"),
        ]
        if q.lstrip("#").isdigit() and len(q) < 10:
            conditions.append(Ticket.number == int(q.lstrip("#")))
        stmt = stmt.where(or_(*conditions))
    queue_id = parse_uuid(state["queue"])
    if queue_id is not None:
        stmt = stmt.where(Ticket.queue_id == queue_id)
    if state["priority"]:
        stmt = stmt.where(Ticket.priority == state["priority"])
    if state["status"]:
        stmt = stmt.where(Ticket.status == state["status"])
    return stmt, state


@bp.get("/")
@require_permission("service.read")
def index() -> Any:
    """Tickets, newest first, with their SLA state; saved views and filters (htmx)."""
    stmt, state = _list_statement(request.args)
    before = parse_uuid(request.args.get("before"))
    if before is not None:
        stmt = stmt.where(Ticket.id < before)
    rows = list(db.session.scalars(stmt.order_by(Ticket.id.desc()).limit(PAGE + 1)).unique())
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    context = {
        "tickets": rows,
        "state": state,
        "next_before": str(rows[-1].id) if more else None,
        "views": view_labels(),
        "queues": queue_choices(),
        "priorities": PRIORITY_LABELS,
        "statuses": STATUS_LABELS,
        "sla_labels": SLA_STATUS_LABELS,
        "status_form": AgentStatusForm(status=agents.status_of(current_user.id)),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
        return render_template("service/_ticket_rows.html", **context)
    return render_template("service/index.html", **context)


def _ticket_form_choices(form: TicketForm | PropertiesForm) -> None:
    form.queue_id.choices = options(queue_choices())
    form.assignee_id.choices = options(member_choices())


@bp.route("/tickets/new", methods=["GET", "POST"])
@require_permission("service.work")
def ticket_new() -> Any:
    """Open a ticket for a customer (told on the phone, in person, by chat ...)."""
    form = TicketForm()
    _ticket_form_choices(form)
    if request.method == "GET":
        contact = _prefill_contact()
        if contact is not None:
            form.contact_id.data = str(contact.id)
            form.requester_email.data = contact.email or ""
            form.requester_name.data = contact.full_name
        form.priority.data = "normal"
        form.channel.data = request.args.get("channel", "agent")
        return render_template("service/ticket_new.html", form=form, contact=contact)
    data = form_data()
    channel = data.get("channel") if data.get("channel") in ("agent", "phone", "email") else ""
    created, errors = submit(
        form,
        lambda: tickets.create_ticket(
            data,
            channel=channel or "agent",
            actor=current_user,
            membership=membership(),
            uploads=uploads(),
        ),
        "subject",
    )
    if not errors:
        ticket, refused = created
        flash(_("Ticket #%(number)d opened.", number=ticket.number), "success")
        for problem in refused:
            flash(problem, "error")
        return redirect(url_for("service.ticket", ticket_id=ticket.id), 303)
    apply_errors(form, errors, "subject")
    contact = validation.contact(form.contact_id.data, membership()) if _valid_id(form) else None
    return render_template("service/ticket_new.html", form=form, contact=contact), 400


def _valid_id(form: TicketForm) -> bool:
    try:
        return validation.contact(form.contact_id.data, membership()) is not None
    except ValueError:
        return False


def _prefill_contact() -> Any:
    try:
        return validation.contact(request.args.get("contact_id"), membership())
    except ValueError:
        return None


def _ticket_page(
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    status: int = 200,
    properties: PropertiesForm | None = None,
) -> Any:
    thread = (
        db.session.scalars(
            select(Message).where(Message.ticket_id == ticket.id).order_by(Message.created_at)
        )
        .unique()
        .all()
    )
    files = db.session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.created_at)
    ).all()
    by_message: dict[Any, list[Attachment]] = {}
    for attachment in files:
        by_message.setdefault(attachment.message_id, []).append(attachment)
    if reply_form is None:
        reply_form = ReplyForm()
        reply_form.status.data = ""
    reply_form.canned_id.choices = options(
        [("", "—")]
        + [
            (str(c.id), c.title)
            for c in db.session.scalars(select(CannedResponse).order_by(CannedResponse.title))
        ]
    )
    reply_form.status.choices = options(
        [("", _("(keep: %(status)s)", status=ticket.status_label))]
        + [(s, STATUS_LABELS[s]) for s in ("open", "pending", "on_hold", "solved")]
    )
    if properties is None:
        properties = PropertiesForm(
            data={
                "status": ticket.status,
                "priority": ticket.priority,
                "queue_id": str(ticket.queue_id or ""),
                "assignee_id": str(ticket.assignee_id or ""),
                "category": ticket.category or "",
                "order_ref": ticket.order_ref or "",
            }
        )
    _ticket_form_choices(properties)
    calls = (
        db.session.scalars(
            select(Call).where(Call.ticket_id == ticket.id).order_by(Call.started_at.desc())
        )
        .unique()
        .all()
    )
    merged_into = (
        db.session.get(Ticket, (ticket.tenant_id, ticket.merged_into_id))
        if ticket.merged_into_id
        else None
    )
    return render_template(
        "service/ticket.html",
        ticket=ticket,
        thread=thread,
        attachments=by_message,
        reply_form=reply_form,
        properties=properties,
        customer_form=CustomerForm(
            requester_email=ticket.requester_email or "",
        ),
        merge_form=MergeForm(),
        clock=sla.time_left(ticket),
        suggestions=kb.suggest(ticket.subject),
        calls=calls,
        merged_into=merged_into,
        order=tickets.linked_order(ticket),
        categories=_categories(),
        can_work=membership().can("service.work"),
    ), status


def _categories() -> list[str]:
    rows = db.session.execute(
        select(Ticket.category).where(Ticket.category.is_not(None)).distinct().limit(100)
    ).all()
    return sorted(r[0] for r in rows)


@bp.get("/tickets/<ticket_id>")
@require_permission("service.read")
def ticket(ticket_id: str) -> Any:
    """A ticket: thread, reply form, properties, SLA clock, customer, suggestions."""
    return _ticket_page(get_or_404(Ticket, ticket_id))


@bp.get("/tickets/<ticket_id>/canned")
@require_permission("service.work")
def canned_text(ticket_id: str) -> Any:
    """The reply box filled with a canned response for this ticket (htmx)."""
    ticket = get_or_404(Ticket, ticket_id)
    body = ""
    response = _canned(request.args.get("canned_id"))
    if response is not None:
        body = canned.render(response.body, ticket, current_user)
    form = ReplyForm(body=body)
    return render_template("service/_reply_body.html", form=form)


def _canned(value: Any) -> CannedResponse | None:
    cid = parse_uuid(value)
    if cid is None:
        return None
    return db.session.scalars(select(CannedResponse).where(CannedResponse.id == cid)).first()


@bp.post("/tickets/<ticket_id>/reply")
@require_permission("service.work")
def ticket_reply(ticket_id: str) -> Any:
    """Reply to the customer (mailed) or add an internal note; optionally move the status."""
    ticket = get_or_404(Ticket, ticket_id)
    form = ReplyForm()
    body = form.body.data or ""
    response = _canned(form.canned_id.data)
    if not body.strip() and response is not None:
        body = canned.render(response.body, ticket, current_user)
    public = form.public.data != "0"
    done, errors = submit(
        form,
        lambda: tickets.reply(
            ticket,
            body,
            actor=current_user,
            public=public,
            status=form.status.data or None,
            uploads=uploads(),
        ),
        "body",
    )
    if not errors:
        flash(_("Reply sent.") if public else _("Note added."), "success")
        for problem in done[1]:
            flash(problem, "error")
        return redirect(url_for("service.ticket", ticket_id=ticket.id) + "#thread", 303)
    apply_errors(form, errors, "body")
    return _ticket_page(ticket, reply_form=form, status=400)


@bp.post("/tickets/<ticket_id>/properties")
@require_permission("service.work")
def ticket_update(ticket_id: str) -> Any:
    """Change status, priority, queue, assignee, category or order number."""
    ticket = get_or_404(Ticket, ticket_id)
    form = PropertiesForm()
    fields = ("status", "priority", "queue_id", "assignee_id", "category", "order_ref")
    data = {name: request.form.get(name, "") for name in fields if name in request.form}
    changed, errors = submit(
        form,
        lambda: tickets.update_ticket(ticket, data, actor=current_user, membership=membership()),
        "status",
    )
    if not errors:
        flash(_("Ticket saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("service.ticket", ticket_id=ticket.id), 303)
    apply_errors(form, errors, "status")
    return _ticket_page(ticket, properties=form, status=400)


@bp.post("/tickets/<ticket_id>/customer")
@require_permission("service.work")
def ticket_customer(ticket_id: str) -> Any:
    """Change who the ticket is for: the requester's address (and so the contact)."""
    ticket = get_or_404(Ticket, ticket_id)
    form = CustomerForm()

    def change() -> None:
        try:
            email = clean_email(form.requester_email.data) or ""
        except ValueError as exc:
            raise ValidationFailed({"requester_email": str(exc)}) from exc
        contact = validation.contact_by_email(email)
        data = {
            "requester_email": email,
            "contact_id": str(contact.id) if contact else "",
            "account_id": str(contact.account_id) if contact and contact.account_id else "",
        }
        if contact is not None:
            data["requester_name"] = contact.full_name
        tickets.update_ticket(ticket, data, actor=current_user, membership=membership())

    submit_and_flash(form, change, _("Customer saved."), _("Customer not changed: %(problem)s"))
    return redirect(url_for("service.ticket", ticket_id=ticket.id), 303)


@bp.post("/tickets/<ticket_id>/merge")
@require_permission("service.work")
def ticket_merge(ticket_id: str) -> Any:
    """Merge this ticket into another (by number)."""
    source = get_or_404(Ticket, ticket_id)
    form = MergeForm()
    number = (form.target.data or "").strip().lstrip("#")
    target = None
    if number.isdigit() and len(number) < 10:
        target = db.session.scalars(select(Ticket).where(Ticket.number == int(number))).first()

    def merge() -> None:
        if target is None:
            raise ValidationFailed({"target": _("There is no ticket with this number.")})
        tickets.merge(source, target, actor=current_user)

    done = _("Merged into #%(number)d.", number=target.number) if target else ""
    if submit_and_flash(form, merge, done, _("Not merged: %(problem)s")):
        return redirect(url_for("service.ticket", ticket_id=target.id), 303)
    return redirect(url_for("service.ticket", ticket_id=source.id), 303)


@bp.get("/attachments/<attachment_id>")
@require_permission("service.read")
def attachment(attachment_id: str) -> Any:
    """Download an attachment (always as a file, never shown inline)."""
    row = get_or_404(Attachment, attachment_id)
    out = Response(row.data, mimetype=row.content_type or "application/octet-stream")
    out.headers["Content-Disposition"] = f'attachment; filename="{row.filename}"'
    out.headers["X-Content-Type-Options"] = "nosniff"
    out.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    out.headers["Cache-Control"] = "private, no-store"
    return out


@bp.post("/agents/status")
@require_permission("service.work")
def agent_status() -> Any:
    """Set my availability (available, busy, away)."""
    form = AgentStatusForm()
    label = _status_label(form.status.data or "")
    submit_and_flash(
        form,
        lambda: agents.set_status(current_user.id, form.status.data or ""),
        _("Your status is now: %(status)s.", status=label),
        _("Status not changed: %(problem)s"),
    )
    return redirect(url_for("service.board"), 303)


def _status_label(value: str) -> str:
    return str(AGENT_STATUS_LABELS.get(value, value))


@bp.get("/board")
@require_permission("service.read")
def board() -> Any:
    """The live queue board: open work per queue and every agent's status."""
    return render_template(
        "service/board.html",
        queues=agents.queue_board(),
        agents=agents.agent_board(),
        status_form=AgentStatusForm(status=agents.status_of(current_user.id)),
        can_work=membership().can("service.work"),
        button_form=ButtonForm(),
        now=utcnow(),
    )


@bp.get("/board/live")
@require_permission("service.read")
def board_live() -> Any:
    """The board's figures alone (the page polls this with htmx every few seconds)."""
    return render_template(
        "service/_board.html",
        queues=agents.queue_board(),
        agents=agents.agent_board(),
        now=utcnow(),
    )
