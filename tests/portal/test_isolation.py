"""The strictest scoping in the product: every portal URL that takes an id, tried by one
customer with another customer's ids (same workspace, other account) and with another
workspace's ids, answers 404 and changes nothing; the staff session opens no portal page;
row-level security covers the portal's tables."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import csrf_token_from, in_tenant
from sqlalchemy import text

from .helpers import (
    Customer,
    deal_state,
    order,
    owner_client,
    portal_client,
    quote,
    shows_sign_in,
    ticket,
)

ID_ARG = re.compile(r"<(\w+_id)>")
#: Ids of pages that are not a customer's records (public articles are everyone's).
NOT_OWNED = {"article_id", "user_id"}


def _records(app: Any, who: Customer) -> dict[str, str]:
    q = quote(app, who)
    return {
        "ticket_id": ticket(app, who, f"Secret of {who.email}", answer="private answer"),
        "order_id": order(app, who, f"SO-{who.email[:3]}"),
        "quote_id": q.id,
        "deal_id": q.deal_id,
    }


def _portal_rules(app: Any) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("portal.")]


def _url(rule: Any, slug: str, ids: dict[str, str]) -> str:
    path = rule.rule.replace("<tenant_slug>", slug)
    return ID_ARG.sub(lambda m: ids[m.group(1)], path)


def _try_all(app: Any, client: Any, slug: str, ids: dict[str, str]) -> list[tuple[str, str, int]]:
    """Every id-taking portal URL with ``ids``: (method, url, status)."""
    token = csrf_token_from(client.get(f"/t/{slug}/portal/").text)
    seen = []
    for rule in _portal_rules(app):
        args = set(ID_ARG.findall(rule.rule))
        if not args or args & NOT_OWNED:
            continue
        url = _url(rule, slug, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(url)
            else:
                data = {"csrf_token": token, "body": "hi", "agree": "1"}
                response = client.open(url, method=method, data=data)
            seen.append((method, url, response.status_code))
    return seen


def test_every_portal_url_with_another_customers_ids(
    app: Any, shop: Any, alice: Any, bob: Any
) -> None:
    bobs = _records(app, bob)
    mine = _records(app, alice)
    client = portal_client(app, alice)
    tried = _try_all(app, client, "shop", bobs)
    endpoints = {u.split("/portal/")[1].split("/")[0] for _, u, _ in tried}
    assert endpoints == {"tickets", "orders", "quotes"}  # new id routes must be listed here
    assert len(tried) >= 6
    assert [t for t in tried if t[2] != 404] == []
    assert deal_state(app, shop, bobs["deal_id"])[0] == "open"  # the accept changed nothing
    for page in ("/t/shop/portal/tickets", "/t/shop/portal/orders", "/t/shop/portal/quotes"):
        listing = client.get(page).text
        assert "bob@" not in listing and bobs["ticket_id"] not in listing
        assert bobs["order_id"] not in listing and bobs["quote_id"] not in listing
    # her own ids do work (the 404s above are scoping, not broken routes)
    own = [t for t in _try_all(app, client, "shop", mine) if t[0] == "GET"]
    assert own and all(status == 200 for _, _, status in own)


def test_every_portal_url_with_another_workspaces_ids(
    app: Any, shop: Any, alice: Any, carol: Any, rival: Any
) -> None:
    theirs = _records(app, carol)
    client = portal_client(app, alice)
    tried = _try_all(app, client, "shop", theirs)
    assert tried and [t for t in tried if t[2] != 404] == []
    assert deal_state(app, rival, theirs["deal_id"])[0] == "open"
    # shop's portal session means nothing in rival's portal
    assert shows_sign_in(client.get("/t/rival/portal/"))


def test_staff_session_gets_no_portal_page(app: Any, shop: Any, alice: Any) -> None:
    ids = _records(app, alice)
    staff = owner_client(app, shop)  # the workspace's owner, but no portal session
    checked = 0
    for rule in _portal_rules(app):
        args = set(ID_ARG.findall(rule.rule))
        if "GET" not in rule.methods or args & NOT_OWNED or "<token>" in rule.rule:
            continue
        if rule.endpoint in ("portal.stylesheet", "portal.logo", "portal.sign_up", "portal.forgot"):
            continue  # public assets and pages without records
        url = _url(rule, "shop", ids)
        response = staff.get(url)
        if args:
            assert response.status_code == 404, url
        else:
            assert shows_sign_in(response), url
        for secret in ("Secret of", "private answer", "SO-ali", "Q-0"):
            assert secret not in response.text, url
        checked += 1
    assert checked >= 10


@pytest.mark.postgres
def test_row_level_security_covers_portal_tables(
    app: Any, shop: Any, alice: Any, rival: Any, carol: Any
) -> None:
    portal_client(app, alice)
    portal_client(app, carol)
    with in_tenant(app, shop) as session:
        emails = session.execute(text("SELECT email FROM portal_users")).scalars().all()
        assert emails == [alice.email]  # raw SQL, no ORM criteria: RLS alone filters
    with app.app_context():
        from crm_platform.extensions import db

        assert db.session.execute(text("SELECT count(*) FROM portal_users")).scalar() == 0
