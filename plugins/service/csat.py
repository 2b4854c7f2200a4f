"""Satisfaction (CSAT) surveys: sent when a ticket is solved, answered once.

The link carries a signed token (``sdk.make_token("service.csat", ...)``) naming the tenant
and the survey; a tampered, expired or foreign link is refused, and the survey row's
``answered_at`` makes the answer single: a second use shows that it was already answered.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm_platform.sdk import (
    TokenError,
    ValidationFailed,
    db,
    make_token,
    parse_uuid,
    read_token,
    require_tenant,
    send_mail,
    utcnow,
)

from .models import Survey, Ticket
from .outbound import subject_of
from .settings import WorkspaceSettings

PURPOSE = "service.csat"
MAX_AGE = 30 * 24 * 3600
RATINGS = (1, 2, 3, 4, 5)
#: A rating of at least this counts as satisfied (the CSAT score is their share).
SATISFIED = 4


class SurveyLinkError(ValueError):
    """A survey link that is not valid (tampered, expired, of another workspace)."""


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for mail (``BASE_URL`` + path), in a request or not."""
    base = current_app.config["BASE_URL"]
    values.setdefault("tenant_slug", require_tenant().slug)
    if has_request_context():
        return base + url_for(endpoint, **values)
    with current_app.test_request_context():
        return base + url_for(endpoint, **values)


def survey_token(survey: Survey) -> str:
    """The signed token of a survey's link."""
    return make_token(PURPOSE, {"t": str(survey.tenant_id), "s": str(survey.id)})


def send_survey(ticket: Ticket) -> Survey | None:
    """Create the ticket's survey and mail its link (once; only when the workspace wants it
    and the ticket has a requester address)."""
    if not ticket.requester_email or not WorkspaceSettings.load().csat:
        return None
    exists = db.session.scalar(select(Survey.id).where(Survey.ticket_id == ticket.id))
    if exists is not None:
        return None
    survey = Survey(
        ticket_id=ticket.id,
        agent_id=ticket.assignee_id,
        queue_id=ticket.queue_id,
        sent_at=utcnow(),
    )
    db.session.add(survey)
    db.session.flush()
    link = external_url("service.survey", token=survey_token(survey))
    body = _(
        "Your request #%(number)d “%(subject)s” has been solved.\n\n"
        "How satisfied are you with our help? Tell us in one click:\n%(link)s\n\n"
        "If you still need help, simply reply to this e-mail.",
        number=ticket.number,
        subject=ticket.subject,
        link=link,
    )
    send_mail(ticket.requester_email, subject_of(ticket), body)
    return survey


def survey_from_token(token: str) -> Survey:
    """The current tenant's survey of a link; raises SurveyLinkError."""
    try:
        payload = read_token(PURPOSE, token, MAX_AGE)
    except TokenError as exc:
        raise SurveyLinkError(str(exc)) from exc
    survey_id = parse_uuid(payload.get("s"))
    if payload.get("t") != str(require_tenant().id) or survey_id is None:
        raise SurveyLinkError(_("This link is not valid."))
    survey = db.session.scalars(select(Survey).where(Survey.id == survey_id)).one_or_none()
    if survey is None:
        raise SurveyLinkError(_("This link is not valid."))
    return survey


def answer(survey: Survey, rating: Any, comment: Any) -> None:
    """Record the one answer; raises ValidationFailed (bad rating, already answered)."""
    if survey.answered_at is not None:
        raise ValidationFailed({"survey": _("This survey has already been answered.")})
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if value not in RATINGS:
        raise ValidationFailed({"rating": _("Choose a rating from 1 to 5.")})
    text = str(comment or "").strip()
    if len(text) > 2000:
        raise ValidationFailed({"comment": _("Use at most %(num)d characters.", num=2000)})
    # One answer even when the link is used twice at the same moment: only the UPDATE that
    # finds the survey unanswered writes.
    written = db.session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.answered_at.is_(None))
        .values(rating=value, comment=text or None, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not written:
        raise ValidationFailed({"survey": _("This survey has already been answered.")})
    db.session.refresh(survey)
