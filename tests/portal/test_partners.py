"""The partner portal's organisations, users and scoping: admins manage partner
organisations and invite their users (the customers' invitation flow); partner X never sees
partner Y's registrations (every id-taking partner URL answers 404); customers never see
partner pages and partners never see customers' pages; staff sessions get the sign-in; the
module off answers 404; the new tables follow the isolation rules."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from conftest import csrf_token_from, in_tenant
from helpers_web import events
from sqlalchemy import select, text

from crm_platform.extensions import db
from crm_platform.schema_rules import model_problems, rls_problems
from crm_platform.tenancy import tenant_tables

from .helpers import order, owner_client, portal_client, post, shows_sign_in, switch, ticket
from .partner_helpers import (
    partner_client,
    partner_org,
    post_staff,
    register,
    registration_count,
    registration_id,
    registration_row,
)

ID_ARG = re.compile(r"<(\w+_id)>")
TABLES = {"portal_partners", "portal_registrations"}


def _partner_rules(app: Any) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("portal_partner.")]


def _url(rule: Any, slug: str, ids: dict[str, str]) -> str:
    return ID_ARG.sub(lambda m: ids[m.group(1)], rule.rule.replace("<tenant_slug>", slug))


@pytest.fixture
def x_and_y(app: Any, shop: Any) -> tuple[Any, Any, str, str]:
    """Partner users of two partner organisations of shop, each with a registration."""
    x_org, y_org = partner_org(app, shop, "Xenon Partners"), partner_org(app, shop, "Yttrium Ltd")
    xavier = partner_client(app, shop, x_org, "xavier@xenon.example")
    yara = partner_client(app, shop, y_org, "yara@yttrium.example")
    x_reg = registration_id(register(xavier, company="Xavier's Prospect"))
    y_reg = registration_id(register(yara, company="Secret Prospect", contact_email="s@p.example"))
    return xavier, yara, x_reg, y_reg


@pytest.fixture
def ids(app: Any, shop: Any, x_and_y: tuple[Any, Any, str, str]) -> dict[str, dict[str, str]]:
    """For each of x and y: its registration, a deal shared with it and an order request (the
    ids every id-taking partner URL takes)."""
    from helpers_sfa import deal

    from plugins.portal.partner_models import DealShare, OrderRequest

    from .test_channel_sharing import catalogue, set_up_partner

    xavier, yara, x_reg, y_reg = x_and_y
    products = catalogue(app, shop)
    found: dict[str, dict[str, str]] = {}
    for key, client, reg in (("x", xavier, x_reg), ("y", yara, y_reg)):
        org = str(registration_row(app, shop, reg)["partner_id"])
        staff = owner_client(app, shop)
        page = f"/t/shop/portal-settings/channel/partners/{org}"
        deal_id = deal(app, shop, name=f"Shared with {key}", currency="EUR")
        assert (
            post_staff(staff, page + "/shares", {"deal_id": deal_id}, page=page).status_code == 303
        )
        name = "Xenon Partners" if key == "x" else "Yttrium Ltd"
        set_up_partner(app, shop, org, {**products, "name": name})
        form = {f"qty-{products['widget']}": "1"}
        sent = post(
            client, "/t/shop/portal/partner/order", form, page="/t/shop/portal/partner/order"
        )
        assert sent.status_code == 303, sent.text
        with in_tenant(app, shop) as session:
            share = session.scalar(
                select(DealShare.id).where(DealShare.deal_id == uuid.UUID(deal_id))
            )
            order_id = session.scalar(
                select(OrderRequest.id).where(OrderRequest.partner_id == uuid.UUID(org))
            )
        found[key] = {"registration_id": reg, "share_id": str(share), "order_id": str(order_id)}
    return found


# --------------------------------------------------------------------------- staff side


def test_admin_manages_partner_organisations(app: Any, shop: Any, alice: Any) -> None:
    staff = owner_client(app, shop)
    url = "/t/shop/portal-settings/channel/partners"
    empty = post_staff(staff, url, {"name": " ", "tier": "gold"})
    assert empty.status_code == 400 and "Enter the partner&#39;s name." in empty.text
    bad = post_staff(staff, url, {"name": "Acme", "tier": "platinum", "account_id": "nope"})
    assert bad.status_code == 400 and 'id="tier-error"' in bad.text
    assert 'id="account_id-error"' in bad.text
    made = post_staff(staff, url, {"name": "Acme", "tier": "gold", "account_id": alice.account_id})
    assert made.status_code == 303
    again = post_staff(staff, url, {"name": "ACME", "tier": "silver"})
    assert again.status_code == 400 and "Another partner has this name." in again.text
    page = made.location
    form = {"name": "Acme", "tier": "silver", "status": "inactive", "account_id": alice.account_id}
    changed = post_staff(staff, page, form)
    assert changed.status_code == 303
    listing = staff.get(url).text
    assert "Acme" in listing and "Silver" in listing and "inactive" in listing
    assert [e.details["name"] for e in events(app, shop, "portal.partner_created")] == ["Acme"]
    from plugins.portal.partner_models import PartnerOrg

    with in_tenant(app, shop) as session:
        row = session.scalars(select(PartnerOrg)).one()
        assert (row.tier, row.status, str(row.account_id)) == (
            "silver",
            "inactive",
            alice.account_id,
        )
    # an inactive partner gets no new users
    invite = post_staff(staff, page + "/invite", {"email": "a@acme.example"}, page=page)
    assert invite.status_code == 303
    assert "inactive" in staff.get(page).text
    from plugins.portal.models import PortalUser

    with in_tenant(app, shop) as session:
        assert session.scalars(select(PortalUser)).all() == []


def test_partner_user_invited_signs_in_to_the_partner_portal(app: Any, shop: Any) -> None:
    org = partner_org(app, shop, "Acme")
    client = partner_client(app, shop, org, "pat@acme.example")
    home = client.get("/t/shop/portal/")
    assert home.status_code == 302 and home.location.endswith("/t/shop/portal/partner/")
    page = client.get("/t/shop/portal/partner/")
    assert page.status_code == 200 and "Acme" in page.text and "Register a deal" in page.text
    assert "Requests" not in page.text  # no customer navigation
    # signing out and in again through the shared sign-in form
    signed_out = post(client, "/t/shop/portal/sign-out", page="/t/shop/portal/partner/")
    assert signed_out.status_code == 303
    assert shows_sign_in(client.get("/t/shop/portal/partner/"))
    from .helpers import sign_in

    again = sign_in(client, "shop", "pat@acme.example")
    assert again.status_code == 303
    assert client.get("/t/shop/portal/partner/").status_code == 200
    # the same address cannot be a second person
    staff = owner_client(app, shop)
    other = partner_org(app, shop, "Bravo")
    base = f"/t/shop/portal-settings/channel/partners/{other}"
    post_staff(staff, base + "/invite", {"email": "pat@acme.example"}, page=base)
    assert "already uses this e-mail address" in staff.get(base).text


def test_disabled_partner_or_inactive_organisation_loses_access(app: Any, shop: Any) -> None:
    org = partner_org(app, shop, "Acme")
    client = partner_client(app, shop, org, "pat@acme.example")
    staff = owner_client(app, shop)
    page = f"/t/shop/portal-settings/channel/partners/{org}"
    post_staff(staff, page, {"name": "Acme", "tier": "gold", "status": "inactive"})
    response = client.get("/t/shop/portal/partner/")
    assert response.status_code == 404
    new = client.get("/t/shop/portal/partner/registrations/new")
    assert new.status_code == 404 and registration_count(app, shop) == 0


# --------------------------------------------------------------------------- isolation


def test_partner_x_never_sees_partner_ys_registrations(
    app: Any, shop: Any, x_and_y: tuple[Any, Any, str, str], ids: dict[str, dict[str, str]]
) -> None:
    xavier, _yara, x_reg, y_reg = x_and_y
    listing = xavier.get("/t/shop/portal/partner/").text
    assert "Xavier&#39;s Prospect" in listing and "Secret Prospect" not in listing
    token = csrf_token_from(xavier.get("/t/shop/portal/partner/").text)
    tried = []
    for rule in _partner_rules(app):
        if not ID_ARG.findall(rule.rule):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            theirs = xavier.open(
                _url(rule, "shop", ids["y"]),
                method=method,
                data={"csrf_token": token},
            )
            mine = xavier.open(
                _url(rule, "shop", ids["x"]),
                method=method,
                data={"csrf_token": token},
            )
            tried.append((rule.rule, method, theirs.status_code, mine.status_code))
            assert "Secret Prospect" not in theirs.text and "Shared with y" not in theirs.text
    assert tried and all(t[2] == 404 for t in tried), tried
    assert all(t[3] == 200 for t in tried if t[1] == "GET"), tried  # scoping, not broken routes
    assert registration_row(app, shop, y_reg)["status"] == "pending"


def test_partner_ids_of_another_workspace_answer_404(
    app: Any, shop: Any, rival: Any, x_and_y: tuple[Any, Any, str, str]
) -> None:
    xavier = x_and_y[0]
    r_org = partner_org(app, rival, "Rival Partner")
    rita = partner_client(app, rival, r_org, "rita@rival.example")
    r_reg = registration_id(register(rita, slug="rival", company="Rival Prospect"))
    assert xavier.get(f"/t/shop/portal/partner/registrations/{r_reg}").status_code == 404
    assert shows_sign_in(xavier.get("/t/rival/portal/partner/"))  # shop's session means nothing


def test_customers_and_partners_never_see_each_others_pages(
    app: Any, shop: Any, alice: Any, x_and_y: tuple[Any, Any, str, str], ids: dict[str, Any]
) -> None:
    xavier, _yara, x_reg, _y_reg = x_and_y
    tid = ticket(app, alice, "Alice's ticket")
    oid = order(app, alice, "SO-ALICE")
    customer = portal_client(app, alice)
    for rule in _partner_rules(app):
        if "GET" in rule.methods:
            response = customer.get(_url(rule, "shop", ids["x"]))
            assert response.status_code == 404, rule.rule
    refused = post(
        customer,
        "/t/shop/portal/partner/registrations/new",
        {"company": "Sneaky"},
        page="/t/shop/portal/",
    )
    assert refused.status_code == 404
    for page in (
        "/t/shop/portal/tickets",
        f"/t/shop/portal/tickets/{tid}",
        "/t/shop/portal/orders",
        f"/t/shop/portal/orders/{oid}",
        "/t/shop/portal/quotes",
        "/t/shop/portal/profile",
    ):
        response = xavier.get(page)
        assert response.status_code == 404, page
        assert "Alice" not in response.text and "SO-ALICE" not in response.text
    assert xavier.get("/t/shop/portal/partner/").status_code == 200  # still signed in


def test_staff_session_gets_the_portal_sign_in(
    app: Any, shop: Any, x_and_y: tuple[Any, Any, str, str], ids: dict[str, Any]
) -> None:
    staff = owner_client(app, shop)
    for rule in _partner_rules(app):
        if "GET" not in rule.methods:
            continue
        response = staff.get(_url(rule, "shop", ids["x"]))
        if ID_ARG.findall(rule.rule):
            assert response.status_code == 404, rule.rule
        else:
            assert shows_sign_in(response), rule.rule
        assert "Xavier" not in response.text


def test_module_off_answers_404(app: Any, shop: Any, x_and_y: tuple[Any, Any, str, str]) -> None:
    xavier, _yara, x_reg, _y_reg = x_and_y
    switch(app, shop, "portal", False)
    for url in (
        "/t/shop/portal/partner/",
        "/t/shop/portal/partner/registrations/new",
        f"/t/shop/portal/partner/registrations/{x_reg}",
    ):
        assert xavier.get(url).status_code == 404, url


def test_sales_off_still_takes_registrations_without_deal_checks(
    app: Any, shop: Any, x_and_y: tuple[Any, Any, str, str]
) -> None:
    xavier, _yara, x_reg, _y_reg = x_and_y
    switch(app, shop, "sfa", False)
    reg = registration_id(register(xavier, company="Quiet Co", contact_email="q@quiet.example"))
    assert registration_row(app, shop, reg)["conflicts"] == []
    from .partner_helpers import decide

    refused = decide(app, shop, reg, "approve", {"create_deal": "1"})
    assert refused.status_code == 400 and "Switch Sales on" in refused.text
    assert registration_row(app, shop, reg)["status"] == "pending"
    assert decide(app, shop, reg, "approve", {}).status_code == 303


# --------------------------------------------------------------------------- schema


def test_partner_tables_follow_the_model_rules(app: Any) -> None:
    with app.app_context():
        problems = model_problems(db.metadata, tenant_tables())
        assert [p for p in problems if p.startswith("portal_")] == []
        from sqlalchemy import inspect

        found = inspect(db.engine)
        tables = [t for t in tenant_tables() if t.name in TABLES | {"portal_users"}]
        assert {t.name for t in tables} == TABLES | {"portal_users"}
        for table in tables:
            columns = {c["name"] for c in found.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name


@pytest.mark.postgres
def test_row_level_security_covers_partner_tables(
    app: Any, shop: Any, rival: Any, x_and_y: tuple[Any, Any, str, str]
) -> None:
    with app.app_context(), db.engine.connect() as conn:
        tables = [t for t in tenant_tables() if t.name in TABLES]
        assert rls_problems(conn, tables) == []
    with in_tenant(app, rival) as session:
        assert session.execute(text("SELECT count(*) FROM portal_registrations")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM portal_partners")).scalar() == 0
    with in_tenant(app, shop) as session:
        assert session.execute(text("SELECT count(*) FROM portal_registrations")).scalar() == 2


def test_partner_migration_does_not_drift_from_the_models(app: Any) -> None:
    """Alembic's autogenerate finds nothing to change on the portal's tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    with app.app_context():
        engine = create_engine(app.config["MIGRATION_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, db.metadata)
        finally:
            engine.dispose()
    assert [d for d in diff if "portal_" in repr(d)] == []
