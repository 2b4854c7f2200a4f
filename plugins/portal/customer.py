"""What a customer sees in the portal, always scoped to the workspace (tenant context and
RLS) AND to the signed-in portal user's own contact (or account, for users with the
``account`` scope).

The portal is a front end over other modules, so this is the one place of the plugin that
calls their services (Service tickets and articles, Sales quotes, Marketing preferences), each
only while that module is on for the workspace and imported only then. Every lookup by id
answers ``None`` (the views answer 404) for a row that is missing, of another customer or of
another workspace alike.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from flask import abort
from flask_babel import gettext as _
from sqlalchemy import false, or_, select

from crm_platform.sdk import (
    Contact,
    Order,
    ValidationFailed,
    audit_record,
    db,
    module_enabled,
    parse_uuid,
    update_record,
)

from .models import PortalUser

MAX_BODY = 20_000
#: Quote states a customer sees (drafts are the sales team's work in progress).
CUSTOMER_QUOTE_STATES = ("sent", "accepted", "rejected")


def sections() -> dict[str, bool]:
    """Which portal sections the workspace's modules allow."""
    service = module_enabled("service")
    help_on = False
    if service:
        from plugins.service.settings import WorkspaceSettings

        help_on = WorkspaceSettings.load().public_kb
    return {
        "tickets": service,
        "help": help_on,
        "orders": True,
        "quotes": module_enabled("sfa"),
        "preferences": module_enabled("marketing"),
    }


def require_section(name: str) -> None:
    """404 unless the section's module is on."""
    if not sections().get(name):
        abort(404)


def own(model: Any, user: PortalUser) -> Any:
    """SQL: rows of ``model`` (with ``contact_id``/``account_id``) that belong to ``user``.

    Read from the contact as it is now: a contact moved to another account takes its account
    scope along, and a deleted contact's portal user sees nothing. Anything but a customer
    sees nothing here (fail closed).
    """
    if user.kind != "customer" or user.contact_id is None:
        return false()
    live = (Contact.id == user.contact_id, Contact.deleted_at.is_(None))
    mine = model.contact_id.in_(select(Contact.id).where(*live))
    if user.scope != "account":
        return mine
    account = select(Contact.account_id).where(*live, Contact.account_id.is_not(None))
    return or_(mine, model.account_id.in_(account))


def actor_of(user: PortalUser) -> Any:
    """An actor for audit rows that is never mistaken for a staff user."""
    return SimpleNamespace(id=None, email=f"portal:{user.email}")


# --------------------------------------------------------------------------- tickets


def tickets_of(user: PortalUser) -> list[Any]:
    """The customer's tickets, newest first."""
    from plugins.service.models import Ticket

    stmt = select(Ticket).where(own(Ticket, user)).order_by(Ticket.created_at.desc()).limit(200)
    return list(db.session.scalars(stmt).unique())


def ticket_of(user: PortalUser, ticket_id: Any) -> Any:
    """One of the customer's tickets, or ``None``."""
    from plugins.service.models import Ticket

    tid = parse_uuid(str(ticket_id))
    if tid is None:
        return None
    stmt = select(Ticket).where(Ticket.id == tid, own(Ticket, user))
    return db.session.scalars(stmt).unique().one_or_none()


def thread(ticket: Any) -> list[Any]:
    """The messages the customer may read: theirs and staff replies, never internal notes."""
    from plugins.service.models import Message

    stmt = (
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.kind.in_(("customer", "reply")))
        .order_by(Message.created_at, Message.id)
    )
    return list(db.session.scalars(stmt).unique())


def _body(value: Any, field: str) -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationFailed({field: _("Write a message.")})
    if len(text) > MAX_BODY:
        raise ValidationFailed({field: _("Use at most %(num)d characters.", num=MAX_BODY)})
    return text


def open_ticket(user: PortalUser, data: Any) -> Any:
    """Open a ticket as the customer (channel ``portal``) through Service's own service."""
    from plugins.service import tickets

    subject = " ".join(str(data.get("subject") or "").split())
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = _("Enter a subject.")
    elif len(subject) > 200:
        errors["subject"] = _("Use at most %(num)d characters.", num=200)
    try:
        description = _body(data.get("description"), "description")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    values = {
        "subject": subject,
        "description": description,
        "requester_email": user.email,
        "requester_name": user.name,
        "contact_id": str(user.contact_id) if user.contact_id else None,
    }  # Service fills the account from the contact
    ticket, _problems = tickets.create_ticket(values, channel="portal")
    return ticket


def reply(user: PortalUser, ticket: Any, body: Any) -> None:
    """The customer answers on their ticket (reopens a waiting or solved one)."""
    from plugins.service import tickets

    if ticket.status == "closed" or getattr(ticket, "merged_into_id", None):
        raise ValidationFailed({"body": _("This request is closed: open a new one.")})
    tickets.customer_wrote(
        ticket,
        body_text=_body(body, "body"),
        channel="portal",
        from_address=user.email,
        from_name=user.name,
    )


# --------------------------------------------------------------------------- help centre


def articles(query: str) -> list[Any]:
    """Published public articles (matching ``query``)."""
    from plugins.service import kb

    return kb.search(query or "", public_only=True, limit=100)


def article(article_id: Any) -> Any:
    """One published public article, or ``None``."""
    from plugins.service.models import Article

    aid = parse_uuid(str(article_id))
    if aid is None:
        return None
    stmt = select(Article).where(
        Article.id == aid, Article.visibility == "public", Article.status == "published"
    )
    return db.session.scalars(stmt).unique().one_or_none()


