"""Helpers of the Portal tests: a workspace with the portal's peer modules on, customers
(accounts and contacts) and their records made through the modules' own services, and
portal sign-in through the real pages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from conftest import csrf_token_from, in_tenant, login
from helpers_web import last_mail
from sqlalchemy import select

from crm_platform.identity import Tenant, User
from crm_platform.modules import disable_module, enable_module
from crm_platform.provisioning import create_tenant, create_user, find_user
from crm_platform.records.service import create_record
from crm_platform.testing import PASSWORD, TenantInfo

PORTAL_PASSWORD = "portal-pass-Zebra-42"
MODULES = ("sfa", "service", "marketing", "portal")


def workspace(app: Any, slug: str, modules: tuple[str, ...] = MODULES) -> TenantInfo:
    """A tenant (owner ``owner@<slug>.example``) with ``modules`` switched on."""
    from crm_platform.extensions import db

    email = f"owner@{slug}.example"
    with app.app_context():
        owner = find_user(email) or create_user(email, f"Owner of {slug}", PASSWORD)
        tenant = create_tenant(slug.title(), slug, owner)
        db.session.commit()
        info = TenantInfo(tenant.id, tenant.slug, tenant.name, email)
    for key in modules:
        switch(app, info, key, True)
    return info


def switch(app: Any, tenant: Any, key: str, on: bool) -> None:
    """Switch a module on or off for ``tenant``."""
    with in_tenant(app, tenant) as session:
        row = session.get(Tenant, tenant.id)
        enable_module(row, key) if on else disable_module(row, key)
        session.commit()


@dataclass(frozen=True)
class Customer:
    """A customer of a workspace: their contact and account."""

    tenant: TenantInfo
    email: str
    contact_id: str
    account_id: str


def customer(app: Any, tenant: Any, first: str, email: str, company: str) -> Customer:
    """An account and a contact of it, made through the records service."""
    with in_tenant(app, tenant) as session:
        account = create_record("account", {"name": company})
        contact = create_record(
            "contact", {"first_name": first, "email": email, "account_id": str(account.id)}
        )
        session.commit()
        return Customer(tenant, email, str(contact.id), str(account.id))


def staff_user(app: Any, email: str) -> Any:
    with app.app_context():
        return find_user(email)


def owner_client(app: Any, tenant: Any) -> Any:
    """A test client signed in as the workspace's owner."""
    client = app.test_client()
    assert login(client, tenant.owner_email).status_code == 302
    return client


def invite(app: Any, who: Customer, scope: str = "contact") -> str:
    """The owner invites ``who`` from their contact page; returns the invitation link."""
    staff = owner_client(app, who.tenant)
    page = f"/t/{who.tenant.slug}/contacts/{who.contact_id}"
    html = staff.get(page).text
    data = {"csrf_token": csrf_token_from(html)}
    if scope == "account":
        data["scope"] = "account"
    url = f"/t/{who.tenant.slug}/portal-settings/invite/{who.contact_id}"
    response = staff.post(url, data=data)
    assert response.status_code == 303, response.text
    return last_mail(app, who.email).link


def post(client: Any, url: str, data: dict[str, Any] | None = None, page: str | None = None) -> Any:
    """POST with the portal CSRF token read from ``page`` (``url`` by default)."""
    token = csrf_token_from(client.get(page or url).text)
    return client.post(url, data={"csrf_token": token, **(data or {})})


def accept(app: Any, link: str, password: str = PORTAL_PASSWORD) -> Any:
    """A new client that opens an invitation link and chooses a password (signed in)."""
    client = app.test_client()
    response = post(client, link, {"password": password, "confirm": password})
    assert response.status_code == 303, response.text
    return client


def portal_client(app: Any, who: Customer, scope: str = "contact") -> Any:
    """A client of ``who``, invited, accepted and signed in to the portal."""
    return accept(app, invite(app, who, scope))


def shows_sign_in(response: Any) -> bool:
    """The portal answered with its sign-in form (signed out, or only a staff session)."""
    return response.status_code == 200 and 'id="portal-sign-in"' in response.text


def sign_in(client: Any, slug: str, email: str, password: str = PORTAL_PASSWORD) -> Any:
    """Sign in through the portal's form."""
    url = f"/t/{slug}/portal/sign-in"
    return post(client, url, {"email": email, "password": password})


# --------------------------------------------------------------------------- records


def ticket(app: Any, who: Customer, subject: str, *, note: str = "", answer: str = "") -> str:
    """A ticket of ``who`` (by e-mail), maybe with a staff reply and an internal note."""
    from plugins.service.tickets import create_ticket, reply

    with in_tenant(app, who.tenant) as session:
        data = {"subject": subject, "description": "Please help.", "contact_id": who.contact_id}
        row, _ = create_ticket(data, channel="email")
        agent = session.scalars(select(User).where(User.email == who.tenant.owner_email)).one()
        if answer:
            reply(row, answer, actor=agent)
        if note:
            reply(row, note, actor=agent, public=False)
        session.commit()
        return str(row.id)


def order(app: Any, who: Customer, number: str, status: str = "paid") -> str:
    """An order of ``who`` with one line."""
    from crm_platform.order_service import create_order

    with in_tenant(app, who.tenant) as session:
        row = create_order(
            {
                "number": number,
                "contact_id": who.contact_id,
                "account_id": who.account_id,
                "status": status,
                "currency": "USD",
                "lines": [{"product_name": "Widget", "quantity": "2", "unit_price": "50"}],
            }
        )
        session.commit()
        return str(row.id)


@dataclass(frozen=True)
class QuoteInfo:
    id: str
    deal_id: str


def quote(app: Any, who: Customer, *, sent: bool = True) -> QuoteInfo:
    """An open deal of ``who`` with a quote of one line (sent to the customer)."""
    from plugins.sfa.deals import create_deal
    from plugins.sfa.quotes import add_line, create_quote, mark_sent

    with in_tenant(app, who.tenant) as session:
        deal = create_deal(
            {
                "name": "Widgets for " + who.email,
                "contact_id": who.contact_id,
                "account_id": who.account_id,
                "currency": "USD",
            }
        )
        row = create_quote(deal)
        add_line(row, {"description": "Widget", "quantity": "3", "unit_price": "100"})
        if sent:
            mark_sent(row)
        session.commit()
        return QuoteInfo(str(row.id), str(deal.id))


def deal_state(app: Any, tenant: Any, deal_id: str) -> tuple[str, Decimal]:
    """A deal's status and amount."""
    from plugins.sfa.models import Deal

    with in_tenant(app, tenant) as session:
        row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        return row.status, row.amount
