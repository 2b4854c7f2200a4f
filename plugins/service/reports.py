"""Service reports over a period: backlog, volume by channel, first-response and resolution
times, SLA attainment, satisfaction per agent and queue. Aggregated in SQL where it is a
count, in Python where it is a median; days are the workspace's local days."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from crm_platform.sdk import Tenant, User, db, require_tenant, utcnow

from .csat import SATISFIED
from .models import CHANNELS, OPEN_STATUSES, STATUSES, Queue, Survey, Ticket
from .sla import aware

PERIODS = (7, 30, 90)


@dataclass
class Satisfaction:
    """CSAT of a group: answers, average rating, share satisfied (rating 4 or 5)."""

    name: str
    answers: int = 0
    total: int = 0
    satisfied: int = 0

    @property
    def average(self) -> float | None:
        """The average rating."""
        return round(self.total / self.answers, 2) if self.answers else None

    @property
    def score(self) -> int | None:
        """The CSAT score: percent of answers that are satisfied."""
        return round(100 * self.satisfied / self.answers) if self.answers else None

    def add(self, rating: int) -> None:
        """Count one answer."""
        self.answers += 1
        self.total += rating
        self.satisfied += rating >= SATISFIED


@dataclass
class Report:
    """Everything the reports page shows for one period."""

    days: int
    day_labels: list[str] = field(default_factory=list)
    volume_by_channel: list[dict[str, Any]] = field(default_factory=list)
    channel_totals: dict[str, int] = field(default_factory=dict)
    backlog_by_status: dict[str, int] = field(default_factory=dict)
    backlog_by_queue: list[tuple[str, int]] = field(default_factory=list)
    first_response_hours: dict[str, float | None] = field(default_factory=dict)
    resolution_hours: dict[str, float | None] = field(default_factory=dict)
    sla_done: int = 0
    sla_met: int = 0
    sla_by_queue: list[tuple[str, int, int]] = field(default_factory=list)
    csat: Satisfaction = field(default_factory=lambda: Satisfaction(""))
    csat_by_agent: list[Satisfaction] = field(default_factory=list)
    csat_by_queue: list[Satisfaction] = field(default_factory=list)
    comments: list[tuple[Survey, Ticket]] = field(default_factory=list)
    created: int = 0

    @property
    def sla_attainment(self) -> int | None:
        """Percent of finished tickets with an SLA that met every target."""
        return round(100 * self.sla_met / self.sla_done) if self.sla_done else None


def _zone() -> ZoneInfo:
    tenant = db.session.get(Tenant, require_tenant().id)
    try:
        return ZoneInfo(tenant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _hours(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"average": None, "median": None, "count": 0}
    return {
        "average": round(statistics.fmean(values), 1),
        "median": round(statistics.median(values), 1),
        "count": len(values),
    }


def _queue_names() -> dict[uuid.UUID | None, str]:
    names: dict[uuid.UUID | None, str] = {q.id: q.name for q in db.session.scalars(select(Queue))}
    names[None] = "—"
    return names


def build(days: int, now: datetime | None = None) -> Report:
    """The report of the last ``days`` days (one of :data:`PERIODS`)."""
    now = now or utcnow()
    zone = _zone()
    since = now - timedelta(days=days)
    report = Report(days=days)
    first_day = (now.astimezone(zone) - timedelta(days=days - 1)).date()
    day_list = [first_day + timedelta(days=i) for i in range(days)]
    report.day_labels = [d.strftime("%m-%d") for d in day_list]
    queues = _queue_names()

    per_day: dict[str, Counter[date]] = defaultdict(Counter)
    response: list[float] = []
    for created, channel, responded in db.session.execute(
        select(Ticket.created_at, Ticket.channel, Ticket.first_responded_at).where(
            Ticket.created_at >= since, Ticket.merged_into_id.is_(None)
        )
    ):
        created = aware(created)
        per_day[channel][created.astimezone(zone).date()] += 1
        report.channel_totals[channel] = report.channel_totals.get(channel, 0) + 1
        report.created += 1
        if responded is not None:
            response.append((aware(responded) - created).total_seconds() / 3600)
    report.volume_by_channel = [
        {"name": channel, "values": [per_day[channel][d] for d in day_list]}
        for channel in CHANNELS
        if channel in per_day
    ]
    report.first_response_hours = _hours(response)

    backlog = dict(
        db.session.execute(
            select(Ticket.status, func.count())
            .where(Ticket.status.in_(OPEN_STATUSES))
            .group_by(Ticket.status)
        ).all()
    )
    report.backlog_by_status = {s: backlog.get(s, 0) for s in STATUSES if s in OPEN_STATUSES}
    report.backlog_by_queue = sorted(
        (
            (queues.get(qid, "—"), n)
            for qid, n in db.session.execute(
                select(Ticket.queue_id, func.count())
                .where(Ticket.status.in_(OPEN_STATUSES))
                .group_by(Ticket.queue_id)
            )
        ),
        key=lambda pair: -pair[1],
    )

    resolution: list[float] = []
    by_queue: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for created, solved, policy, late1, late2, qid in db.session.execute(
        select(
            Ticket.created_at,
            Ticket.solved_at,
            Ticket.sla_policy_id,
            Ticket.response_breached,
            Ticket.resolution_breached,
            Ticket.queue_id,
        ).where(
            Ticket.solved_at >= since,
            Ticket.status.in_(("solved", "closed")),
            Ticket.merged_into_id.is_(None),
        )
    ):
        resolution.append((aware(solved) - aware(created)).total_seconds() / 3600)
        if policy is not None:
            met = not (late1 or late2)
            report.sla_done += 1
            report.sla_met += met
            line = by_queue[queues.get(qid, "—")]
            line[0] += 1
            line[1] += met
    report.resolution_hours = _hours(resolution)
    report.sla_by_queue = sorted((name, done, met) for name, (done, met) in by_queue.items())

    agents: dict[uuid.UUID | None, Satisfaction] = {}
    by_queue_csat: dict[uuid.UUID | None, Satisfaction] = {}
    report.csat = Satisfaction("")
    names = {
        u.id: u.name
        for u in db.session.scalars(select(User).join(Survey, Survey.agent_id == User.id))
    }
    answered = db.session.execute(
        select(Survey, Ticket)
        .join(Ticket, (Ticket.tenant_id == Survey.tenant_id) & (Ticket.id == Survey.ticket_id))
        .where(Survey.answered_at >= since)
        .order_by(Survey.answered_at.desc())
    ).all()
    for survey, ticket in answered:
        report.csat.add(survey.rating)
        agents.setdefault(survey.agent_id, Satisfaction(names.get(survey.agent_id, "—"))).add(
            survey.rating
        )
        by_queue_csat.setdefault(
            survey.queue_id, Satisfaction(queues.get(survey.queue_id, "—"))
        ).add(survey.rating)
        if len(report.comments) < 20:  # the latest answers, with or without a comment
            report.comments.append((survey, ticket))
    report.csat_by_agent = sorted(agents.values(), key=lambda s: s.name.lower())
    report.csat_by_queue = sorted(by_queue_csat.values(), key=lambda s: s.name.lower())
    return report
