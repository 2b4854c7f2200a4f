"""The tenants list (search, filters, pages, usage, billing facts) and a tenant's page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import in_tenant
from sqlalchemy import select

from crm_platform.customers import Account, Contact
from crm_platform.extensions import db
from crm_platform.identity import Tenant
from crm_platform.modules import enable_module
from crm_platform.tenancy import ProviderAccess

from .helpers import post_form, staff_actions, tenant_audit


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/provider/tenants/[0-9a-f-]+">([^<]+)</a>', html)


def test_list_shows_usage_and_billing_facts(app: Any, support: Any, world: dict) -> None:
    with in_tenant(app, world["alpha"]) as session:
        account = Account(name="Acme")
        session.add(account)
        session.flush()
        session.add_all([Contact(first_name="A", account_id=account.id), Contact(first_name="B")])
        session.add(Contact(first_name="Gone", deleted_at=db.func.now()))
        session.commit()
    page = support.client.get("/provider/tenants")
    assert page.status_code == 200
    assert _names(page.text) == ["Bravo Foods", "Alpha Traders"]  # newest first
    row = page.text.split("Alpha Traders", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert "owner@alpha.example" in cells[0]
    assert "Enterprise" in cells[2] and "active" in cells[3]
    assert [c.strip() for c in cells[4:8]] == ["7", "2", "1", "2"]  # seats, members, acc., con.
    assert "1,234.56 USD" in cells[8]


def test_without_a_billing_answer_facts_show_a_dash(
    app: Any, support: Any, world: dict, plugin: Any
) -> None:
    plugin.answer = False
    pm = app.extensions["crm_plugins"]
    if pm.get_plugin("billing") is not None:
        pm.unregister(name="billing")  # no plugin at all answers the summary hook
    page = support.client.get("/provider/tenants").text
    row = page.split("Alpha Traders", 1)[1].split("</tr>", 1)[0]
    assert row.count("—") == 4  # plan, subscription, seats, MRR


def test_search_by_name_slug_and_owner_email(app: Any, support: Any, world: dict) -> None:
    def search(q: str) -> list[str]:
        return _names(support.client.get("/provider/tenants", query_string={"q": q}).text)

    assert search("traders") == ["Alpha Traders"]
    assert search("BRAVO") == ["Bravo Foods"]
    assert search("owner@alpha") == ["Alpha Traders"]
    assert search("rep@alpha") == []  # owners only
    assert search("%") == []  # LIKE wildcards are literal
    assert "No tenant matches." in support.client.get("/provider/tenants?q=zzz").text


def test_filters_by_state_and_module(app: Any, admin: Any, world: dict) -> None:
    with in_tenant(app, world["bravo"]) as session:
        enable_module(session.get(Tenant, world["bravo"].id), "hello")
        session.commit()
    post_form(
        admin.client,
        f"/provider/tenants/{world['alpha'].id}",
        f"/provider/tenants/{world['alpha'].id}/suspend",
        {"status-reason": "unpaid"},
        "status",
    )

    def names(**args: str) -> list[str]:
        return _names(admin.client.get("/provider/tenants", query_string=args).text)

    assert names(status="suspended") == ["Alpha Traders"]
    assert names(status="active") == ["Bravo Foods"]
    assert names(module="hello") == ["Bravo Foods"]
    assert names(status="nonsense") == ["Bravo Foods", "Alpha Traders"]  # unknown: ignored


def test_pages_are_keyset_bounded(app: Any, factory: Any, support: Any, monkeypatch: Any) -> None:
    from crm_platform.provider import tenants as tenants_module

    monkeypatch.setattr(tenants_module, "PAGE_SIZE", 2)
    for slug in ("t-one", "t-two", "t-three"):
        factory.tenant(slug, name=slug.title())
    first = support.client.get("/provider/tenants").text
    assert _names(first) == ["T-Three", "T-Two"]
    next_url = re.search(r'href="([^"]*after=[^"]+)">Next page', first).group(1)
    second = support.client.get(next_url.replace("&amp;", "&")).text
    assert _names(second) == ["T-One"]
    assert "Next page" not in second and "First page" in second


def test_htmx_filtering_returns_only_the_rows(app: Any, support: Any, world: dict) -> None:
    response = support.client.get(
        "/provider/tenants?q=bravo", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<h1>" not in response.text and _names(response.text) == ["Bravo Foods"]


def test_every_cross_tenant_read_is_logged(app: Any, support: Any, world: dict) -> None:
    with app.app_context():
        before = db.session.query(ProviderAccess).count()
    support.client.get("/provider/tenants")
    support.client.get(f"/provider/tenants/{world['alpha'].id}")
    with app.app_context():
        reads = db.session.scalars(
            select(ProviderAccess).order_by(ProviderAccess.at, ProviderAccess.id)
        ).all()[before:]
        console = [(r.actor, r.reason) for r in reads if r.actor.startswith("staff:")]
    assert ("staff:support@provider.example", "console: tenants list") in console
    assert ("staff:support@provider.example", "console: tenant alpha") in console


def test_tenant_page_shows_members_modules_panels_and_audit(
    app: Any, support: Any, world: dict
) -> None:
    with in_tenant(app, world["alpha"]) as session:
        enable_module(session.get(Tenant, world["alpha"].id), "hello")
        session.commit()
    page = support.client.get(f"/provider/tenants/{world['alpha'].id}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Alpha Traders" in text
    assert "owner@alpha.example" in text and "rep@alpha.example" in text
    assert "Subscription of alpha" in text  # the plugin's panel
    assert re.search(
        r"Hello <small[^>]*>[^<]*</small>\s*<span class=\"tag stage-customer\">On", text
    )
    assert "tenant.created" in text  # recent audit entries
    assert "Enterprise" in text and "1,234.56 USD" in text
    assert "Only admins may suspend" in text  # support sees no suspend button
    assert 'name="impersonate-reason"' in text


def test_unknown_or_malformed_tenant_is_404(app: Any, support: Any, world: dict) -> None:
    assert support.client.get("/provider/tenants/not-a-uuid").status_code == 404
    assert (
        support.client.get("/provider/tenants/00000000-0000-7000-8000-000000000000").status_code
        == 404
    )


def test_suspend_and_resume_need_a_reason_and_are_audited(
    app: Any, admin: Any, world: dict, client: Any
) -> None:
    from conftest import login

    alpha = world["alpha"]
    page = f"/provider/tenants/{alpha.id}"
    url = f"/provider/tenants/{alpha.id}/suspend"
    response = post_form(admin.client, page, url, {"status-reason": ""}, "status")
    assert "Give a reason" in admin.client.get(response.headers["Location"]).text
    with app.app_context():
        assert db.session.get(Tenant, alpha.id).status == "active"

    post_form(admin.client, page, url, {"status-reason": "chargeback"}, "status")
    with app.app_context():
        assert db.session.get(Tenant, alpha.id).status == "suspended"
    login(client, "owner@alpha.example")
    suspended = client.get("/t/alpha/")
    assert suspended.status_code == 403 and "suspended" in suspended.text

    post_form(
        admin.client,
        page,
        f"/provider/tenants/{alpha.id}/resume",
        {"status-reason": "paid"},
        "status",
    )
    assert client.get("/t/alpha/").status_code == 200
    assert [(a.action, a.reason) for a in staff_actions(app) if a.action.startswith("tenant")] == [
        ("tenant.suspended", "chargeback"),
        ("tenant.resumed", "paid"),
    ]
    actions = [a for a, _, _ in tenant_audit(app, alpha) if a.startswith("tenant.")]
    assert actions == ["tenant.created", "tenant.suspended", "tenant.resumed"]
    labels = {label for a, label, _ in tenant_audit(app, alpha, "tenant.suspended")}
    assert labels == {"admin@provider.example (provider)"}


def test_support_cannot_suspend(app: Any, support: Any, world: dict) -> None:
    alpha = world["alpha"]
    response = post_form(
        support.client,
        f"/provider/tenants/{alpha.id}",
        f"/provider/tenants/{alpha.id}/suspend",
        {"status-reason": "x"},
        "status",
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Tenant, alpha.id).status == "active"


def test_hook_crm_provider_tenant_summary(app: Any, support: Any, world: dict, plugin) -> None:
    support.client.get("/provider/tenants")
    assert sorted(plugin.summary_calls[-1]) == ["alpha", "bravo"]  # one call for the page
    from crm_platform.provider.hooks import tenant_summaries

    with app.app_context():
        tenants = db.session.scalars(select(Tenant).order_by(Tenant.slug)).all()
        facts = tenant_summaries(tenants)
    assert facts[world["alpha"].id]["plan"] == "Enterprise"
    assert facts[world["bravo"].id]["seats"] == 7


def test_hook_crm_provider_tenant_panels(app: Any, support: Any, world: dict, plugin) -> None:
    page = support.client.get(f"/provider/tenants/{world['bravo'].id}").text
    assert 'id="panel-subscription"' in page and "Subscription of bravo" in page
    plugin.answer = False
    page = support.client.get(f"/provider/tenants/{world['bravo'].id}").text
    assert "Subscription of bravo" not in page


@pytest.mark.postgres
def test_usage_is_read_through_the_provider_role_under_rls(
    app: Any, support: Any, world: dict
) -> None:
    from sqlalchemy import text

    from crm_platform.tenancy import provider_engine

    with app.app_context():
        assert provider_engine() is not db.engine  # a role that may bypass RLS
        with db.engine.connect() as conn:  # the app role, no tenant in context: nothing
            assert conn.execute(text("select count(*) from memberships")).scalar() == 0
    page = support.client.get("/provider/tenants").text
    row = page.split("Alpha Traders", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[5].strip() == "2"  # alpha's members, counted across tenants
