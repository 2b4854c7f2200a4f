"""What the module shows elsewhere in the CRM: the panel on accounts and contacts, timeline
lines, the dashboard widget, global search results; and following merged customers."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from crm_platform.sdk import (
    DomainEvent,
    SearchResult,
    TimelineEntry,
    db,
    parse_uuid,
    utcnow,
)

from .kb import search as search_articles
from .models import OPEN_STATUSES, Call, Ticket
from .sla import at_risk_clause, aware, breached_clause

PANEL_ROWS = 10


def _of_record(model: Any, record: Any, kind: str) -> Any:
    return model.account_id == record.id if kind == "account" else model.contact_id == record.id


def record_panel(record: Any, kind: str) -> str:
    """The Service panel of an account or contact: its tickets and calls."""
    tickets = (
        db.session.scalars(
            select(Ticket)
            .where(_of_record(Ticket, record, kind), Ticket.merged_into_id.is_(None))
            .order_by(Ticket.created_at.desc())
            .limit(PANEL_ROWS)
        )
        .unique()
        .all()
    )
    calls = (
        db.session.scalars(
            select(Call)
            .where(_of_record(Call, record, kind))
            .order_by(Call.started_at.desc())
            .limit(PANEL_ROWS)
        )
        .unique()
        .all()
    )
    return render_template(
        "service/panel.html", record=record, kind=kind, tickets=tickets, calls=calls
    )


def timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Tickets opened and solved, and calls, of an account or contact."""
    entries: list[TimelineEntry] = []
    for ticket in db.session.scalars(
        select(Ticket).where(_of_record(Ticket, record, kind)).limit(200)
    ).unique():
        url = url_for("service.ticket", ticket_id=ticket.id)
        title = _(
            "Ticket #%(number)d opened: %(subject)s", number=ticket.number, subject=ticket.subject
        )
        entries.append(TimelineEntry(aware(ticket.created_at), title, kind="ticket", url=url))
        if ticket.solved_at is not None:
            solved = _("Ticket #%(number)d solved", number=ticket.number)
            entries.append(TimelineEntry(aware(ticket.solved_at), solved, kind="ticket", url=url))
    for call in db.session.scalars(
        select(Call).where(_of_record(Call, record, kind)).limit(200)
    ).unique():
        title = _(
            "%(direction)s call, %(outcome)s",
            direction=call.direction_label,
            outcome=call.outcome_label,
        )
        entries.append(
            TimelineEntry(
                aware(call.started_at),
                title,
                body=call.notes or "",
                kind="call",
                url=url_for("service.call", call_id=call.id),
                actor=call.agent.name if call.agent else "",
            )
        )
    return entries


def dashboard_widget(membership: Any) -> str:
    """The member's open tickets and the desk's breached / at-risk counts."""
    now = utcnow()
    open_tickets = Ticket.status.in_(OPEN_STATUSES)
    mine = db.session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(open_tickets, Ticket.assignee_id == membership.user_id)
    )
    unassigned = db.session.scalar(
        select(func.count()).select_from(Ticket).where(open_tickets, Ticket.assignee_id.is_(None))
    )
    breached = db.session.scalar(
        select(func.count()).select_from(Ticket).where(open_tickets, breached_clause(now))
    )
    at_risk = db.session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(open_tickets, at_risk_clause(now), ~breached_clause(now))
    )
    return render_template(
        "service/widget.html",
        mine=mine or 0,
        unassigned=unassigned or 0,
        breached=breached or 0,
        at_risk=at_risk or 0,
    )


def search_results(query: str, limit: int) -> list[SearchResult]:
    """Tickets (by number, subject or requester) and articles matching ``query``."""
    query = " ".join((query or "").split())[:100]
    if not query:
        return []
    conditions = [
        Ticket.subject.ilike(f"%{query}%"),
        Ticket.requester_email.ilike(f"%{query}%"),
        Ticket.requester_name.ilike(f"%{query}%"),
    ]
    number = query.lstrip("#")
    if number.isdigit() and len(number) < 10:
        conditions.append(Ticket.number == int(number))
    tickets = db.session.scalars(
        select(Ticket).where(or_(*conditions)).order_by(Ticket.created_at.desc()).limit(limit)
    ).unique()
    results = [
        SearchResult(
            title=f"#{t.number} {t.subject}",
            url=url_for("service.ticket", ticket_id=t.id),
            kind=_("Tickets"),
            subtitle=" · ".join((t.status_label, t.requester_label)),
            score=2.0 if str(t.number) == number else 1.0,
        )
        for t in tickets
    ]
    results += [
        SearchResult(
            title=a.title,
            url=url_for("service.article", article_id=a.id),
            kind=_("Knowledge base"),
            subtitle=a.category.name if a.category else "",
        )
        for a in search_articles(query, limit=limit)
    ]
    return results


def follow_merge(event: DomainEvent) -> None:
    """After two customers merged, move tickets and calls to the surviving record."""
    merged, survivor = parse_uuid(event.data.get("merged")), event.record_id
    if merged is None or survivor is None:
        return
    column = "account_id" if event.name == "account.merged" else "contact_id"
    for model in (Ticket, Call):
        db.session.execute(
            update(model)
            .where(getattr(model, column) == merged)
            .values({column: survivor})
            .execution_options(synchronize_session=False)
        )
