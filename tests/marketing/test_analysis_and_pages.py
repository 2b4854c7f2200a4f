"""Customer analysis (RFM, value tiers, lifecycle), merge fields in the sandbox, and what
the module shows: pages, charts, the contact panel, timeline, dashboard, search, settings."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_marketing import add_contact, add_order
from helpers_web import post_form
from jinja2.exceptions import SecurityError
from sqlalchemy import select

from crm_platform.testing import run_jobs
from plugins.marketing.merge import Renderer, check_template, merge_values
from plugins.marketing.models import CustomerScore, EmailTemplate
from plugins.marketing.scoring import recompute_scores


@pytest.fixture
def customers(app: Any, shop: Any) -> dict[str, str]:
    people = {
        name: add_contact(app, shop, first_name=name.title(), email=f"{name}@x.example")
        for name in ("new", "loyal", "risk", "gone", "active")
    }
    add_order(app, shop, people["new"], "50", days_ago=5)
    for days in (10, 40, 80, 120, 150, 170):
        add_order(app, shop, people["loyal"], "200", days_ago=days)
    add_order(app, shop, people["risk"], "500", days_ago=200)
    add_order(app, shop, people["risk"], "500", days_ago=260)
    add_order(app, shop, people["gone"], "20", days_ago=500)
    add_order(app, shop, people["active"], "80", days_ago=20)
    add_order(app, shop, people["active"], "80", days_ago=90)
    add_order(app, shop, people["active"], "999", days_ago=2, status="refunded")  # not revenue
    return people


def test_rfm_scores_tiers_and_lifecycle(app, shop, customers) -> None:
    with in_tenant(app, shop) as session:
        assert recompute_scores() == 5
        assert recompute_scores() == 5  # rebuilt, not added to
        session.commit()
        scores = {str(s.contact_id): s for s in session.scalars(select(CustomerScore))}
        by = {name: scores[cid] for name, cid in customers.items()}
        assert {n: s.lifecycle for n, s in by.items()} == {
            "new": "new",
            "loyal": "loyal",
            "risk": "at_risk",
            "gone": "churned",
            "active": "active",
        }
        assert by["loyal"].frequency == 6 and by["loyal"].monetary == Decimal("1200.00")
        assert by["active"].monetary == Decimal("160.00") and by["active"].average_order == Decimal(
            "80.00"
        )
        assert by["loyal"].value_tier == "high" and by["gone"].value_tier == "low"
        assert by["new"].r_score == 5 and by["gone"].r_score == 1
        assert by["loyal"].f_score == 5 and by["gone"].f_score == 1
        assert by["loyal"].m_score == 5 and by["gone"].m_score == 1


def test_customer_analysis_page_charts_and_recompute(app, owner, shop, customers) -> None:
    page = owner.get("/t/shop/marketing/customers")
    assert page.status_code == 200 and "No customer has orders yet." in page.text
    assert (
        post_form(
            owner, "/t/shop/marketing/customers/recompute", page="/t/shop/marketing/customers"
        ).status_code
        == 303
    )
    run_jobs(app)
    page = owner.get("/t/shop/marketing/customers").text
    assert "<svg" in page and "Customers by lifecycle" in page and "at risk" in page
    assert 'class="visually-hidden"' in page  # the charts' accessible tables
    overview = owner.get("/t/shop/marketing/").text
    assert "Customers by lifecycle" in overview


def test_settings_change_thresholds_and_topics(app, owner, shop, customers) -> None:
    data = {
        "new_days": "10",
        "risk_days": "100",
        "churn_days": "400",
        "loyal_orders": "3",
        "topics": "news = News\noffers = Offers",
    }
    assert post_form(owner, "/t/shop/marketing/settings", data).status_code == 302
    with in_tenant(app, shop) as session:
        recompute_scores()
        session.commit()
        score = session.scalars(
            select(CustomerScore).where(CustomerScore.contact_id == uuid.UUID(customers["new"]))
        ).one()
        assert score.lifecycle == "new"
    bad = post_form(owner, "/t/shop/marketing/settings", {**data, "topics": "all = Everything"})
    assert bad.status_code == 400 and "reserved" in bad.text
    page = owner.get("/t/shop/marketing/campaigns/new").text
    assert 'value="offers"' in page


def test_contact_panel_timeline_widget_and_search(app, owner, shop, customers) -> None:
    with in_tenant(app, shop) as session:
        recompute_scores()
        session.commit()
    page = owner.get(f"/t/shop/contacts/{customers['loyal']}").text
    panel = page[page.find('id="panel-marketing"') :]
    assert "loyal" in panel and "RFM 455" in panel and "6 orders" in panel
    assert "No campaign has reached this contact yet." in page
    post_form(
        owner,
        "/t/shop/marketing/segments/new?kind=static",
        {"name": "Friends", "kind": "static", "action": "save"},
    )
    with in_tenant(app, shop) as session:
        from plugins.marketing.models import Segment

        list_id = str(session.scalars(select(Segment.id)).one())
    added = post_form(
        owner,
        "/t/shop/marketing/lists/add",
        {
            "segment_id": list_id,
            "contact_id": customers["loyal"],
            "next": f"/t/shop/contacts/{customers['loyal']}",
        },
        page=f"/t/shop/contacts/{customers['loyal']}",
    )
    assert added.headers["Location"].endswith(f"/contacts/{customers['loyal']}")
    assert "Friends" in owner.get(f"/t/shop/contacts/{customers['loyal']}").text
    home = owner.get("/t/shop/").text
    assert "Open marketing" in home
    found = owner.get("/t/shop/search?q=friend").text
    assert "Friends" in found


def test_module_off_hides_everything_and_onboarding_once(app, factory, shop, owner) -> None:
    with in_tenant(app, shop) as session:
        assert [t.name for t in session.scalars(select(EmailTemplate))] == ["Welcome"]
    other = factory.tenant("plain", owner_email="owner@plain.example")
    client = app.test_client()
    login(client, "owner@plain.example")
    assert client.get("/t/plain/marketing/").status_code == 404
    assert "/marketing/" not in client.get("/t/plain/").text
    contact = add_contact(app, other, first_name="Zed", email="zed@x.example")
    assert "panel-marketing" not in client.get(f"/t/plain/contacts/{contact}").text


def test_members_without_the_permission_get_403(app, factory, shop) -> None:
    factory.member(shop, "rep@shop.example", "member")
    client = app.test_client()
    login(client, "rep@shop.example")
    assert client.get("/t/shop/marketing/").status_code == 403
    assert "/marketing/" not in client.get("/t/shop/").text


def test_merge_fields_render_in_a_sandbox(app, shop) -> None:
    with in_tenant(app, shop):
        assert check_template("Hi {{ contact.first_name|title }}!", "subject")
        with pytest.raises(ValueError, match="contact.firstname"):
            check_template("Hi {{ contact.firstname }}", "subject")
        with pytest.raises(ValueError, match="line 1"):
            check_template("{{ contact.first_name ", "subject")
    values = merge_values(
        {"first_name": "<b>Ann</b>", "last_name": None, "custom": {}}, {"name": "Acme"}
    )
    renderer = Renderer(
        {"a": "Hi {{ contact.first_name }}"},
        "<p>{{ contact.first_name }} {{ contact.custom.missing }}{{ contact.title }}</p>",
    )
    assert renderer.subject("a", values) == "Hi <b>Ann</b>"  # plain text subject
    assert renderer.html(values) == "<p>&lt;b&gt;Ann&lt;/b&gt; </p>"  # escaped, empty fields
    evil = Renderer(
        {"a": "x"}, "{{ contact.__class__.__mro__ }}{{ ''.__class__.__subclasses__() }}"
    )
    with pytest.raises(SecurityError):
        evil.html(values)