# --------------------------------------------------------------------------- orders


def orders_of(user: PortalUser) -> list[Order]:
    """The customer's orders, newest first."""
    stmt = select(Order).where(own(Order, user)).order_by(Order.ordered_at.desc()).limit(200)
    return list(db.session.scalars(stmt).unique())


def order_of(user: PortalUser, order_id: Any) -> Order | None:
    """One of the customer's orders, or ``None``."""
    oid = parse_uuid(str(order_id))
    if oid is None:
        return None
    stmt = select(Order).where(Order.id == oid, own(Order, user))
    return db.session.scalars(stmt).unique().one_or_none()


# --------------------------------------------------------------------------- quotes


def _quotes_stmt(user: PortalUser) -> Any:
    from plugins.sfa.models import Deal
    from plugins.sfa.quote_models import Quote

    return (
        select(Quote)
        .join(Deal, Deal.id == Quote.deal_id)
        .where(own(Deal, user), Quote.status.in_(CUSTOMER_QUOTE_STATES))
    )


def quotes_of(user: PortalUser) -> list[Any]:
    """The customer's quotes (sent or decided), newest first."""
    from plugins.sfa.quote_models import Quote

    stmt = _quotes_stmt(user).order_by(Quote.created_at.desc()).limit(200)
    return list(db.session.scalars(stmt).unique())


def quote_of(user: PortalUser, quote_id: Any, *, lock: bool = False) -> Any:
    """One of the customer's quotes, or ``None`` (``lock``: row-locked for a decision)."""
    from plugins.sfa.quote_models import Quote

    qid = parse_uuid(str(quote_id))
    if qid is None:
        return None
    stmt = _quotes_stmt(user).where(Quote.id == qid)
    if lock:
        stmt = stmt.with_for_update(of=Quote)
    return db.session.scalars(stmt).unique().one_or_none()


def quote_details(quote: Any) -> dict[str, Any]:
    """Lines and totals of a quote, for the page."""
    from plugins.sfa.quotes import lines_of, quote_summary

    expired = quote.valid_until is not None and quote.valid_until < date.today()
    return {"lines": lines_of(quote), "summary": quote_summary(quote), "expired": expired}


def quote_pdf(quote: Any, workspace: str) -> bytes:
    """The quote as Sales renders it."""
    from plugins.sfa.quote_pdf import render_quote_pdf

    return render_quote_pdf(quote, workspace)


def accept(user: PortalUser, quote: Any) -> None:
    """The customer accepts a quote online: Sales' ``accept_quote`` (the deal is won once);
    audited. Raises ``ValidationFailed`` when it was already decided or cannot be."""
    from plugins.sfa.quotes import accept_quote

    if quote.status != "sent":
        raise ValidationFailed({"status": _("This quote was already decided.")})
    if quote.valid_until is not None and quote.valid_until < date.today():
        raise ValidationFailed(
            {
                "valid_until": _(
                    "This quote expired on %(day)s: ask us for a new one.", day=quote.valid_until
                )
            }
        )
    accept_quote(quote, actor=None)
    audit_record(
        "portal.quote_accepted",
        target=str(quote.id),
        details={"quote": quote.label, "deal_id": str(quote.deal_id), "portal_user": str(user.id)},
        actor=actor_of(user),
        actor_label=f"portal:{user.email}",
    )


# --------------------------------------------------------------------------- details


DETAIL_FIELDS = ("first_name", "last_name", "phone", "address")


def contact_of(user: PortalUser) -> Contact | None:
    """The customer's own contact record."""
    if user.contact_id is None:
        return None
    stmt = select(Contact).where(Contact.id == user.contact_id, Contact.deleted_at.is_(None))
    return db.session.scalars(stmt).unique().one_or_none()


def update_details(user: PortalUser, data: Any) -> list[str]:
    """Update name, phone and address through the core's records service (its validation,
    its ``contact.updated`` event)."""
    contact = contact_of(user)
    if contact is None:
        abort(404)
    values = {k: data.get(k, "") for k in DETAIL_FIELDS}
    changed = update_record(contact, values, actor=None)
    if "first_name" in changed or "last_name" in changed:
        user.name = " ".join(p for p in (contact.first_name, contact.last_name) if p)[:200]
    return changed


# --------------------------------------------------------------------------- marketing


def preferences(user: PortalUser) -> dict[str, Any]:
    """The topics and which of them the customer's address is unsubscribed from."""
    from plugins.marketing.suppression import scopes_of, topics

    scopes = scopes_of(user.email)
    return {"topics": topics(), "blocked": scopes, "everything": "all" in scopes}


def save_preferences(user: PortalUser, wanted: set[str], none: bool) -> None:
    """Subscribe to ``wanted`` topics only, or to nothing (``none``), through Marketing's
    suppression service (which emits ``contact.unsubscribed`` and stops sequences)."""
    from plugins.marketing.suppression import resubscribe, scopes_of, topics, unsubscribe

    contact_id = user.contact_id
    if none:
        unsubscribe(user.email, contact_id=contact_id)
        return
    if "all" in scopes_of(user.email):
        resubscribe(user.email, "all")
    for key in topics():
        blocked = key in scopes_of(user.email)
        if key in wanted and blocked:
            resubscribe(user.email, key)
        elif key not in wanted and not blocked:
            unsubscribe(user.email, contact_id=contact_id, scope=key)
