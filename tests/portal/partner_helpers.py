"""Helpers of the partner portal tests: partner organisations made and users invited through
the staff pages, registrations sent through the partner pages."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from conftest import csrf_token_from, in_tenant
from helpers_web import last_mail
from sqlalchemy import select

from .helpers import accept, owner_client, post

CHANNEL = "/t/{slug}/portal-settings/channel"


def partner_org(app: Any, tenant: Any, name: str, tier: str = "silver") -> str:
    """An admin adds a partner organisation on the staff page; returns its id."""
    staff = owner_client(app, tenant)
    url = CHANNEL.format(slug=tenant.slug) + "/partners"
    response = post_staff(staff, url, {"name": name, "tier": tier})
    assert response.status_code == 303, response.text
    return response.location.rstrip("/").rsplit("/", 1)[-1]


def post_staff(client: Any, url: str, data: dict[str, Any], page: str | None = None) -> Any:
    """POST with the staff CSRF token read from ``page`` (``url`` by default)."""
    token = csrf_token_from(client.get(page or url).text)
    return client.post(url, data={"csrf_token": token, **data})


def invite_partner_user(app: Any, tenant: Any, partner_id: str, email: str) -> str:
    """An admin invites ``email`` to the partner portal; returns the invitation link."""
    staff = owner_client(app, tenant)
    base = CHANNEL.format(slug=tenant.slug) + f"/partners/{partner_id}"
    response = post_staff(staff, base + "/invite", {"email": email, "name": "Pat"}, page=base)
    assert response.status_code == 303, response.text
    return last_mail(app, email).link


def partner_client(app: Any, tenant: Any, partner_id: str, email: str) -> Any:
    """A signed-in client of a partner user of ``partner_id``."""
    return accept(app, invite_partner_user(app, tenant, partner_id, email))


def deal_form(**changes: Any) -> dict[str, str]:
    """A valid registration form (with ``changes``)."""
    form = {
        "company": "Newco Industries",
        "contact_name": "Nina Newman",
        "contact_email": "nina@newco.example",
        "amount": "25000",
        "currency": "EUR",
        "expected_close": (date.today() + timedelta(days=30)).isoformat(),
        "description": "Forty seats, rollout in spring.",
    }
    form.update(changes)
    return form


def register(client: Any, slug: str = "shop", **changes: Any) -> Any:
    """A partner user sends a registration through the partner page."""
    return post(client, f"/t/{slug}/portal/partner/registrations/new", deal_form(**changes))


def registration_id(response: Any) -> str:
    """The id of the registration a successful submit redirected to."""
    assert response.status_code == 303, response.text
    return response.location.rstrip("/").rsplit("/", 1)[-1]


def registration_row(app: Any, tenant: Any, reg_id: str) -> dict[str, Any]:
    """A registration's columns."""
    from plugins.portal.partner_models import DealRegistration

    with in_tenant(app, tenant) as session:
        row = session.scalars(
            select(DealRegistration).where(DealRegistration.id == uuid.UUID(reg_id))
        ).one()
        return {c.name: getattr(row, c.name) for c in DealRegistration.__table__.columns}


def registration_count(app: Any, tenant: Any) -> int:
    """How many registrations the workspace has."""
    from sqlalchemy import func

    from plugins.portal.partner_models import DealRegistration

    with in_tenant(app, tenant) as session:
        return session.scalar(select(func.count()).select_from(DealRegistration))


def decide(app: Any, tenant: Any, reg_id: str, decision: str, data: dict[str, Any]) -> Any:
    """The owner (a channel manager) approves or rejects on the review page."""
    staff = owner_client(app, tenant)
    base = CHANNEL.format(slug=tenant.slug) + f"/registrations/{reg_id}"
    return post_staff(staff, f"{base}/{decision}", data, page=base)
