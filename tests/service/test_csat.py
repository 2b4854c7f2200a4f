"""Satisfaction surveys: sent on solve with a signed link, one answer, clear refusals."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant
from helpers_web import last_mail, post_form, tamper, token_of
from sqlalchemy import select

from crm_platform.sdk import make_token
from plugins.service import tickets
from plugins.service.models import Survey

from .helpers import get_ticket, open_ticket


def _solve(app: Any, tenant: Any, ticket_id: str) -> str:
    with in_tenant(app, tenant) as session:
        ticket = get_ticket(session, ticket_id)
        tickets.set_status(ticket, "solved")
        session.commit()
    return last_mail(app, "carol@customer.example").link


def test_solving_sends_a_survey_answered_once(app: Any, acme: Any, owner: Any, events: Any) -> None:
    ticket_id = open_ticket(app, acme, requester_email="carol@customer.example")
    link = _solve(app, acme, ticket_id)
    assert [str(rid) for rid, _ in events.of("ticket.solved")] == [ticket_id]
    visitor = app.test_client()
    form = visitor.get(link)
    assert form.status_code == 200 and "How did we do?" in form.text
    bad = post_form(visitor, link, {"rating": "9"})
    assert bad.status_code == 400 and "Choose a rating from 1 to 5." in bad.text
    answered = post_form(visitor, link, {"rating": "5", "comment": "Super fast, thanks!"})
    assert answered.status_code == 200 and "Thank you!" in answered.text
    again = visitor.get(link)
    assert again.status_code == 200 and "already been answered" in again.text
    second = post_form(visitor, link, {"rating": "1"}, page="/t/acme/service/help")
    assert second.status_code == 409
    with in_tenant(app, acme) as session:
        survey = session.scalars(select(Survey)).one()
        assert (survey.rating, survey.comment) == (5, "Super fast, thanks!")
    report = owner.get("/t/acme/service/reports").text
    assert "Super fast, thanks!" in report and "100%" in report


def test_tampered_foreign_and_reused_links_are_refused(app: Any, acme: Any, factory: Any) -> None:
    ticket_id = open_ticket(app, acme, requester_email="carol@customer.example")
    link = _solve(app, acme, ticket_id)
    visitor = app.test_client()
    broken = visitor.get(link.replace(token_of(link), tamper(token_of(link))))
    assert broken.status_code == 400 and "This link is not valid." in broken.text
    # a valid token of another workspace's survey, opened under this workspace
    with app.test_request_context():
        foreign = make_token("service.csat", {"t": str(factory.tenant("other").id), "s": "x"})
    assert visitor.get(f"/t/acme/service/survey/{foreign}").status_code == 400
    with app.test_request_context():
        invite = make_token("invite", {"tid": str(acme.id), "iid": "x"})
    assert visitor.get(f"/t/acme/service/survey/{invite}").status_code == 400


def test_no_survey_when_the_workspace_does_not_want_one(app: Any, acme: Any) -> None:
    from plugins.service.settings import WorkspaceSettings

    with in_tenant(app, acme) as session:
        WorkspaceSettings(csat=False).save()
        session.commit()
    ticket_id = open_ticket(app, acme, requester_email="carol@customer.example")
    with in_tenant(app, acme) as session:
        ticket = get_ticket(session, ticket_id)
        tickets.set_status(ticket, "solved")
        session.commit()
        assert session.scalars(select(Survey)).all() == []
