"""The plugin's jobs: send one greeting, and send every queued greeting (scheduled)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_platform.sdk import Contact, db, job, require_tenant, send_mail, set_progress, utcnow

from .models import Greeting


@job(retries=3)
def send_greeting(greeting_id: str) -> str:
    """Mail one greeting to its contact and mark it sent (idempotent: sent ones are skipped)."""
    greeting = db.session.get(Greeting, (require_tenant().id, uuid.UUID(greeting_id)))
    if greeting is None or greeting.status == "sent":
        return "nothing to do"
    contact = db.session.scalars(select(Contact).where(Contact.id == greeting.contact_id)).one()
    if contact.email:
        send_mail(contact.email, "A greeting for you", greeting.message)
    greeting.status, greeting.sent_at = "sent", utcnow()
    return "sent"


@job(retries=1)
def send_queued_greetings() -> int:
    """Send every queued greeting of the tenant; reports progress."""
    queued = db.session.scalars(select(Greeting.id).where(Greeting.status == "queued")).all()
    for done, greeting_id in enumerate(queued, start=1):
        send_greeting(str(greeting_id))
        set_progress(done, len(queued), "sending greetings")
    return len(queued)
