"""What Service contributes to the report builder (``crm_report_sources``): tickets.

Tickets group by status, priority, channel, category, queue and assignee, and by when they
were opened, solved or closed; resolution and first-response times (hours) average.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from crm_platform.sdk import Membership, ReportField, ReportSource, db

from .models import (
    CHANNEL_LABELS,
    PRIORITY_LABELS,
    STATUS_LABELS,
    Queue,
    Ticket,
)


class hours_between(FunctionElement):  # noqa: N801 - an SQL function's name
    """Hours from the first datetime to the second, on PostgreSQL and SQLite."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "postgresql")
def _hours_pg(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


@compiles(hours_between)
def _hours_default(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


def _members() -> dict[str, str]:
    rows = db.session.scalars(select(Membership)).unique().all()
    return {str(m.user_id): m.user.name or m.user.email for m in rows}


def _queues() -> dict[str, str]:
    return {str(q.id): q.name for q in db.session.scalars(select(Queue).order_by(Queue.name))}


def report_sources() -> list[ReportSource]:
    """Tickets."""
    tickets = ReportSource(
        key="tickets",
        label=_l("Tickets"),
        model=Ticket,
        fields=(
            ReportField("subject", _l("Subject"), "text", Ticket.subject, groupable=False),
            ReportField("status", _l("Status"), "choice", Ticket.status, choices=STATUS_LABELS),
            ReportField(
                "priority", _l("Priority"), "choice", Ticket.priority, choices=PRIORITY_LABELS
            ),
            ReportField("channel", _l("Channel"), "choice", Ticket.channel, choices=CHANNEL_LABELS),
            ReportField("category", _l("Category"), "text", Ticket.category),
            ReportField("queue_id", _l("Queue"), "choice", Ticket.queue_id, choices=_queues),
            ReportField(
                "assignee_id", _l("Assignee"), "choice", Ticket.assignee_id, choices=_members
            ),
            ReportField("created_at", _l("Opened"), "datetime", Ticket.created_at),
            ReportField("solved_at", _l("Solved"), "datetime", Ticket.solved_at),
            ReportField("closed_at", _l("Closed"), "datetime", Ticket.closed_at),
            ReportField(
                "first_response_hours",
                _l("Hours to first response"),
                "number",
                hours_between(Ticket.created_at, Ticket.first_responded_at),
                groupable=False,
                aggregatable=True,
            ),
            ReportField(
                "resolution_hours",
                _l("Hours to solve"),
                "number",
                hours_between(Ticket.created_at, Ticket.solved_at),
                groupable=False,
                aggregatable=True,
            ),
        ),
        record_url=lambda row: url_for("service.ticket", ticket_id=row.id),
        permission="service.read",
        title_field="subject",
    )
    return [tickets]
