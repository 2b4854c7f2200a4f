"""Segments: every kind of filter compiled to one SQL query, AND/OR groups, contradictions,
the htmx builder and live count, materialised members, static lists."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant
from helpers_marketing import add_account, add_contact, add_order
from helpers_web import post_form
from sqlalchemy import func, select

from crm_platform.provisioning import ValidationFailed
from crm_platform.records.custom_fields import CustomField
from crm_platform.sdk import DomainEvent, create_activity
from crm_platform.testing import run_jobs
from plugins.marketing.conversions import record_deal_won
from plugins.marketing.models import Segment, SegmentMember
from plugins.marketing.scoring import recompute_scores
from plugins.marketing.segment_compiler import clean_definition, count_members, members_query
from plugins.marketing.segments import (
    add_members,
    copy_to_static,
    create_segment,
    refresh_segment,
)


def rule(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def one(*rules: dict[str, Any], match: str = "all") -> dict[str, Any]:
    return {"match": "all", "groups": [{"match": match, "rules": list(rules)}]}


@pytest.fixture
def people(app: Any, shop: Any) -> dict[str, str]:
    """Four contacts with different stages, tags, custom values, accounts, orders."""
    with in_tenant(app, shop) as session:
        session.add(
            CustomField(
                entity="contact",
                key="tier",
                label="Tier",
                type="choice",
                choices=["gold", "silver"],
            )
        )
        session.add(CustomField(entity="contact", key="score", label="Score", type="number"))
        session.commit()
    retail = add_account(app, shop, name="Retail Co", industry="Retail")
    out = {
        "ann": add_contact(
            app,
            shop,
            first_name="Ann",
            email="ann@x.example",
            lifecycle_stage="customer",
            tags=["vip"],
            account_id=retail,
            custom={"tier": "gold", "score": "80"},
        ),
        "bob": add_contact(
            app,
            shop,
            first_name="Bob",
            email="bob@x.example",
            lifecycle_stage="lead",
            custom={"tier": "silver", "score": "20"},
        ),
        "cy": add_contact(
            app,
            shop,
            first_name="Cy",
            email="cy@x.example",
            lifecycle_stage="customer",
            tags=["VIP", "newsletter"],
        ),
        "dee": add_contact(app, shop, first_name="Dee", lifecycle_stage="churned"),
    }
    add_order(
        app,
        shop,
        out["ann"],
        "120",
        days_ago=3,
        lines=[{"product_name": "Green tea", "sku": "GT-1", "unit_price": "120"}],
    )
    add_order(app, shop, out["ann"], "30", days_ago=40)
    add_order(app, shop, out["cy"], "15", days_ago=400)
    return out


def names(app: Any, shop: Any, definition: dict[str, Any]) -> set[str]:
    from crm_platform.customers import Contact

    with in_tenant(app, shop) as session:
        checked = clean_definition(definition)
        ids = select(Contact.first_name).where(Contact.id.in_(members_query(checked)))
        count = count_members(checked)
        found = set(session.scalars(ids))
        assert count == len(found)
        return found


def test_contact_account_custom_and_tag_filters(app, shop, people) -> None:
    assert names(app, shop, one(rule("contact.lifecycle_stage", "is", "customer"))) == {"Ann", "Cy"}
    assert names(app, shop, one(rule("contact.lifecycle_stage", "in", ["lead", "churned"]))) == {
        "Bob",
        "Dee",
    }
    assert names(app, shop, one(rule("contact.email", "is_empty"))) == {"Dee"}
    assert names(app, shop, one(rule("contact.first_name", "starts_with", "a"))) == {"Ann"}
    assert names(app, shop, one(rule("contact.tag", "has", "vip"))) == {"Ann", "Cy"}
    assert names(app, shop, one(rule("contact.tag", "has_not", "vip"))) == {"Bob", "Dee"}
    assert names(app, shop, one(rule("account.industry", "is", "retail"))) == {"Ann"}
    assert names(app, shop, one(rule("account.industry", "is_not", "retail"))) == {
        "Bob",
        "Cy",
        "Dee",
    }
    assert names(app, shop, one(rule("contact.custom.tier", "is", "gold"))) == {"Ann"}
    assert names(app, shop, one(rule("contact.custom.score", "between", ["10", "50"]))) == {"Bob"}
    assert names(app, shop, one(rule("contact.custom.score", "gt", 50))) == {"Ann"}


def test_orders_activities_scores_deals_and_segments(app, shop, people) -> None:
    assert names(app, shop, one(rule("orders.count", "gte", 2))) == {"Ann"}
    assert names(app, shop, one(rule("orders.count", "eq", 0))) == {"Bob", "Dee"}
    assert names(app, shop, one(rule("orders.total", "gt", 100))) == {"Ann"}
    # conditions that customers without orders meet too (the anti-join side)
    assert names(app, shop, one(rule("orders.count", "lt", 2))) == {"Bob", "Cy", "Dee"}
    assert names(app, shop, one(rule("orders.count", "ne", 1))) == {"Ann", "Bob", "Dee"}
    assert names(app, shop, one(rule("orders.total", "lte", 15))) == {"Bob", "Cy", "Dee"}
    assert names(app, shop, one(rule("orders.total", "between", ["0", "20"]))) == {
        "Bob",
        "Cy",
        "Dee",
    }
    assert names(app, shop, one(rule("orders.total", "between", ["10", "200"]))) == {"Ann", "Cy"}
    assert names(app, shop, one(rule("orders.count", "gte", 0))) == {"Ann", "Bob", "Cy", "Dee"}
    assert names(app, shop, one(rule("orders.last", "within_days", 30))) == {"Ann"}
    assert names(app, shop, one(rule("orders.last", "not_within_days", 30))) == {"Bob", "Cy", "Dee"}
    assert names(app, shop, one(rule("orders.product", "bought", "tea"))) == {"Ann"}
    with in_tenant(app, shop) as session:
        create_activity({"kind": "call", "subject": "Hi", "contact_id": people["bob"]})
        recompute_scores()
        record_deal_won(
            DomainEvent(
                "deal.won",
                shop.id,
                uuid.uuid4(),
                {"contact_id": people["cy"], "amount": "500"},
            )
        )
        session.commit()
    assert names(app, shop, one(rule("activity.call", "within_days", 7))) == {"Bob"}
    assert names(app, shop, one(rule("activity.any", "never"))) == {"Ann", "Cy", "Dee"}
    assert names(app, shop, one(rule("score.lifecycle", "is", "churned"))) == {"Cy"}
    assert names(app, shop, one(rule("score.lifecycle", "is_empty"))) == {"Bob", "Dee"}
    assert names(app, shop, one(rule("deals.won", "ever"))) == {"Cy"}
    with in_tenant(app, shop) as session:
        vips = create_segment(
            {"name": "VIPs", "definition": one(rule("contact.tag", "has", "vip"))}
        )
        refresh_segment(vips)
        session.commit()
        vip_id = str(vips.id)
    assert names(app, shop, one(rule("marketing.segment", "not_in_segment", vip_id))) == {
        "Bob",
        "Dee",
    }


def test_and_or_groups(app, shop, people) -> None:
    either = {
        "match": "any",
        "groups": [
            {"match": "all", "rules": [rule("contact.lifecycle_stage", "is", "lead")]},
            {
                "match": "all",
                "rules": [rule("contact.tag", "has", "newsletter"), rule("orders.count", "gte", 1)],
            },
        ],
    }
    assert names(app, shop, either) == {"Bob", "Cy"}
    inside = one(
        rule("contact.first_name", "is", "dee"),
        rule("contact.first_name", "is", "bob"),
        match="any",
    )
    assert names(app, shop, inside) == {"Bob", "Dee"}


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (
            [
                rule("contact.lifecycle_stage", "is", "lead"),
                rule("contact.lifecycle_stage", "is", "customer"),
            ],
            "Lifecycle stage",
        ),
        ([rule("orders.count", "gt", 5), rule("orders.count", "lt", 3)], "Number of orders"),
        ([rule("contact.email", "is_empty"), rule("contact.email", "contains", "@")], "E-mail"),
        ([rule("contact.tag", "has", "VIP"), rule("contact.tag", "has_not", "vip")], "Tag"),
        (
            [rule("orders.last", "within_days", 10), rule("orders.last", "not_within_days", 30)],
            "Ordered",
        ),
        (
            [
                rule("contact.created_at", "after", "2026-05-01"),
                rule("contact.created_at", "before", "2026-01-01"),
            ],
            "Created",
        ),
        (
            [
                rule("contact.lifecycle_stage", "in", ["lead"]),
                rule("contact.lifecycle_stage", "not_in", ["lead"]),
            ],
            "Lifecycle stage",
        ),
    ],
)
def test_contradictory_filters_are_refused_naming_the_field(app, shop, rules, field) -> None:
    with in_tenant(app, shop), pytest.raises(ValidationFailed) as caught:
        clean_definition(one(*rules))
    (message,) = caught.value.errors.values()
    assert "can never match" in message and f"“{field}”" in message


def test_contradiction_across_groups_that_must_all_hold(app, shop) -> None:
    definition = {
        "match": "all",
        "groups": [
            {"match": "all", "rules": [rule("contact.lifecycle_stage", "is", "lead")]},
            {"match": "any", "rules": [rule("contact.lifecycle_stage", "is", "customer")]},
        ],
    }
    with in_tenant(app, shop), pytest.raises(ValidationFailed) as caught:
        clean_definition(definition)
    assert set(caught.value.errors) == {"definition"}
    definition["match"] = "any"  # either group may hold: fine
    with in_tenant(app, shop):
        clean_definition(definition)


def test_bad_rules_are_refused_one_message_each(app, shop) -> None:
    definition = one(
        rule("contact.shoe_size", "is", "9"),
        rule("contact.first_name", "gt", "x"),
        rule("orders.count", "gt", "many"),
        rule("orders.last", "within_days", 0),
        rule("contact.lifecycle_stage", "is", "astronaut"),
    )
    with in_tenant(app, shop), pytest.raises(ValidationFailed) as caught:
        clean_definition(definition)
    assert set(caught.value.errors) == {
        "groups.0.rules.0.field",
        "groups.0.rules.1.op",
        "groups.0.rules.2.value",
        "groups.0.rules.3.value",
        "groups.0.rules.4.value",
    }


def test_refresh_materialises_and_keeps_join_times(app, shop, people) -> None:
    with in_tenant(app, shop) as session:
        segment = create_segment(
            {
                "name": "Customers",
                "definition": one(rule("contact.lifecycle_stage", "is", "customer")),
            }
        )
        assert segment.member_count == 2  # counted at once
        assert refresh_segment(segment) == 2
        session.commit()
        first = dict(
            session.execute(select(SegmentMember.contact_id, SegmentMember.added_at)).all()
        )
    bob = add_contact(app, shop, first_name="Bo", lifecycle_stage="customer")
    with in_tenant(app, shop) as session:
        from crm_platform.customers import Contact

        ann = session.scalars(select(Contact).where(Contact.first_name == "Ann")).one()
        ann.lifecycle_stage = "loyal"
        segment = session.scalars(select(Segment)).one()
        assert refresh_segment(segment) == 2
        session.commit()
        now = dict(session.execute(select(SegmentMember.contact_id, SegmentMember.added_at)).all())
    assert {str(k) for k in now} == {people["cy"], bob}
    cy = next(k for k in now if str(k) == people["cy"])
    assert now[cy] == first[cy]  # a member stays with the time they joined


def test_static_lists_and_copies(app, shop, people) -> None:
    with in_tenant(app, shop) as session:
        static = create_segment({"name": "Picked", "kind": "static"})
        assert add_members(static, [people["bob"], people["dee"]]) == 2
        assert add_members(static, [people["bob"]]) == 0
        with pytest.raises(ValidationFailed):
            add_members(static, ["00000000-0000-0000-0000-000000000000"])
        dynamic = create_segment(
            {"name": "Leads", "definition": one(rule("contact.lifecycle_stage", "is", "lead"))}
        )
        kept = copy_to_static(dynamic, "Leads today")
        session.commit()
        assert kept.member_count == 1 and static.member_count == 2
        assert session.scalar(select(func.count()).select_from(SegmentMember)) == 3


def test_builder_page_htmx_rows_and_live_count(app, owner, people) -> None:
    page = owner.get("/t/shop/marketing/segments/new")
    assert page.status_code == 200 and 'hx-post="/t/shop/marketing/segments/builder"' in page.text
    form = {
        "name": "Gold",
        "match": "all",
        "g0_match": "all",
        "g0_r0_field": "contact.custom.tier",
        "g0_r0_op": "is",
        "g0_r0_value": "gold",
    }
    count = post_form(
        owner, "/t/shop/marketing/segments/count", form, page="/t/shop/marketing/segments/new"
    )
    assert count.status_code == 200 and "<strong>1</strong> contacts match now." in count.text
    grown = post_form(
        owner,
        "/t/shop/marketing/segments/builder",
        {**form, "action": "add_rule:0"},
        page="/t/shop/marketing/segments/new",
    )
    assert 'name="g0_r1_field"' in grown.text and 'id="builder"' in grown.text
    clash = {
        **form,
        "g0_r1_field": "contact.custom.tier",
        "g0_r1_op": "is",
        "g0_r1_value": "silver",
    }
    count = post_form(
        owner, "/t/shop/marketing/segments/count", clash, page="/t/shop/marketing/segments/new"
    )
    assert "can never match" in count.text and "Tier" in count.text
    refused = post_form(owner, "/t/shop/marketing/segments/new", {**clash, "action": "save"})
    assert refused.status_code == 400 and "can never match" in refused.text
    saved = post_form(owner, "/t/shop/marketing/segments/new", {**form, "action": "save"})
    assert saved.status_code == 302
    run_jobs(app)
    detail = owner.get(saved.headers["Location"]).text
    assert "Ann" in detail and "Bob" not in detail and "Tier" in detail


def test_order_aggregates_of_a_group_share_one_grouped_pass(app, shop, people) -> None:
    both = one(rule("orders.count", "gte", 2), rule("orders.total", "gt", 100))
    assert names(app, shop, both) == {"Ann"}
    assert names(
        app, shop, one(rule("orders.count", "gte", 1), rule("orders.total", "gt", 20))
    ) == {"Ann"}
    assert names(
        app, shop, one(rule("orders.count", "gte", 2), rule("orders.total", "gt", 10), match="any")
    ) == {"Ann", "Cy"}
    # a rule customers without orders meet too keeps its own anti-join
    assert names(
        app, shop, one(rule("orders.count", "gte", 1), rule("orders.total", "lt", 100))
    ) == {"Cy"}
    assert names(
        app, shop, one(rule("orders.count", "gte", 2), rule("orders.total", "lt", 20), match="any")
    ) == {"Ann", "Bob", "Cy", "Dee"}
    mixed = one(
        rule("contact.lifecycle_stage", "is", "customer"),
        rule("orders.count", "gte", 1),
        rule("orders.total", "gt", 20),
    )
    assert names(app, shop, mixed) == {"Ann"}
    with in_tenant(app, shop):
        sql = str(members_query(clean_definition(both))).upper()
    assert sql.count("GROUP BY") == 1
