"""Inbound e-mail over a real SMTP exchange (smtplib → the aiosmtpd server on a free port):
new tickets, replies threaded by token, sanitised HTML, attachment limits, loops, refusals."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import mails, post_form
from sqlalchemy import select

from plugins.service.models import Attachment, Ticket
from plugins.service.outbound import reply_token

from .helpers import ADDRESS, mail, send, thread, ticket_by_number


def test_a_customer_mail_becomes_a_ticket_and_is_acknowledged(
    app: Any, acme: Any, smtp_server: Any, events: Any
) -> None:
    refused = send(smtp_server, mail())
    assert refused == {}
    with in_tenant(app, acme) as session:
        ticket = ticket_by_number(session, 1)
        assert ticket.subject == "My order never arrived" and ticket.channel == "email"
        assert ticket.requester_email == "carol@customer.example"
        assert ticket.requester_name == "Carol Customer" and ticket.sla_policy_id is not None
        (message,) = thread(session, ticket)
        assert message.kind == "customer" and "order 1042" in message.body_text
        token = reply_token(ticket)
    assert [data["channel"] for _, data in events.of("ticket.created")] == ["email"]
    (ack,) = mails(app, "carol@customer.example")
    assert f"[#{token}]" in ack.subject and "#1" in ack.body


def test_replies_thread_by_subject_token_and_by_address(
    app: Any, acme: Any, smtp_server: Any
) -> None:
    send(smtp_server, mail())
    with in_tenant(app, acme) as session:
        token = reply_token(ticket_by_number(session, 1))
    send(smtp_server, mail(subject=f"Re: [#{token}] My order", text="Any news?"))
    send(
        smtp_server,
        mail(subject="no token here", text="Me again"),
        to=f"support+acme+{token}@inbound.localhost",
    )
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    send(smtp_server, mail(subject=f"Re: [#{forged}] guess", text="Forged"))
    with in_tenant(app, acme) as session:
        first = ticket_by_number(session, 1)
        assert [m.body_text for m in thread(session, first)][1:] == ["Any news?", "Me again"]
        assert ticket_by_number(session, 2).subject.endswith("guess")  # a new ticket


def test_html_is_sanitised_and_attachments_are_checked(
    app: Any, acme: Any, smtp_server: Any
) -> None:
    html = '<p onclick="x()">Photo <b>attached</b></p><script>alert(1)</script>'
    big = b"x" * (app.config["SERVICE_ATTACHMENT_MAX_BYTES"] + 1)
    message = mail(
        html=html,
        attachments=[
            ("damage.png", "image/png", b"\x89PNG fake"),
            ("huge.pdf", "application/pdf", big),
            ("tool.exe", "application/octet-stream", b"MZ"),
        ],
    )
    send(smtp_server, message)
    with in_tenant(app, acme) as session:
        ticket = ticket_by_number(session, 1)
        customer, note = thread(session, ticket)
        assert "<b>attached</b>" in customer.body_html
        assert "script" not in customer.body_html and "onclick" not in customer.body_html
        files = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
        assert [f.filename for f in files] == ["damage.png"]
        assert note.kind == "note" and "huge.pdf" in note.body_text and "tool.exe" in note.body_text


def test_auto_replies_are_filed_but_not_answered(app: Any, acme: Any, smtp_server: Any) -> None:
    send(smtp_server, mail(headers={"Auto-Submitted": "auto-replied"}, subject="Out of office"))
    send(
        smtp_server,
        mail(sender="MAILER-DAEMON@mx.example", subject="Undeliverable"),
        envelope_from="MAILER-DAEMON@mx.example",
    )
    with in_tenant(app, acme) as session:
        for number in (1, 2):
            messages = thread(session, ticket_by_number(session, number))
            assert messages[0].auto_reply and "not answered" in messages[1].body_text
    assert mails(app, "carol@customer.example") == []  # no acknowledgement: no loop
    assert mails(app, "mailer-daemon@mx.example") == []


def test_a_sender_writing_too_often_stops_getting_answers(
    app: Any, acme: Any, smtp_server: Any
) -> None:
    app.config["SERVICE_SENDER_LIMIT_PER_HOUR"] = 2
    for n in range(3):
        send(smtp_server, mail(subject=f"Autoresponder loop {n}"))
    assert len(mails(app, "carol@customer.example")) == 2  # the third is not acknowledged
    with in_tenant(app, acme) as session:
        assert thread(session, ticket_by_number(session, 3))[0].auto_reply


def test_the_same_message_twice_is_filed_once(app: Any, acme: Any, smtp_server: Any) -> None:
    message = mail(headers={"Message-ID": "<once@customer.example>"})
    send(smtp_server, message)
    send(smtp_server, message)
    with in_tenant(app, acme) as session:
        assert len(session.scalars(select(Ticket)).all()) == 1


def test_mail_without_a_sender_is_refused(app: Any, acme: Any, smtp_server: Any) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(smtp_server, mail(), envelope_from="")
    assert refused.value.smtp_code == 550 and b"without a sender" in refused.value.smtp_error
    with pytest.raises(smtplib.SMTPDataError) as bad:
        send(smtp_server, mail(sender="Nobody <not an address>"), envelope_from="x@relay.example")
    assert bad.value.smtp_code == 553 and b"not valid" in bad.value.smtp_error
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Ticket)).all() == []
    # no From header at all: the envelope sender is who wrote
    with smtplib.SMTP(*smtp_server) as client:
        client.ehlo()
        client.mail("dave@customer.example")
        client.rcpt(ADDRESS)
        code, _text = client.data(b"Subject: no From header\r\n\r\nhello\r\n")
    assert code == 250
    with in_tenant(app, acme) as session:
        assert ticket_by_number(session, 1).requester_email == "dave@customer.example"


def test_unknown_mailboxes_and_workspaces_without_service_are_refused(
    app: Any, acme: Any, factory: Any, smtp_server: Any
) -> None:
    factory.tenant("other", owner_email="owner@other.example")  # Service off
    for address in (
        "support+nobody@inbound.localhost",
        "support+other@inbound.localhost",
        "sales+acme@inbound.localhost",
        "support+acme@elsewhere.example",
    ):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(smtp_server, mail(), to=address)
        code, text = refused.value.recipients[address]
        assert code == 550 and b"no such mailbox" in text


def test_a_message_over_the_size_limit_is_refused(app: Any, acme: Any, smtp_server: Any) -> None:
    app.config["SERVICE_MAX_MESSAGE_BYTES"] = 50_000
    from plugins.service.smtp import make_controller

    from .conftest import free_port

    port = free_port()
    controller = make_controller(app, "127.0.0.1", port)
    controller.start()
    try:
        big = mail(attachments=[("big.pdf", "application/pdf", b"x" * 100_000)])
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
            send(("127.0.0.1", port), big)
        assert refused.value.smtp_code == 552
    finally:
        controller.stop()


def test_the_settings_page_shows_the_inbound_address(app: Any, owner: Any, acme: Any) -> None:
    page = owner.get("/t/acme/service/settings")
    assert page.status_code == 200 and ADDRESS in page.text
    assert (
        post_form(
            owner,
            "/t/acme/service/settings",
            {"acknowledge": "", "csat": "y", "public_kb": "y", "auto_close_days": "3"},
        ).status_code
        == 303
    )
    with in_tenant(app, acme):
        from plugins.service.settings import WorkspaceSettings

        stored = WorkspaceSettings.load()
        assert not stored.acknowledge and stored.auto_close_days == 3
