"""Global search: the core's provider (accounts, contacts) and plugins' results, grouped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import in_tenant
from helpers_records import add
from helpers_web import post_form

from crm_platform.identity import Membership
from crm_platform.plugins import collect


@pytest.fixture
def people(app: Any, acme: Any) -> dict[str, str]:
    north = add(app, acme, "account", name="Northwind Traders", email="info@northwind.example")
    return {
        "north": north,
        "grace": add(app, acme, "contact", first_name="Grace", last_name="Hopper",
                     email="Grace.Hopper@Navy.example", phone="+86 21 5555 1234",
                     account_id=north),
        "wang": add(app, acme, "contact", first_name="王", last_name="芳", title="经理"),
        "under": add(app, acme, "account", name="100%_Sure Ltd"),
    }  # fmt: skip


def _hits(page: str) -> list[str]:
    return re.findall(r'<li><a href="/t/acme/(?:accounts|contacts)/([0-9a-f-]{36})">', page)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("NORTHWIND", ["north"]),
        ("hopper", ["grace"]),
        ("grace hop", ["grace"]),
        ("GRACE.HOPPER@navy", ["grace"]),
        ("5555 1234", ["grace"]),
        ("王", ["wang"]),
        ("100%", ["under"]),
        ("_", []),  # wildcards are literal
        ("nobody at all", []),
    ],
)
def test_search_finds_records_case_insensitively(
    app: Any, owner: Any, people: dict[str, str], query: str, expected: list[str]
) -> None:
    page = owner.get("/t/acme/search", query_string={"q": query})
    assert page.status_code == 200
    names = {v: k for k, v in people.items()}
    assert sorted(names[i] for i in _hits(page.text)) == sorted(expected)


def test_results_are_grouped_by_kind_with_plugins_results(
    app: Any, owner: Any, people: dict[str, str]
) -> None:
    page = owner.get("/t/acme/search?q=r").text
    headings = re.findall(r"<h2>([^<]*) <small", page)
    assert headings == ["Accounts", "Contacts", "deal"]
    assert "Deal about r" in page  # the test plugin's hit
    assert page.index("Northwind Traders") < page.index("Grace Hopper") < page.index("Deal")
    assert '<small class="muted">info@northwind.example</small>' in page  # subtitles


def test_the_search_box_is_in_the_top_bar(app: Any, owner: Any) -> None:
    home = owner.get("/t/acme/").text
    assert '<form class="search" role="search" method="get" action="/t/acme/search">' in home
    assert "Nothing found" not in owner.get("/t/acme/search").text  # no query: no search


def test_deleted_records_are_not_found(app: Any, owner: Any, people: dict[str, str]) -> None:
    grace = f"/t/acme/contacts/{people['grace']}"
    post_form(owner, f"{grace}/delete", page=grace)
    assert _hits(owner.get("/t/acme/search?q=hopper").text) == []


def test_hook_crm_search(
    app: Any, acme: Any, people: dict[str, str], factory: Any, owner: Any
) -> None:
    """The core's own crm_search: at most ``limit`` hits of each kind, visible records only."""
    factory.member(acme, "rep@acme.example", "member")
    post_form(
        owner, "/t/acme/settings/visibility", {"member": "own", "readonly": "all"},
        page="/t/acme/settings/teams",
    )  # fmt: skip
    with in_tenant(app, acme) as session, app.test_request_context():
        from flask import g
        from sqlalchemy import select

        from crm_platform.identity import Tenant

        g.tenant = session.get(Tenant, acme.id)
        members = {m.role: m for m in session.scalars(select(Membership)).unique()}
        found = collect("crm_search", query="o", membership=members["owner"], limit=1)
        core = [r for r in found if r.kind in ("account", "contact")]
        assert sorted(r.kind for r in core) == ["account", "contact"]  # one of each kind
        assert all(r.url.startswith("/t/acme/") for r in core)
        hidden = collect("crm_search", query="hopper", membership=members["member"], limit=5)
        assert [r for r in hidden if r.kind == "contact"] == []
