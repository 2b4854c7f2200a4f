"""Sequences (drip): steps with delays, e-mail and tasks, once each; they stop when the
contact replies, converts (a won deal, an order) or unsubscribes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from conftest import in_tenant
from helpers_marketing import add_contact, add_order
from helpers_web import post_form
from sqlalchemy import func, select

from crm_platform.records.activities import Activity
from crm_platform.sdk import create_activity, emit_event, utcnow
from crm_platform.testing import run_jobs
from plugins.marketing.models import Enrollment, Message, Sequence
from plugins.marketing.sequences import advance_sequences, enroll, save_sequence
from plugins.marketing.suppression import unsubscribe

STEPS = [
    {
        "kind": "email",
        "delay_hours": 0,
        "subject": "Welcome {{ contact.first_name }}",
        "body_html": "<p>Hello</p>",
    },
    {"kind": "task", "delay_hours": 48, "subject": "Call the new customer"},
    {"kind": "email", "delay_hours": 72, "subject": "How is it going?", "body_html": "<p>?</p>"},
]


@pytest.fixture
def drip(app: Any, shop: Any) -> dict[str, Any]:
    people = {
        name: add_contact(app, shop, first_name=name.title(), email=f"{name}@x.example")
        for name in ("ann", "bob", "cy", "dee")
    }
    with in_tenant(app, shop) as session:
        sequence = save_sequence({"name": "Onboarding", "steps": STEPS})
        enroll(sequence, people.values())
        session.commit()
        return {"people": people, "sequence": sequence.id}


def advance(app: Any, shop: Any, hours: float) -> int:
    with in_tenant(app, shop) as session:
        done = advance_sequences(utcnow() + timedelta(hours=hours))
        session.commit()
        return done


def test_steps_run_in_order_once_each(app, shop, smtp, drip) -> None:
    assert advance(app, shop, 0) == 4
    assert advance(app, shop, 1) == 0  # nothing is due twice
    with in_tenant(app, shop) as session:
        from plugins.marketing.sequences import send_sequence_messages

        assert send_sequence_messages("test-lane") == 4
        session.commit()
    assert sorted(str(m.message["Subject"]) for m in smtp.received) == [
        "Welcome Ann",
        "Welcome Bob",
        "Welcome Cy",
        "Welcome Dee",
    ]
    assert advance(app, shop, 47) == 0
    assert advance(app, shop, 49) == 4  # the tasks
    with in_tenant(app, shop) as session:
        tasks = session.scalars(select(Activity).where(Activity.kind == "task")).all()
        assert {t.subject for t in tasks} == {"Call the new customer"} and len(tasks) == 4
    assert advance(app, shop, 49 + 73) == 4
    with in_tenant(app, shop) as session:
        states = set(session.scalars(select(Enrollment.status)))
        assert states == {"completed"}
        assert session.scalar(select(func.count()).select_from(Message)) == 8


def test_reply_conversion_and_unsubscribe_stop_the_sequence(app, shop, drip) -> None:
    people = drip["people"]
    with in_tenant(app, shop) as session:
        create_activity({"kind": "email", "subject": "Re: Welcome", "contact_id": people["ann"]})
        emit_event("deal.won", record_id=uuid.uuid4(), data={"contact_id": people["bob"]})
        unsubscribe("cy@x.example", contact_id=people["cy"])
        session.commit()
    add_order(app, shop, people["dee"], "10")
    with in_tenant(app, shop) as session:
        reasons = dict(session.execute(select(Enrollment.contact_id, Enrollment.stop_reason)).all())
    assert {str(k): v for k, v in reasons.items()} == {
        people["ann"]: "replied",
        people["bob"]: "converted",
        people["cy"]: "unsubscribed",
        people["dee"]: "converted",
    }
    assert advance(app, shop, 500) == 0


def test_sequence_pages_enroll_a_segment_and_stop_one(app, owner, shop) -> None:
    add_contact(app, shop, first_name="Eve", email="eve@x.example", lifecycle_stage="customer")
    form = {
        "name": "Nurture",
        "topic": "newsletter",
        "status": "active",
        "s0_kind": "email",
        "s0_delay_hours": "1",
        "s0_subject": "Hi {{ contact.nickname }}",
        "s0_body_html": "<p>x</p>",
    }
    bad = post_form(owner, "/t/shop/marketing/sequences/new", form)
    assert bad.status_code == 400 and "{{ contact.nickname }}" in bad.text
    form["s0_subject"] = "Hi {{ contact.first_name }}"
    saved = post_form(owner, "/t/shop/marketing/sequences/new", form)
    assert saved.status_code == 302
    page = saved.headers["Location"]
    segment = post_form(
        owner,
        "/t/shop/marketing/segments/new",
        {
            "name": "Customers",
            "match": "all",
            "g0_match": "all",
            "g0_r0_field": "contact.lifecycle_stage",
            "g0_r0_op": "is",
            "g0_r0_value": "customer",
            "action": "save",
        },
    )
    segment_id = segment.headers["Location"].rsplit("/", 1)[1]
    enrolled = post_form(owner, page + "/enroll", {"segment_id": segment_id}, page=page)
    assert enrolled.status_code == 303
    assert "1 contacts enrolled." in owner.get(page).text
    with in_tenant(app, shop) as session:
        enrollment = session.scalars(select(Enrollment)).one()
        sequence = session.scalars(select(Sequence)).one()
    stop = f"/t/shop/marketing/sequences/{sequence.id}/enrollments/{enrollment.id}/stop"
    assert post_form(owner, stop, page=page).status_code == 303
    with in_tenant(app, shop) as session:
        assert session.scalars(select(Enrollment.stop_reason)).one() == "manual"
    run_jobs(app)
