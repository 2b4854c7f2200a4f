"""The service pages, as agents and managers use them."""

from __future__ import annotations

import re
from typing import Any

from conftest import in_tenant, login
from helpers_web import flashes, last_mail, mails, post_form
from sqlalchemy import select

from crm_platform.sdk import Activity, Contact
from plugins.service.models import (
    Article,
    Attachment,
    Call,
    CannedResponse,
    Message,
    Queue,
    QueueMember,
    Ticket,
)

from .helpers import open_ticket, thread


def _contact(app: Any, tenant: Any, **values: Any) -> str:
    with in_tenant(app, tenant) as session:
        contact = Contact(**{"first_name": "Carol", "last_name": "Customer", **values})
        session.add(contact)
        session.commit()
        return str(contact.id)


def test_module_off_means_404_and_no_navigation(app: Any, factory: Any) -> None:
    factory.tenant("quiet", owner_email="owner@quiet.example")
    client = app.test_client()
    login(client, "owner@quiet.example")
    for url in ("/t/quiet/service/", "/t/quiet/service/help", "/t/quiet/service/calls"):
        assert client.get(url).status_code == 404, url
    assert "/service/" not in client.get("/t/quiet/").text


def test_navigation_list_and_new_ticket(app: Any, owner: Any, acme: Any, events: Any) -> None:
    home = owner.get("/t/acme/").text
    for link in (
        "/t/acme/service/",
        "/t/acme/service/calls",
        "/t/acme/service/kb",
        "/t/acme/service/reports",
        "/t/acme/service/settings",
    ):
        assert f'href="{link}"' in home, link
    assert "Service desk" in home  # the dashboard widget
    contact_id = _contact(app, acme, email="carol@customer.example")
    page = "/t/acme/service/tickets/new"
    assert "Carol Customer" in owner.get(f"{page}?contact_id={contact_id}").text
    response = post_form(
        owner,
        page,
        {
            "subject": "Router keeps rebooting",
            "description": "Since Monday",
            "contact_id": contact_id,
            "channel": "phone",
            "priority": "high",
        },
    )
    assert response.status_code == 303
    ticket_page = owner.get(response.headers["Location"]).text
    assert "#1 Router keeps rebooting" in ticket_page and "Since Monday" in ticket_page
    listing = owner.get("/t/acme/service/?view=open").text
    assert "Router keeps rebooting" in listing and "On track" in listing
    with in_tenant(app, acme) as session:
        ticket = session.scalars(select(Ticket)).one()
        assert str(ticket.contact_id) == contact_id and ticket.first_responded_at is not None
    assert [d["priority"] for _, d in events.of("ticket.created")] == ["high"]


def test_bad_ticket_input_shows_errors(app: Any, owner: Any, acme: Any) -> None:
    response = post_form(
        owner,
        "/t/acme/service/tickets/new",
        {"subject": " ", "priority": "cosmic", "requester_email": "not-mail", "queue_id": "x"},
    )
    assert response.status_code == 400
    for message in (
        "Enter a subject.",
        "Choose one of the listed options.",
        "Choose one of the queues.",
    ):
        assert message in response.text
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Ticket)).all() == []


def test_reply_with_a_canned_response_mails_the_customer(app: Any, owner: Any, acme: Any) -> None:
    ticket_id = open_ticket(
        app, acme, requester_email="carol@customer.example", requester_name="Carol Customer"
    )
    url = f"/t/acme/service/tickets/{ticket_id}"
    with in_tenant(app, acme) as session:
        canned = session.scalars(
            select(CannedResponse).where(CannedResponse.title == "First reply")
        ).one()
        canned_id = str(canned.id)
    filled = owner.get(f"{url}/canned?canned_id={canned_id}").text
    assert "Hello Carol," in filled and "Printer is on fire" in filled  # merge fields
    response = post_form(
        owner,
        f"{url}/reply",
        {"body": "", "canned_id": canned_id, "public": "1", "status": "pending"},
        page=url,
    )
    assert response.status_code == 303
    page = owner.get(url).text
    assert "Waiting on customer" in page and "Paused while waiting on the customer" in page
    mail = last_mail(app, "carol@customer.example")
    assert "Hello Carol," in mail.body and "[#1-" in mail.subject
    with in_tenant(app, acme) as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.first_responded_at and ticket.assignee_id is not None
        assert ticket.sla_status == "paused"


