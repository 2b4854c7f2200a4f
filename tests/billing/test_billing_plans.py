"""Plans as data, trials, and the entitlements the core enforces: modules, seats, records,
API rate limits, banners; and the two hooks billing answers (``crm_tenant_policy``,
``crm_usage_recorded``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from billing_helpers import edit_plan, ledger_of, live, seed, subscription_of, tenant_row
from conftest import in_tenant, login
from helpers_web import field_error, flashes, post_form
from sqlalchemy import func, select

from billing.catalogue import DEFAULT_PLANS, seed_plans
from billing.models import Plan, UsageRecord
from crm_platform import create_app
from crm_platform.customers import Contact
from crm_platform.extensions import db
from crm_platform.modules import module_catalogue
from crm_platform.sdk import (
    TenantPolicy,
    ValidationFailed,
    add_member,
    enable_module,
    hookimpl,
    record_usage,
)
from crm_platform.tenancy import utcnow
from crm_platform.testing import Factory, make_api_key, wipe_database


@pytest.fixture
def acme(app: Any, factory: Any) -> Any:
    seed(app)
    return factory.tenant("acme")


def test_plans_are_seeded_once_and_never_overwritten(app: Any) -> None:
    with app.app_context():
        assert seed_plans(db.session.connection()) == [p["key"] for p in DEFAULT_PLANS]
        db.session.commit()
        db.session.execute(
            Plan.__table__.update().where(Plan.key == "small").values(price_per_seat_cents=999)
        )
        assert seed_plans(db.session.connection()) == []
        db.session.commit()
        plans = {p.key: p for p in db.session.scalars(select(Plan))}
    assert set(plans) == {"trial", "small", "mid", "enterprise"}
    assert plans["small"].price_per_seat_cents == 999  # the provider's edit stays
    assert [k for k, p in plans.items() if p.is_default] == ["trial"]


def test_cli_seed_plans_is_idempotent_and_starts_missing_trials(app: Any, runner: Any) -> None:
    first = runner.invoke(args=["billing", "seed-plans"])
    assert first.exit_code == 0, first.output
    assert "plans added: trial, small, mid, enterprise" in first.output
    again = runner.invoke(args=["billing", "seed-plans"])
    assert "plans added: none; trials started: 0" in again.output
    listing = runner.invoke(args=["billing", "plans"])
    assert "small" in listing.output and "15.00 USD/seat" in listing.output


def test_a_new_tenant_starts_trialing_on_the_default_plan(app: Any, acme: Any) -> None:
    sub = subscription_of(app, acme)
    assert (sub["plan"], sub["status"], sub["seats"]) == ("trial", "trialing", 1)
    assert ledger_of(app, acme) == [("start", 1, None, "system")]
    with in_tenant(app, acme):
        assert all(s.allowed for s in module_catalogue(tenant_row(acme)))  # the trial has all


def test_hook_crm_tenant_created(app_config: dict) -> None:
    """Called once per new tenant, in its context, before its default modules go on; a
    plugin that raises is skipped and the tenant (with billing's trial) is still created."""
    seen: list[tuple[str, str, bool]] = []

    class Welcome:
        @hookimpl
        def crm_tenant_created(self, tenant: Any, owner: Any) -> None:
            from crm_platform.sdk import current_tenant, module_enabled

            seen.append((current_tenant().slug, owner.email, module_enabled("hello")))

    class Broken:
        @hookimpl
        def crm_tenant_created(self, tenant: Any, owner: Any) -> None:
            raise RuntimeError("boom")

    wipe_database(app_config)
    application = create_app(app_config, plugins=[Welcome(), Broken()])
    tenant = Factory(application).tenant("fresh")
    assert seen == [("fresh", "owner@fresh.example", False)]
    assert subscription_of(application, tenant)["status"] == "trialing"
    with application.app_context():
        db.engine.dispose()


def test_a_tenant_created_before_the_plans_existed_seeds_them(app: Any, factory: Any) -> None:
    tenant = factory.tenant("early")  # the wiped test database has no plans yet
    assert subscription_of(app, tenant)["plan"] == "trial"


# --------------------------------------------------------------------------- modules


def _on_small(app: Any, tenant: Any, **plan: Any) -> None:
    edit_plan(app, "small", **plan)
    with live(app, tenant) as sub:
        small = db.session.scalar(select(Plan).where(Plan.key == "small"))
        sub.plan_id, sub.status, sub.seats = small.id, "active", 5


def test_a_plan_without_a_module_cannot_switch_it_on(app: Any, client: Any, acme: Any) -> None:
    _on_small(app, acme, included_modules=["sfa"], addon_modules={})
    with in_tenant(app, acme):
        with pytest.raises(ValidationFailed) as refused:
            enable_module(tenant_row(acme), "hello")
        assert "not included in your plan: upgrade on the billing page" in str(refused.value)
    login(client, acme.owner_email)
    page = client.get("/t/acme/settings/modules").text
    assert 'id="upgrade-hello"' in page
    assert 'href="/t/acme/settings/billing">Upgrade your plan to switch it on</a>' in page
    response = post_form(
        client, "/t/acme/settings/modules/hello/enable", page="/t/acme/settings/modules"
    )
    assert response.status_code == 302
    follow = client.get("/t/acme/settings/modules").text
    assert "Hello is not included in your plan" in " ".join(flashes(follow))
    with in_tenant(app, acme):
        assert not any(s.enabled for s in module_catalogue(tenant_row(acme)))


def test_a_paid_add_on_shows_its_price_and_joins_the_subscription(
    app: Any, client: Any, acme: Any
) -> None:
    _on_small(app, acme, included_modules=["sfa"], addon_modules={"hello": 500})
    login(client, acme.owner_email)
    page = client.get("/t/acme/settings/modules").text
    assert "Paid add-on: $5.00 a month, billed while it is on." in page
    post_form(client, "/t/acme/settings/modules/hello/enable", page="/t/acme/settings/modules")
    assert subscription_of(app, acme)["addons"] == ["hello"]
    post_form(client, "/t/acme/settings/modules/hello/disable", page="/t/acme/settings/modules")
    assert subscription_of(app, acme)["addons"] == []
    assert [e[:3] for e in ledger_of(app, acme)[-2:]] == [
        ("addon_on", 5, "hello"),
        ("addon_off", 5, "hello"),
    ]


def test_a_downgrade_that_would_lose_a_module_is_refused(app: Any, acme: Any) -> None:
    from billing.service import change_plan

    _on_small(app, acme)
    with in_tenant(app, acme):
        enable_module(tenant_row(acme), "hello")  # small sells hello as an add-on
        db.session.commit()
    edit_plan(app, "mid", included_modules=["sfa"], addon_modules={})
    with (
        in_tenant(app, acme),
        pytest.raises(ValidationFailed, match="Mid-market does not include Hello"),
    ):
        change_plan(tenant_row(acme), "mid", actor="test")


# --------------------------------------------------------------------------- seats, records, API


def test_seats_cap_members_and_invitations(app: Any, client: Any, acme: Any) -> None:
    edit_plan(app, "trial", max_seats=2)
    factory = Factory(app)
    factory.member(acme, "second@acme.example")
    with pytest.raises(ValidationFailed, match="seats of your plan are taken"):
        factory.member(acme, "third@acme.example")
    login(client, acme.owner_email)
    response = post_form(
        client,
        "/t/acme/members/invite",
        {"email": "x@acme.example", "role": "member"},
        page="/t/acme/members",
    )
    assert response.status_code == 400
    assert "All 2 seats of your plan are taken" in field_error(response.text, "email")


def test_record_limits_refuse_creation_in_forms_and_the_api(
    app: Any, client: Any, acme: Any
) -> None:
    edit_plan(app, "trial", record_limits={"contacts": 1})
    login(client, acme.owner_email)
    ok = post_form(client, "/t/acme/contacts/new", {"first_name": "Ada"})
    assert ok.status_code == 302
    refused = post_form(client, "/t/acme/contacts/new", {"first_name": "Grace"})
    assert refused.status_code == 400
    assert "Your plan allows at most 1 contacts" in refused.text
    key = make_api_key(app, acme, acme.owner_email)
    api = client.post(
        "/api/v1/contacts", json={"first_name": "Linus"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert api.status_code == 400
    assert "at most 1 contacts" in api.json["error"]["fields"]["limit"]
    with in_tenant(app, acme) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_the_api_rate_limit_follows_the_plan(app: Any, client: Any, acme: Any) -> None:
    key = make_api_key(app, acme, acme.owner_email)
    headers = {"Authorization": f"Bearer {key}"}
    edit_plan(app, "trial", api_rate_limit="2 per minute")
    answers = [client.get("/api/v1/contacts", headers=headers).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


# --------------------------------------------------------------------------- banners


def test_a_trial_ending_soon_shows_a_banner(app: Any, client: Any, acme: Any) -> None:
    login(client, acme.owner_email)
    assert 'id="policy-banner"' not in client.get("/t/acme/").text
    with live(app, acme) as sub:
        sub.trial_ends_at = utcnow() + timedelta(days=3)
    page = client.get("/t/acme/").text
    assert 'id="policy-banner"' in page and "Your trial ends on" in page
    assert 'href="/t/acme/settings/billing">Go to billing</a>' in page


def test_an_expired_trial_is_read_only_until_a_plan_is_chosen(
    app: Any, client: Any, acme: Any
) -> None:
    with live(app, acme) as sub:
        sub.trial_ends_at = utcnow() - timedelta(minutes=1)
    login(client, acme.owner_email)
    page = client.get("/t/acme/").text
    assert "Your trial has ended: choose a plan to keep working." in page
    assert post_form(client, "/t/acme/contacts/new", {"first_name": "Ada"}).status_code == 403
    runner = app.test_cli_runner()
    assert "acme: canceled" in runner.invoke(args=["billing", "run-cycle"]).output


# --------------------------------------------------------------------------- hooks


class FrozenPolicy:
    """A test plugin that answers the policy hook for the tenants it froze."""

    def __init__(self) -> None:
        self.frozen: set[str] = set()

    @hookimpl
    def crm_tenant_policy(self, tenant: Any) -> TenantPolicy | None:
        if tenant.slug not in self.frozen:
            return None
        return TenantPolicy(
            plan="Archive", read_only="Archived by the test.", banner="Archived.", max_seats=1
        )


def test_hook_crm_tenant_policy(app_config: dict) -> None:
    """The first answer wins: the test plugin (registered last, called first) over billing."""
    wipe_database(app_config)
    policy = FrozenPolicy()
    application = create_app(app_config, plugins=[policy])
    factory = Factory(application)
    frozen = factory.tenant("frozen")
    policy.frozen.add("frozen")
    client = application.test_client()
    login(client, frozen.owner_email)
    page = client.get("/t/frozen/")
    assert "Archived." in page.text
    refused = post_form(client, "/t/frozen/contacts/new", {"first_name": "Ada"})
    assert refused.status_code == 403 and "Archived by the test." in refused.text
    with pytest.raises(ValidationFailed):
        factory.member(frozen, "second@frozen.example")
    with application.app_context():
        db.engine.dispose()


def test_hook_crm_usage_recorded(app: Any, acme: Any) -> None:
    seen: list[tuple[str, int, str | None]] = []

    class Meter:
        @hookimpl
        def crm_usage_recorded(self, tenant: Any, metric: str, quantity: int, idempotency_key):
            seen.append((metric, quantity, idempotency_key))

    from crm_platform.plugins import get_plugin_manager

    with in_tenant(app, acme) as session:
        get_plugin_manager().register(Meter())
        record_usage("marketing_emails", 250, idempotency_key="campaign-1")
        record_usage("marketing_emails", 250, idempotency_key="campaign-1")  # counted once
        record_usage("marketing_emails")
        session.commit()
        with pytest.raises(ValueError):
            record_usage("Bad Metric")
        with pytest.raises(ValueError):
            record_usage("marketing_emails", 0)
        rows = session.scalars(select(UsageRecord).where(UsageRecord.customer_id == acme.id))
        assert sorted(r.quantity for r in rows) == [1, 250]
    assert seen == [
        ("marketing_emails", 250, "campaign-1"),
        ("marketing_emails", 250, "campaign-1"),
        ("marketing_emails", 1, None),
    ]


def test_the_seat_check_reads_the_policy_of_the_tenant_in_context(app: Any, acme: Any) -> None:
    edit_plan(app, "trial", max_seats=1)
    with in_tenant(app, acme) as session:
        from crm_platform.sdk import create_user

        user = create_user("extra@acme.example", "Extra", "correct-horse-battery")
        with pytest.raises(ValidationFailed, match="All 1 seats"):
            add_member(tenant_row(acme), user, "member")
        session.rollback()
