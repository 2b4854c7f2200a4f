"""The module as a whole: onboarding from industry templates, settings pages for pipelines
and stages, navigation and permissions, record visibility, what it adds to the core's pages
(panels, timeline, widgets, search), its webhook events, merges, and the demo data."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_records import add
from helpers_sfa import deal, enable, lead, sales_tenant, signed_in, stages, user_uuid
from helpers_web import flashes, post_form
from sqlalchemy import func, select

from crm_platform.customers import Account
from crm_platform.identity import Tenant
from crm_platform.modules import disable_module
from crm_platform.records.custom_fields import CustomField
from crm_platform.records.visibility import save_visibility_settings
from crm_platform.webhooks.events import event_choices
from crm_platform.webhooks.models import WebhookDelivery
from plugins.sfa.models import Deal, Pipeline, Stage
from plugins.sfa.settings import sales_settings

SETTINGS = "/t/acme/sales/settings/pipelines"


# --------------------------------------------------------------------------- onboarding


@pytest.mark.parametrize(
    ("industry", "pipeline", "stage", "source", "field"),
    [
        ("banking", "Banking sales", "Credit approval", "Branch referral", "risk_profile"),
        ("telecom", "Telecom sales", "Site survey", "Call centre", "lines"),
        ("retail", "Retail sales", "Quote sent", "Store visit", "loyalty_tier"),
        ("b2b_services", "B2B sales", "Discovery", "Outbound", "contract_type"),
        ("generic", "Sales", "Qualification", "Cold call", "decision_role"),
    ],
)
def test_onboarding_follows_the_industry_template(
    app: Any, industry: str, pipeline: str, stage: str, source: str, field: str
) -> None:
    tenant = sales_tenant(app, "onboard", "owner@onboard.example", industry=industry)
    s = stages(app, tenant)
    assert stage in s.by_name and {"Won", "Lost"} <= set(s.by_name)
    with in_tenant(app, tenant) as session:
        assert session.scalars(select(Pipeline.name)).all() == [pipeline]
        settings = sales_settings()
        assert source in settings.lead_sources and settings.webform_key
        assert field in session.scalars(select(CustomField.key)).all()
        rotting = session.scalars(select(Stage.rotting_days).where(Stage.name == stage)).one()
        assert rotting and rotting > 0


def test_switching_off_and_on_keeps_data_and_adds_nothing(app: Any, acme: Any) -> None:
    deal(app, acme, name="Kept")
    with in_tenant(app, acme) as session:
        disable_module(session.get(Tenant, acme.id), "sfa")
        session.commit()
        before = (
            session.scalar(select(func.count()).select_from(Stage)),
            session.scalar(select(func.count()).select_from(CustomField)),
            sales_settings().webform_key,
        )
    enable(app, acme)
    with in_tenant(app, acme) as session:
        after = (
            session.scalar(select(func.count()).select_from(Stage)),
            session.scalar(select(func.count()).select_from(CustomField)),
            sales_settings().webform_key,
        )
        assert session.scalars(select(Deal.name)).all() == ["Kept"]
    assert after == before


def test_pipeline_and_stage_settings(app: Any, owner: Any, acme: Any) -> None:
    assert post_form(owner, SETTINGS, {"name": "Renewals"}).status_code == 303
    theirs = stages(app, acme, "Renewals")
    deal(app, acme, name="Renewal 1", pipeline_id=theirs.pipeline)
    stage_url = f"/t/acme/sales/settings/stages/{theirs['Proposal']}"
    changed = post_form(
        owner,
        stage_url,
        {"name": "Offer", "probability": "55", "rotting_days": "9", "outcome": "open"},
        page=SETTINGS,
    )
    assert changed.status_code == 303
    bad = post_form(
        owner, stage_url, {"name": "Offer", "probability": "150", "outcome": "open"}, page=SETTINGS
    )
    assert "Enter a whole number from 0 to 100." in flashes(owner.get(bad.headers["Location"]).text)
    first = f"/t/acme/sales/settings/stages/{theirs['Qualification']}"
    busy = post_form(owner, f"{first}/delete", page=SETTINGS)
    assert flashes(owner.get(busy.headers["Location"]).text) == [
        "Deals are in this stage: move them first."
    ]
    won = post_form(owner, f"/t/acme/sales/settings/stages/{theirs.won}/delete", page=SETTINGS)
    assert flashes(owner.get(won.headers["Location"]).text) == ["A pipeline needs a won stage."]
    added = post_form(
        owner,
        f"/t/acme/sales/settings/pipelines/{theirs.pipeline}/stages",
        {"name": "Demo", "probability": "20", "outcome": "open"},
        page=SETTINGS,
    )
    assert added.status_code == 303
    order = list(stages(app, acme, "Renewals").by_name)
    assert order.index("Demo") < order.index("Won")  # open stages go before the closed ones
    assert (
        post_form(
            owner, f"/t/acme/sales/settings/stages/{theirs['Negotiation']}/up", page=SETTINGS
        ).status_code
        == 303
    )
    order = list(stages(app, acme, "Renewals").by_name)
    assert order.index("Negotiation") < order.index("Offer")
    busy = post_form(
        owner, f"/t/acme/sales/settings/pipelines/{theirs.pipeline}/delete", page=SETTINGS
    )
    assert "Deals are in this pipeline" in flashes(owner.get(busy.headers["Location"]).text)[0]
    assert (
        post_form(
            owner, f"/t/acme/sales/settings/pipelines/{theirs.pipeline}/default", page=SETTINGS
        ).status_code
        == 303
    )
    with in_tenant(app, acme) as session:
        defaults = session.scalars(select(Pipeline.name).where(Pipeline.is_default)).all()
    assert defaults == ["Renewals"]


# --------------------------------------------------------------------------- navigation


def test_navigation_and_permissions_by_role(app: Any, owner: Any, acme: Any, factory: Any) -> None:
    home = owner.get("/t/acme/").text
    for href in (
        "/t/acme/sales/",
        "/t/acme/sales/leads",
        "/t/acme/sales/forecast",
        "/t/acme/sales/settings",
    ):
        assert f'href="{href}"' in home
    factory.member(acme, "viewer@acme.example", "readonly")
    viewer = signed_in(app, "viewer@acme.example")
    assert viewer.get("/t/acme/sales/").status_code == 200
    assert 'href="/t/acme/sales/settings"' not in viewer.get("/t/acme/").text
    assert viewer.get("/t/acme/sales/leads/new").status_code == 403
    assert viewer.get("/t/acme/sales/settings").status_code == 403
    assert "New deal" not in viewer.get("/t/acme/sales/").text
    bare = factory.tenant("bare", owner_email="owner@bare.example")
    other = signed_in(app, bare.owner_email)
    assert other.get("/t/bare/sales/").status_code == 404
    assert 'href="/t/bare/sales/"' not in other.get("/t/bare/").text


def test_own_visibility_hides_others_deals_but_not_the_pool(
    app: Any, acme: Any, factory: Any
) -> None:
    factory.member(acme, "rep@acme.example", "member")
    rep_id = user_uuid(app, "rep@acme.example")
    owner_id = user_uuid(app, "owner@acme.example")
    with in_tenant(app, acme) as session:
        save_visibility_settings(session.get(Tenant, acme.id), {"member": "own"})
        session.commit()
    mine = deal(app, acme, name="Rep's deal", owner_id=str(rep_id))
    theirs = deal(app, acme, name="Owner's deal", owner_id=str(owner_id))
    pooled = lead(app, acme, name="Pool person")
    owned = lead(app, acme, name="Owned person", owner_id=str(owner_id))
    rep = signed_in(app, "rep@acme.example")
    board = rep.get("/t/acme/sales/").text
    assert "Rep&#39;s deal" in board and "Owner&#39;s deal" not in board
    assert rep.get(f"/t/acme/sales/deals/{mine}").status_code == 200
    assert rep.get(f"/t/acme/sales/deals/{theirs}").status_code == 404
    assert rep.get(f"/t/acme/sales/leads/{pooled}").status_code == 200
    assert rep.get(f"/t/acme/sales/leads/{owned}").status_code == 404
    found = rep.get("/t/acme/search?q=person").text
    assert "Pool person" in found and "Owned person" not in found


# --------------------------------------------------------------------------- core pages


def test_panels_timeline_search_and_widgets(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    account_id = add(app, acme, "account", name="Globex")
    open_id = deal(app, acme, name="Globex expansion", account_id=account_id, amount="3000")
    deal(app, acme, name="Globex renewal", account_id=account_id, amount="7000", stage_id=s.won)
    page = owner.get(f"/t/acme/accounts/{account_id}").text
    assert 'id="panel-sfa-deals"' in page and "Globex expansion" in page
    assert "Deal opened: Globex expansion" in page  # the timeline
    assert f"/t/acme/sales/deals/new?account_id={account_id}" in page
    found = owner.get("/t/acme/search?q=expansion").text
    assert f"/t/acme/sales/deals/{open_id}" in found
    with in_tenant(app, acme) as session:
        from plugins.sfa.quotes import create_quote

        quote = create_quote(
            session.scalars(select(Deal).where(Deal.name == "Globex expansion")).unique().one()
        )
        session.commit()
        label, quote_id = quote.label, quote.id
    for typed in (label, label.lower().replace("-", ""), f"Q-{quote.number}"):
        found = owner.get("/t/acme/search", query_string={"q": typed}).text
        assert f"/t/acme/sales/quotes/{quote_id}" in found and "Globex expansion" in found
    found = owner.get("/t/acme/search", query_string={"q": "Q-99999"}).text
    assert "/t/acme/sales/quotes/" not in found
    home = owner.get("/t/acme/").text
    assert "Pipeline by stage" in home and "Won this month" in home
    assert "$7,000.00" in home  # won this month
    assert "$3,000.00" in home  # open in Qualification


def test_sales_events_can_be_subscribed_and_are_delivered(app: Any, owner: Any, acme: Any) -> None:
    with app.app_context():
        names = [value for value, _label in event_choices()]
    for event in ("lead.created", "lead.converted", "deal.stage_changed", "deal.won", "deal.lost"):
        assert event in names
    form = owner.get("/t/acme/settings/webhooks/new").text
    assert 'value="deal.won"' in form
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    created = post_form(
        owner,
        "/t/acme/settings/webhooks/new",
        {"url": "http://127.0.0.1:9/hook", "events": ["deal.won"], "active": "y"},
    )
    assert created.status_code == 303, created.text
    s = stages(app, acme)
    deal(app, acme, name="Winner", stage_id=s["Proposal"])
    with in_tenant(app, acme) as session:
        from plugins.sfa.deals import move_deal

        row = session.scalars(select(Deal)).unique().one()
        move_deal(row, s.won, reason="Great fit")
        session.commit()
        deliveries = session.scalars(select(WebhookDelivery.event)).all()
    assert deliveries == ["deal.won"]


def test_deals_follow_a_merged_account(app: Any, owner: Any, acme: Any) -> None:
    survivor = add(app, acme, "account", name="Initech")
    twin = add(app, acme, "account", name="INITECH")
    deal_id = deal(app, acme, name="Initech deal", account_id=twin)
    with in_tenant(app, acme) as session:
        from crm_platform.records.merge import merge_records

        keep = session.get(Account, (acme.id, uuid.UUID(survivor)))
        other = session.get(Account, (acme.id, uuid.UUID(twin)))
        merge_records(keep, other, {"name": "survivor"})
        session.commit()
        row = session.scalars(select(Deal)).unique().one()
        assert str(row.account_id) == survivor and str(row.id) == deal_id


# --------------------------------------------------------------------------- demo


def test_hook_crm_demo_data(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["demo", "--accounts", "12"])
    assert result.exit_code == 0, result.output
    from helpers_web import tenant_row

    demo = tenant_row(app, "demo")
    with in_tenant(app, demo) as session:
        from plugins.sfa.models import Lead, Quota

        statuses = {d.status for d in session.scalars(select(Deal)).unique()}
        assert statuses == {"open", "won", "lost"}
        assert session.scalar(select(func.count()).select_from(Lead)) == 12
        assert session.scalar(select(func.count()).select_from(Quota)) > 0
        pooled = session.scalar(
            select(func.count()).select_from(Lead).where(Lead.owner_id.is_(None))
        )
        assert pooled >= 1
    from crm_platform.cli import DEMO_PASSWORD

    client = app.test_client()
    assert login(client, "owner@demo.example", DEMO_PASSWORD).status_code == 302
    assert client.get("/t/demo/sales/").status_code == 200
    assert "Pipeline by stage" in client.get("/t/demo/").text
