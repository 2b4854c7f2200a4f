"""Sample service data for the demo workspace (``crm demo`` / ``make run``): agents in the
queue, tickets in every state (one breached, one waiting on the customer, answered
surveys), calls with a callback, and knowledge-base articles."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import Contact, db, utcnow

from . import admin, calls, csat, kb, tickets
from .models import KbCategory, Queue, Survey
from .sla import compute_clocks

SUBJECTS = (
    "Cannot sign in after the update",
    "Invoice shows the wrong address",
    "Delivery arrived damaged",
    "How do I export my data?",
    "Password reset mail never arrives",
    "Refund for order",
    "Printer driver crashes on Windows",
    "Change the contact person on our account",
)
ARTICLES = (
    (
        "Reset your password",
        "Open the sign-in page, choose “Forgot password” and follow the "
        "link we e-mail you. The link works once, for one hour.",
        "public",
    ),
    (
        "Export your data",
        "Go to Settings → Export and pick CSV or Excel. Large exports are "
        "e-mailed to you when they are ready.",
        "public",
    ),
    (
        "Refund policy (internal)",
        "Refunds up to 200 are approved by any agent; above that, "
        "ask a manager. Always link the order number on the ticket.",
        "internal",
    ),
)


def add_demo_data(tenant: Any, members: list[Any]) -> None:
    """Fill the demo workspace's service desk (the module is already on)."""
    rng = random.Random(7)
    agents = [m.user for m in members if m.role in ("owner", "manager", "member")]
    queue = db.session.scalars(select(Queue).where(Queue.is_default.is_(True))).first()
    if queue is not None and agents:
        admin.save_queue(
            queue,
            {"name": queue.name, "assignment": "round_robin", "is_default": True},
            [str(a.id) for a in agents],
        )
    category = db.session.scalars(select(KbCategory)).first()
    for title, body, visibility in ARTICLES:
        kb.create_article(
            {
                "title": title,
                "body": body,
                "visibility": visibility,
                "status": "published",
                "category_id": str(category.id) if category else "",
            },
            actor=agents[0] if agents else None,
        )
    contacts = db.session.scalars(select(Contact).where(Contact.email.is_not(None)).limit(12)).all()
    now = utcnow()
    for i, contact in enumerate(contacts[: len(SUBJECTS)]):
        ticket, _refused = tickets.create_ticket(
            {
                "subject": SUBJECTS[i],
                "description": f"Hello, {SUBJECTS[i].lower()}. Can you help? {contact.full_name}",
                "contact_id": str(contact.id),
                "priority": rng.choice(("low", "normal", "normal", "high", "urgent")),
            },
            channel=rng.choice(("email", "web", "phone")),
        )
        ticket.created_at = now - timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
        compute_clocks(ticket)
        agent = agents[i % len(agents)] if agents else None
        if i % 4 == 1 and agent is not None:
            tickets.reply(
                ticket, "Could you send us the order number?", actor=agent, status="pending"
            )
        elif i % 4 == 2 and agent is not None:
            tickets.reply(
                ticket,
                "This is fixed now. Thank you for your patience!",
                actor=agent,
                status="solved",
            )
            survey = db.session.scalars(select(Survey).where(Survey.ticket_id == ticket.id)).first()
            if survey is not None:
                csat.answer(survey, rng.choice((4, 5, 5, 3)), "Quick and friendly help.")
        if i == 0 and contact.phone:
            call = calls.log_call(
                {
                    "number": contact.phone,
                    "contact_id": str(contact.id),
                    "ticket_id": str(ticket.id),
                    "duration": "4:30",
                    "notes": "Customer called about the ticket; promised a call back.",
                },
                actor=agent,
            )
            calls.schedule_callback(
                call, {"due_date": (now + timedelta(days=1)).date().isoformat()}, actor=agent
            )
    db.session.flush()