def test_internal_notes_are_not_mailed_and_empty_replies_refused(
    app: Any, owner: Any, acme: Any
) -> None:
    ticket_id = open_ticket(app, acme, requester_email="carol@customer.example")
    url = f"/t/acme/service/tickets/{ticket_id}"
    before = len(mails(app, "carol@customer.example"))
    post_form(owner, f"{url}/reply", {"body": "Ask Bob", "public": "0"}, page=url)
    assert len(mails(app, "carol@customer.example")) == before
    response = post_form(owner, f"{url}/reply", {"body": "  ", "public": "1"}, page=url)
    assert response.status_code == 400 and "Write a message." in response.text
    with in_tenant(app, acme) as session:
        kinds = [m.kind for m in thread(session, session.scalars(select(Ticket)).one())]
        assert kinds == ["note"]


def test_properties_attachments_and_merge(app: Any, owner: Any, acme: Any) -> None:
    first = open_ticket(app, acme, subject="First")
    second = open_ticket(app, acme, subject="Second")
    url = f"/t/acme/service/tickets/{first}"
    response = post_form(
        owner,
        f"{url}/properties",
        {"status": "on_hold", "priority": "urgent", "category": "Hardware"},
        page=url,
    )
    assert response.status_code == 303
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', owner.get(url).text).group(1)
    upload = owner.post(
        f"{url}/reply",
        data={
            "csrf_token": token,
            "body": "Photo attached",
            "public": "0",
            "attachments": [
                (__import__("io").BytesIO(b"%PDF-1.4 test"), "photo.pdf"),
                (__import__("io").BytesIO(b"MZ"), "virus.exe"),
            ],
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303
    assert any("virus.exe" in f for f in flashes(owner.get(url).text))
    with in_tenant(app, acme) as session:
        ticket = session.scalars(select(Ticket).where(Ticket.subject == "First")).one()
        assert (ticket.status, ticket.priority, ticket.category) == (
            "on_hold",
            "urgent",
            "Hardware",
        )
        attachment = session.scalars(select(Attachment)).one()
        attachment_id = str(attachment.id)
    download = owner.get(f"/t/acme/service/attachments/{attachment_id}")
    assert download.data == b"%PDF-1.4 test"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    merged = post_form(owner, f"{url}/merge", {"target": "2"}, page=url)
    assert merged.status_code == 303 and merged.headers["Location"].endswith(second)
    with in_tenant(app, acme) as session:
        source = session.scalars(select(Ticket).where(Ticket.subject == "First")).one()
        target = session.scalars(select(Ticket).where(Ticket.subject == "Second")).one()
        assert source.status == "closed" and source.merged_into_id == target.id
        moved = session.scalars(select(Message).where(Message.ticket_id == target.id)).all()
        assert any("Photo attached" in m.body_text for m in moved)


def test_screen_pop_call_log_and_callback_task(app: Any, owner: Any, acme: Any) -> None:
    contact_id = _contact(app, acme, phone="+862155551234", email="carol@customer.example")
    pop = owner.get("/t/acme/service/calls/pop?number=021 5555 1234")
    assert pop.status_code == 200 and "Carol Customer" in pop.text
    assert "Standard call" in pop.text and "Step 1 of 5" in pop.text
    bad = owner.get("/t/acme/service/calls/pop?number=call me")
    assert bad.status_code == 400 and "Enter a phone number" in bad.text
    response = post_form(
        owner,
        "/t/acme/service/calls",
        {
            "number": "+86 21 5555 1234",
            "direction": "inbound",
            "outcome": "answered",
            "contact_id": contact_id,
            "duration": "3:05",
            "notes": "Asked about the invoice",
            "new_ticket": "Invoice question",
        },
        page="/t/acme/service/calls/pop?number=+862155551234",
    )
    assert response.status_code == 303
    call_url = response.headers["Location"]
    callback = post_form(
        owner,
        call_url + "/callback",
        {"due_date": "2999-01-01", "note": "After lunch"},
        page=call_url,
    )
    assert callback.status_code == 303
    with in_tenant(app, acme) as session:
        call = session.scalars(select(Call)).one()
        assert call.duration_seconds == 185 and call.ticket is not None
        assert call.ticket.channel == "phone" and call.ticket.subject == "Invoice question"
        task = session.scalars(select(Activity).where(Activity.id == call.callback_id)).one()
        assert task.kind == "task" and "+862155551234" in task.subject
        assert str(task.contact_id) == contact_id
    assert "+862155551234" in owner.get("/t/acme/tasks").text
    step = owner.get(re.search(r'href="([^"]*/scripts/[^"?]*\?step=1)"', pop.text).group(1))
    assert "Step 2 of 5" in step.text
    calls_page = owner.get("/t/acme/service/calls").text
    assert "Carol Customer" in calls_page


def test_board_and_agent_status(app: Any, owner: Any, agent: Any, acme: Any) -> None:
    open_ticket(app, acme)
    board = agent.get("/t/acme/service/board")
    assert board.status_code == 200 and 'hx-trigger="every 5s"' in board.text
    assert (
        post_form(
            agent, "/t/acme/service/agents/status", {"status": "away"}, page="/t/acme/service/board"
        ).status_code
        == 303
    )
    live = owner.get("/t/acme/service/board/live").text
    assert "Support" in live and "Away" in live


def test_knowledge_base_versions_search_and_public_pages(app: Any, owner: Any, acme: Any) -> None:
    response = post_form(
        owner,
        "/t/acme/service/kb/new",
        {
            "title": "Reset the router",
            "body": "Hold the reset button for ten seconds.",
            "visibility": "public",
            "status": "published",
        },
    )
    assert response.status_code == 303
    article_url = response.headers["Location"]
    post_form(
        owner,
        article_url + "/edit",
        {
            "title": "Reset the router",
            "body": "Hold the reset button for thirty seconds.",
            "visibility": "public",
            "status": "published",
        },
    )
    post_form(
        owner,
        "/t/acme/service/kb/new",
        {
            "title": "Internal escalation list",
            "body": "Call Bob for routers.",
            "visibility": "internal",
            "status": "published",
        },
    )
    page = owner.get(article_url).text
    assert "thirty seconds" in page and "v2" in page and "v1" in page
    assert "ten seconds" in owner.get(article_url + "?version=1").text
    found = owner.get("/t/acme/service/kb?q=router reset").text
    assert "Reset the router" in found
    ticket_id = open_ticket(app, acme, subject="Router will not reset")
    assert "Reset the router" in owner.get(f"/t/acme/service/tickets/{ticket_id}").text
    visitor = app.test_client()
    public = visitor.get("/t/acme/service/help/articles?q=router")
    assert public.status_code == 200 and "Reset the router" in public.text
    assert "Internal escalation" not in visitor.get("/t/acme/service/help/articles").text
    with in_tenant(app, acme) as session:
        internal = session.scalars(select(Article).where(Article.visibility == "internal")).one()
        internal_id = str(internal.id)
    assert visitor.get(f"/t/acme/service/help/articles/{internal_id}").status_code == 404
    restore = post_form(owner, article_url + "/restore", {"version": "1"}, page=article_url)
    assert restore.status_code == 303 and "ten seconds" in owner.get(article_url).text


def test_public_help_form_opens_a_ticket(app: Any, acme: Any) -> None:
    visitor = app.test_client()
    page = "/t/acme/service/help"
    assert "support+acme@inbound.localhost" in visitor.get(page).text
    empty = post_form(visitor, page, {"subject": "Help", "email": "", "description": ""})
    assert empty.status_code == 200 and "Enter your e-mail address" in empty.text
    robot = post_form(
        visitor,
        page,
        {
            "subject": "Spam",
            "email": "r@bot.example",
            "description": "buy",
            "website": "http://spam",
        },
    )
    assert robot.status_code == 303
    sent = post_form(
        visitor,
        page,
        {
            "name": "Dan",
            "subject": "Broken lid",
            "email": "dan@customer.example",
            "description": "The lid is broken",
        },
    )
    assert sent.status_code == 303
    with in_tenant(app, acme) as session:
        (ticket,) = session.scalars(select(Ticket)).all()
        assert (ticket.subject, ticket.channel) == ("Broken lid", "web")
    assert "#1" in last_mail(app, "dan@customer.example").body


def test_settings_pages_configure_the_desk(app: Any, owner: Any, acme: Any, factory: Any) -> None:
    agent = factory.member(acme, "agent@acme.example", "member")
    r = post_form(
        owner,
        "/t/acme/service/settings/queues/new",
        {"name": "Billing", "assignment": "round_robin", "members": str(agent.id)},
    )
    assert r.status_code == 303
    dup = post_form(owner, "/t/acme/service/settings/queues/new", {"name": "Billing"})
    assert dup.status_code == 400 and "already" in dup.text
    hours = {
        f"{p}_{k}": v
        for p in ("low", "normal", "high", "urgent")
        for k, v in (("response", "1"), ("resolution", "4"))
    }
    r = post_form(
        owner,
        "/t/acme/service/settings/policies/new",
        {"name": "Gold", "match_tag": "gold", "warn_percent": "80", **hours},
    )
    assert r.status_code == 303
    bad = post_form(
        owner,
        "/t/acme/service/settings/policies/new",
        {
            "name": "Broken",
            "match_tag": "x",
            "warn_percent": "0",
            **{**hours, "low_resolution": "0.5"},
        },
    )
    assert bad.status_code == 400 and "Resolution cannot come before first response." in bad.text
    r = post_form(
        owner,
        "/t/acme/service/settings/calendars/new",
        {"name": "Night", "timezone": "Asia/Shanghai", "mon_from": "20:00", "mon_to": "24:00"},
    )
    assert r.status_code == 303
    bad_tz = post_form(
        owner,
        "/t/acme/service/settings/calendars/new",
        {"name": "Mars", "timezone": "Mars/Base", "mon_from": "9", "mon_to": "x"},
    )
    assert bad_tz.status_code == 400 and "time zone" in bad_tz.text
    for url, data in (
        ("/t/acme/service/settings/canned/new", {"title": "Bye", "body": "Bye {{ agent.name }}"}),
        ("/t/acme/service/settings/scripts/new", {"title": "Billing call", "steps": "Hi\nBye"}),
    ):
        assert post_form(owner, url, data).status_code == 303, url
    settings = "/t/acme/service/settings"
    post_form(
        owner,
        settings + "/rules",
        {
            "name": "Tell the boss",
            "trigger": "breached",
            "action": "notify",
            "user_id": str(agent.id),
        },
        page=settings,
    )
    post_form(owner, settings + "/categories", {"name": "Billing"}, page=settings)
    page = owner.get(settings).text
    for shown in ("Billing", "Gold", "Night", "Bye", "Billing call", "Tell the boss"):
        assert shown in page, shown
    with in_tenant(app, acme) as session:
        billing = session.scalars(select(Queue).where(Queue.name == "Billing")).one()
        assert billing.assignment == "round_robin" and not billing.is_default
        members = session.scalars(
            select(QueueMember.user_id).where(QueueMember.queue_id == billing.id)
        ).all()
        assert members == [agent.id]


def test_agents_cannot_manage_and_readonly_cannot_work(
    app: Any, agent: Any, acme: Any, factory: Any
) -> None:
    assert agent.get("/t/acme/service/settings").status_code == 403
    assert agent.get("/t/acme/service/reports").status_code == 403
    factory.member(acme, "viewer@acme.example", "readonly")
    viewer = app.test_client()
    login(viewer, "viewer@acme.example")
    assert viewer.get("/t/acme/service/").status_code == 200
    assert viewer.get("/t/acme/service/tickets/new").status_code == 403


def test_record_panels_timeline_search_and_reports(app: Any, owner: Any, acme: Any) -> None:
    contact_id = _contact(app, acme, email="carol@customer.example", phone="+862155551234")
    open_ticket(app, acme, subject="Broken screen", requester_email="carol@customer.example")
    page = owner.get(f"/t/acme/contacts/{contact_id}").text
    assert "Broken screen" in page and "Ticket #1 opened: Broken screen" in page
    found = owner.get("/t/acme/search?q=Broken").text
    assert "#1 Broken screen" in found
    assert "#1 Broken screen" in owner.get("/t/acme/search?q=%231").text
    report = owner.get("/t/acme/service/reports?days=7")
    assert (
        report.status_code == 200 and "<svg" in report.text and "Volume by channel" in report.text
    )
