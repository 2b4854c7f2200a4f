"""The web shell: tenant resolution, the workspace pages, health endpoints, bad input."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import DB_KIND, PASSWORD, in_tenant, login
from helpers_web import csrf, hrefs, post_form, tenant_row

from crm_platform.customers import Account, Contact

ACCOUNT_LINK_RE = re.compile(r'<td><a href="/t/acme/accounts/([0-9a-f-]{36})">([^<]*)</a></td>')


@pytest.fixture
def acme(factory: Any) -> Any:
    return factory.tenant("acme", owner_email="owner@acme.example", name="Acme Works")


@pytest.fixture
def bravo(factory: Any) -> Any:
    return factory.tenant("bravo", owner_email="owner@bravo.example", name="Bravo Hidden")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    client = app.test_client()
    assert login(client, "owner@acme.example").status_code == 302
    return client


def add_customers(app: Any, tenant: Any, prefix: str) -> dict[str, str]:
    """One account with one contact, and a contact with no account; their ids."""
    with in_tenant(app, tenant) as session:
        account = Account(name=f"{prefix} Account", industry="telecom", region="East")
        session.add(account)
        session.flush()
        contact = Contact(
            account_id=account.id,
            first_name=prefix,
            last_name="Person",
            email=f"p@{prefix.lower()}.ex",
        )
        loner = Contact(first_name=prefix, last_name="Loner")
        session.add_all([contact, loner])
        session.commit()
        return {"account": str(account.id), "contact": str(contact.id), "loner": str(loner.id)}


def tenant_urls(app: Any, slug: str) -> list[tuple[str, str]]:
    """(method, URL) of every non-public rule under /t/<slug>/, other arguments filled in."""
    urls = []
    filler = str(uuid.uuid4())
    for rule in app.url_map.iter_rules():
        if "tenant_slug" not in rule.arguments:
            continue
        if getattr(app.view_functions[rule.endpoint], "crm_public", False):
            continue
        values = {arg: filler for arg in rule.arguments if arg != "tenant_slug"}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, tenant_slug=slug, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls.append((method, url))
    assert len(urls) > 10
    return urls


# =========================================================================== tenancy


def test_unknown_slug_is_404(app: Any, owner: Any) -> None:
    assert owner.get("/t/nosuch/").status_code == 404
    assert owner.get("/t/nosuch/accounts").status_code == 404
    assert app.test_client().get("/t/nosuch/").status_code == 404


def test_non_member_gets_404_on_every_tenant_page(
    app: Any, acme: Any, bravo: Any, factory: Any
) -> None:
    ids = add_customers(app, acme, "Alpha")
    outsider = app.test_client()
    assert login(outsider, "owner@bravo.example").status_code == 302
    token = csrf(outsider, "/t/bravo/")
    for method, url in tenant_urls(app, "acme"):
        if method == "GET":
            response = outsider.get(url)
        else:
            response = outsider.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 404, (method, url)
        assert "Alpha" not in response.text and "Acme Works" not in response.text
    for path in (f"/t/acme/accounts/{ids['account']}", f"/t/acme/contacts/{ids['contact']}"):
        page = outsider.get(path)
        assert page.status_code == 404 and "Alpha" not in page.text


def test_signed_out_visitor_is_sent_to_login(app: Any, acme: Any) -> None:
    ids = add_customers(app, acme, "Alpha")
    visitor = app.test_client()
    token = csrf(visitor)
    for method, url in tenant_urls(app, "acme"):
        if method == "GET":
            response = visitor.get(url)
        else:
            response = visitor.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 302, (method, url)
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [url]
        assert "Alpha" not in response.text

    path = f"/t/acme/accounts/{ids['account']}"
    response = visitor.get(path)
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    signed = visitor.post(
        response.headers["Location"],
        data={"csrf_token": csrf(visitor), "email": "owner@acme.example", "password": PASSWORD},
    )
    assert signed.status_code == 302 and signed.headers["Location"] == next_url == path
    assert "Alpha Account" in visitor.get(path).text


def test_suspended_tenant_is_403_until_resumed(
    app: Any, runner: Any, owner: Any, acme: Any
) -> None:
    assert owner.get("/t/acme/").status_code == 200
    assert runner.invoke(args=["tenant", "suspend", "acme"]).exit_code == 0

    for path in ("/t/acme/", "/t/acme/accounts", "/t/acme/members", "/t/acme/settings"):
        page = owner.get(path)
        assert page.status_code == 403, path
        assert "This workspace is suspended" in page.text
    assert app.test_client().get("/t/acme/").status_code == 403  # signed out too
    post = post_form(owner, "/t/acme/settings", {"name": "X"}, page="/workspaces")
    assert post.status_code == 403
    assert "suspended" in owner.get("/workspaces").text

    assert runner.invoke(args=["tenant", "resume", "acme"]).exit_code == 0
    assert owner.get("/t/acme/").status_code == 200
    assert tenant_row(app, "acme").name == "Acme Works"


def test_member_of_two_tenants_opens_both_but_sees_each_ones_data(
    app: Any, factory: Any, acme: Any, bravo: Any
) -> None:
    factory.member(bravo, "owner@acme.example", "member")
    add_customers(app, acme, "Alpha")
    add_customers(app, bravo, "Bravo")
    client = app.test_client()
    login(client, "owner@acme.example")
    page = client.get("/workspaces")
    assert "Acme Works" in page.text and "Bravo Hidden" in page.text
    acme_accounts = client.get("/t/acme/accounts").text
    bravo_accounts = client.get("/t/bravo/accounts").text
    assert "Alpha Account" in acme_accounts and "Bravo Account" not in acme_accounts
    assert "Bravo Account" in bravo_accounts and "Alpha Account" not in bravo_accounts
    # Roles are per tenant: owner in acme, member (no settings) in bravo.
    assert client.get("/t/acme/settings").status_code == 200
    assert client.get("/t/bravo/settings").status_code == 403


# =========================================================================== pages


def test_workspace_pages_render_for_the_owner(app: Any, owner: Any, acme: Any) -> None:
    ids = add_customers(app, acme, "Alpha")
    expectations = {
        "/t/acme/": ["Acme Works", "Alpha Account", "tenant.created"],
        "/t/acme/accounts": ["Alpha Account", "telecom", "East"],
        f"/t/acme/accounts/{ids['account']}": ["Alpha Account", "Alpha Person", "p@alpha.ex"],
        "/t/acme/contacts": ["Alpha Person", "Alpha Loner", "p@alpha.ex"],
        f"/t/acme/contacts/{ids['contact']}": ["Alpha Person", "Alpha Account"],
        f"/t/acme/contacts/{ids['loner']}": ["Alpha Loner"],
        "/t/acme/members": ["owner@acme.example", "Invite someone"],
        "/t/acme/settings": ["Workspace settings", 'value="Acme Works"'],
        "/t/acme/audit": ["Audit log", "tenant.created", "auth.login"],
    }
    for path, needles in expectations.items():
        page = owner.get(path)
        assert page.status_code == 200, path
        for needle in needles:
            assert needle in page.text, (path, needle)
    home = owner.get("/t/acme/").text
    for link in ("/t/acme/accounts", "/t/acme/contacts", "/t/acme/members", "/t/acme/audit"):
        assert link in hrefs(home)
    contact = owner.get(f"/t/acme/contacts/{ids['contact']}").text
    assert f"/t/acme/accounts/{ids['account']}" in hrefs(contact)


def test_empty_workspace_pages(app: Any, owner: Any) -> None:
    assert "No accounts yet." in owner.get("/t/acme/accounts").text
    assert "No contacts yet." in owner.get("/t/acme/contacts").text


@pytest.mark.parametrize("bad", ["not-an-id", "123", "%20", "00000000-0000-0000-0000-00000000000g"])
def test_detail_pages_with_malformed_id_are_404(app: Any, owner: Any, bad: str) -> None:
    assert owner.get(f"/t/acme/accounts/{bad}").status_code == 404
    assert owner.get(f"/t/acme/contacts/{bad}").status_code == 404


def test_detail_pages_with_other_tenants_ids_are_404(
    app: Any, owner: Any, acme: Any, bravo: Any
) -> None:
    own = add_customers(app, acme, "Alpha")
    theirs = add_customers(app, bravo, "Bravo")
    for kind in ("accounts", "contacts"):
        key = "account" if kind == "accounts" else "contact"
        page = owner.get(f"/t/acme/{kind}/{theirs[key]}")
        assert page.status_code == 404 and "Bravo" not in page.text
        assert owner.get(f"/t/acme/{kind}/{own[key]}").status_code == 200
        assert owner.get(f"/t/acme/{kind}/{uuid.uuid4()}").status_code == 404
    # An id of the wrong kind is not found either.
    assert owner.get(f"/t/acme/accounts/{own['contact']}").status_code == 404
    assert owner.get(f"/t/acme/contacts/{own['account']}").status_code == 404


def test_accounts_pagination(app: Any, owner: Any, acme: Any) -> None:
    names = [f"Account {i:03d}" for i in range(25)] + ["Dup | Co"] * 30
    with in_tenant(app, acme) as session:
        session.add_all([Account(name=n) for n in names])
        session.commit()

    first = owner.get("/t/acme/accounts")
    assert first.status_code == 200
    page1 = ACCOUNT_LINK_RE.findall(first.text)
    assert len(page1) == 50
    assert [n for _, n in page1[:25]] == names[:25]
    next_links = [h for h in hrefs(first.text) if "after=" in h]
    assert len(next_links) == 1 and "Next page" in first.text

    second = owner.get(next_links[0])
    assert second.status_code == 200
    page2 = ACCOUNT_LINK_RE.findall(second.text)
    assert len(page2) == 5
    # Every account exactly once, even with equal names across the page boundary.
    all_ids = [i for i, _ in page1 + page2]
    assert len(set(all_ids)) == 55
    assert sorted(n for _, n in page1 + page2) == sorted(names)
    assert "after=" not in second.text


def test_accounts_pagination_exactly_one_page(app: Any, owner: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        session.add_all([Account(name=f"A{i:02d}") for i in range(50)])
        session.commit()
    page = owner.get("/t/acme/accounts")
    assert len(ACCOUNT_LINK_RE.findall(page.text)) == 50
    assert "after=" not in page.text


@pytest.mark.parametrize(
    "cursor", ["garbage", "name|not-a-uuid", "|", "Account 001|123", "x" * 300]
)
def test_accounts_bad_cursor_is_400(app: Any, owner: Any, cursor: str) -> None:
    page = owner.get("/t/acme/accounts", query_string={"after": cursor})
    assert page.status_code == 400
    assert "Bad page cursor." in page.text


def test_outbox_page(app: Any, factory: Any) -> None:
    factory.user("someone@acme.example")
    client = app.test_client()
    post_form(client, "/password/forgot", {"email": "someone@acme.example"})
    page = client.get("/outbox")
    assert page.status_code == 200 and "Reset your password" in page.text


class TestOutboxPageOff:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "OUTBOX_PAGE": False}

    def test_outbox_is_404(self, app: Any, client: Any) -> None:
        assert client.get("/outbox").status_code == 404
        assert "/outbox" not in client.get("/login").text


def test_unknown_url_and_method(app: Any, client: Any) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "Not found" in page.text
    assert client.delete("/login").status_code == 405
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"


# =========================================================================== health


def test_healthz(app: Any, client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz(app: Any, client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


class TestReadyzWithoutRedis:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"}

    def test_readyz_is_503_naming_redis(self, app: Any, client: Any) -> None:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("error:")
        assert client.get("/healthz").status_code == 200


class TestReadyzWithoutDatabase:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
        if DB_KIND == "postgres":
            url = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
        else:
            url = f"sqlite:///{tmp_path}/missing-dir/crm.sqlite3"
        return {**app_config, "DATABASE_URL": url}

    def test_readyz_is_503_naming_database(self, app: Any, client: Any) -> None:
        response = client.get("/readyz")
        assert response.status_code == 503
        checks = response.json["checks"]
        assert checks["database"].startswith("error:") and checks["redis"] == "ok"
