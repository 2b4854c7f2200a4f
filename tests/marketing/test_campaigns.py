"""E-mail campaigns end to end on a real local SMTP server: merge fields and preview, A/B
subjects, the suppression list, unsubscribe and preferences links, opens and clicks,
bounces, the SMTP server going away mid-send, metering, events, scheduling, effectiveness."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pluggy
import pytest
from conftest import csrf_token_from, in_tenant
from helpers_marketing import add_contact, add_order, links_in, local, tagged
from helpers_records import Recorder, app_with, dispose
from helpers_web import post_form
from sqlalchemy import func, select, update

from crm_platform.provisioning import ValidationFailed
from crm_platform.sdk import emit_event, utcnow
from crm_platform.testing import run_jobs
from plugins.marketing.campaigns import create_campaign, decide_ab, start_campaign
from plugins.marketing.models import Campaign, Message, Suppression
from plugins.marketing.segments import create_segment

hookimpl = pluggy.HookimplMarker("crm")
BODY = (
    '<p>Hi {{ contact.first_name }} of {{ account.name }},</p><p><a href="https://shop.example/sale">'
    'Sale</a></p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


class Meter:
    """A test plugin that keeps metered usage (what billing stores)."""

    crm_plugin_name = "test-meter"

    def __init__(self) -> None:
        self.usage: list[tuple[str, int]] = []

    @hookimpl
    def crm_usage_recorded(self, tenant: Any, metric: str, quantity: int, idempotency_key: Any):
        self.usage.append((metric, quantity))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def meter() -> Meter:
    return Meter()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], recorder: Recorder, meter: Meter) -> Any:
    application = app_with(app_config, recorder, meter)
    yield application
    dispose(application)


def audience(app: Any, shop: Any, n: int = 4) -> list[str]:
    return [
        add_contact(app, shop, first_name=f"P{i}", email=f"p{i}@x.example", tags=["news"])
        for i in range(n)
    ]


def campaign(app: Any, shop: Any, **extra: Any) -> str:
    with in_tenant(app, shop) as session:
        segment = create_segment(
            {"name": f"News {uuid.uuid4().hex[:6]}", "definition": tagged("news")}
        )
        found = create_campaign(
            {
                "name": "Spring sale",
                "segment_id": str(segment.id),
                "subject": "Spring for {{ contact.first_name }}",
                "body_html": BODY,
                "cost": "100",
                **extra,
            }
        )
        session.commit()
        return str(found.id)


def start(app: Any, shop: Any, campaign_id: str) -> None:
    with in_tenant(app, shop) as session:
        start_campaign(session.get(Campaign, (shop.id, uuid.UUID(campaign_id))))
        session.commit()


def statuses(app: Any, shop: Any, campaign_id: str) -> dict[str, int]:
    with in_tenant(app, shop) as session:
        rows = session.execute(
            select(Message.status, func.count())
            .where(Message.campaign_id == uuid.UUID(campaign_id))
            .group_by(Message.status)
        ).all()
        return {s: int(n) for s, n in rows}


def test_unknown_merge_field_is_refused_naming_it(app, owner, shop) -> None:
    data = {
        "name": "Oops",
        "channel": "email",
        "subject": "Hi {{ contact.firstname }}",
        "body_html": "<p>{{ contact.custom.shoe_size }} {{ coupon }}</p>",
    }
    response = post_form(owner, "/t/shop/marketing/campaigns/new", data)
    assert response.status_code == 400
    assert "Unknown merge field: {{ contact.firstname }}" in response.text
    assert "{{ contact.custom.shoe_size }}" in response.text and "{{ coupon }}" in response.text
    broken = post_form(
        owner, "/t/shop/marketing/campaigns/new", {**data, "subject": "Hi", "body_html": "{% if %}"}
    )
    assert broken.status_code == 400 and "The template has an error on line 1" in broken.text
    with in_tenant(app, shop) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0
        with pytest.raises(ValidationFailed) as caught:
            create_campaign({"name": "X", "body_html": "{{ contact.__class__ }}"})
        assert "contact.__class__" in caught.value.errors["body_html"]


def test_send_to_segment_exactly_once_with_merge_fields_and_tracking(
    app, owner, shop, smtp, recorder, meter
) -> None:
    people = audience(app, shop)
    campaign_id = campaign(app, shop)
    preview = owner.get(f"/t/shop/marketing/campaigns/{campaign_id}/preview").text
    assert "Spring for P0" in preview
    sent = post_form(
        owner,
        f"/t/shop/marketing/campaigns/{campaign_id}/send",
        page=f"/t/shop/marketing/campaigns/{campaign_id}",
    )
    assert sent.status_code == 303
    run_jobs(app)
    assert sorted(smtp.per_recipient().items()) == [(f"p{i}@x.example", 1) for i in range(4)]
    mail = smtp.to("p2@x.example")[0]
    assert mail.message["Subject"] == "Spring for P2"
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hi P2 of ," in mail.html and "Sale" in mail.text
    assert len({m.message_id for m in smtp.received}) == 4
    assert statuses(app, shop, campaign_id) == {"sent": 4}
    assert [name for name in recorder.names() if name == "campaign.sent"] == ["campaign.sent"]
    assert sum(q for metric, q in meter.usage if metric == "marketing_emails") == 4
    # open pixel and click redirect, signed
    pixel = next(src for src in __import__("re").findall(r'src="([^"]+)"', mail.html))
    assert owner.get(local(pixel)).mimetype == "image/gif"
    click = next(link for link in links_in(mail.html) if "/marketing/c/" in link)
    response = owner.get(local(click))
    assert (
        response.status_code == 302 and response.headers["Location"] == "https://shop.example/sale"
    )
    assert owner.get(local(click)[:-3] + "abc").status_code == 404
    with in_tenant(app, shop) as session:
        row = session.scalars(select(Message).where(Message.email == "p2@x.example")).one()
        assert row.opened_at and row.clicked_at and row.click_count == 1 and row.open_count == 1
        assert row.message_id == mail.message_id
    report = owner.get(f"/t/shop/marketing/campaigns/{campaign_id}").text
    assert "25.0%" in report  # one of four opened and clicked
    # nothing is sent twice when the lanes run again
    with in_tenant(app, shop) as session:
        from plugins.marketing.campaigns import queue_lanes

        found = session.get(Campaign, (shop.id, uuid.UUID(campaign_id)))
        found.status = "sending"
        queue_lanes(found)
        session.commit()
    run_jobs(app)
    assert len(smtp.received) == 4
    assert people


def test_suppressed_addresses_are_never_sent(app, shop, smtp) -> None:
    audience(app, shop)
    with in_tenant(app, shop) as session:
        session.add(Suppression(email="p1@x.example", scope="all", reason="manual"))
        session.add(Suppression(email="p2@x.example", scope="promotions", reason="unsubscribed"))
        session.commit()
    promo = campaign(app, shop, topic="promotions")
    start(app, shop, promo)
    with in_tenant(app, shop) as session:  # suppressed after the list was made: still honoured
        session.add(Suppression(email="p3@x.example", scope="all", reason="unsubscribed"))
        session.commit()
    run_jobs(app)
    assert set(smtp.per_recipient()) == {"p0@x.example"}
    assert statuses(app, shop, promo) == {"sent": 1, "suppressed": 3}


def test_unsubscribe_links_one_click_tampering_and_preferences(app, owner, shop, smtp, recorder):
    audience(app, shop, 2)
    campaign_id = campaign(app, shop)
    start(app, shop, campaign_id)
    run_jobs(app)
    mail = smtp.to("p0@x.example")[0]
    unsubscribe = local(next(link for link in links_in(mail.html) if "/marketing/u/" in link))
    visitor = app.test_client()
    page = visitor.get(unsubscribe)
    assert page.status_code == 200 and "p0@x.example" in page.text
    assert visitor.get(unsubscribe[:-4] + "abcd").status_code == 400  # tampered
    assert visitor.post(unsubscribe[:-4] + "abcd/one-click").status_code == 400
    token = csrf_token_from(page.text)
    done = visitor.post(unsubscribe, data={"csrf_token": token})
    assert done.status_code == 200 and "gets no more marketing e-mail" in done.text
    events = recorder.of("contact.unsubscribed")
    assert [data["email"] for _, data in events] == ["p0@x.example"]
    visitor.post(unsubscribe, data={"csrf_token": token})  # again: no second event
    assert len(recorder.of("contact.unsubscribed")) == 1
    other = local(str(smtp.to("p1@x.example")[0].message["List-Unsubscribe"]).strip("<>"))
    assert visitor.post(other + "/one-click", data="List-Unsubscribe=One-Click").status_code == 200
    with in_tenant(app, shop) as session:
        assert set(session.scalars(select(Suppression.email))) == {"p0@x.example", "p1@x.example"}
        assert session.scalar(select(func.count()).where(Message.unsubscribed_at.is_not(None))) == 2
    # preferences: back on for one topic
    prefs = local(next(link for link in links_in(mail.html) if "/marketing/u/" in link)).replace(
        "/marketing/u/", "/marketing/p/"
    )
    assert visitor.get(prefs).status_code == 400  # an unsubscribe token is not a preferences one


def test_preferences_page_sets_topics(app, shop) -> None:
    contact = add_contact(app, shop, first_name="Pat", email="pat@x.example")
    with app.test_request_context(), in_tenant(app, shop):
        from plugins.marketing.tracking import preferences_url

        url = local(preferences_url("pat@x.example", contact))
    visitor = app.test_client()
    page = visitor.get(url)
    assert page.status_code == 200 and 'value="promotions" checked' in page.text
    saved = post_form(visitor, url, {"topic": ["newsletter", "events"]}, page=url)
    assert saved.status_code == 200 and "saved" in saved.text
    with in_tenant(app, shop) as session:
        assert set(session.scalars(select(Suppression.scope))) == {"promotions"}
    post_form(visitor, url, {"none": "1"}, page=url)
    with in_tenant(app, shop) as session:
        assert set(session.scalars(select(Suppression.scope))) == {"promotions", "all"}


def test_refused_recipient_bounces_and_is_suppressed(app, shop, smtp) -> None:
    audience(app, shop, 3)
    smtp.refuse["p1@x.example"] = "550 5.1.1 No such user"
    smtp.refuse["p2@x.example"] = "451 4.3.0 Try again later"
    campaign_id = campaign(app, shop)
    start(app, shop, campaign_id)
    run_jobs(app)
    assert set(smtp.per_recipient()) == {"p0@x.example"}
    with in_tenant(app, shop) as session:
        rows = {m.email: m for m in session.scalars(select(Message))}
        assert rows["p1@x.example"].status == "bounced"
        assert rows["p2@x.example"].status == "pending" and "451" in rows["p2@x.example"].error
        entry = session.scalars(select(Suppression)).one()
        assert (entry.email, entry.reason) == ("p1@x.example", "bounced")
        found = session.get(Campaign, (shop.id, uuid.UUID(campaign_id)))
        assert found.status == "sending"  # p2 is waiting for its retry
        session.execute(update(Message).values(lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    del smtp.refuse["p2@x.example"]
    with in_tenant(app, shop) as session:
        from plugins.marketing.campaigns import queue_lanes

        queue_lanes(session.get(Campaign, (shop.id, uuid.UUID(campaign_id))), lanes=1)
        session.commit()
    run_jobs(app)
    assert smtp.per_recipient() == {"p0@x.example": 1, "p2@x.example": 1}
    assert statuses(app, shop, campaign_id) == {"sent": 2, "bounced": 1}


def test_bounce_report_marks_the_message(app, owner, shop, smtp) -> None:
    audience(app, shop, 1)
    campaign_id = campaign(app, shop)
    start(app, shop, campaign_id)
    run_jobs(app)
    original = smtp.received[0].message_id
    dsn = (
        "From: MAILER-DAEMON@mx.example\r\nTo: news@shop.example\r\nSubject: Undelivered\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n'
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        "Final-Recipient: rfc822; p0@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 no mailbox\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original}\r\nSubject: Spring\r\n\r\n--b--\r\n"
    )
    response = post_form(
        owner,
        "/t/shop/marketing/suppression/bounces",
        {"raw": dsn},
        page="/t/shop/marketing/suppression",
    )
    assert response.status_code == 303
    with in_tenant(app, shop) as session:
        row = session.scalars(select(Message)).one()
        assert row.status == "bounced" and row.bounced_at is not None and "5.1.1" in row.error
        assert session.scalars(select(Suppression.reason)).one() == "bounced"
    junk = post_form(
        owner,
        "/t/shop/marketing/suppression/bounces",
        {"raw": "hello"},
        page="/t/shop/marketing/suppression",
    )
    assert "not a delivery status notification" in owner.get(junk.headers["Location"]).text


def test_smtp_server_down_mid_send_resumes_without_duplicates(app, shop, smtp) -> None:
    audience(app, shop, 6)
    campaign_id = campaign(app, shop)
    seen: list[str] = []

    def stop_after_three(address: str) -> None:
        seen.append(address)
        if len(seen) == 4:
            smtp.controller.loop.call_soon_threadsafe(smtp.controller.server.close)
            raise ConnectionResetError("server going down")

    smtp.on_rcpt = stop_after_three
    start(app, shop, campaign_id)
    jobs = run_jobs(app)
    assert any(job.is_failed or job.get_status() in ("scheduled", "queued") for job in jobs)
    got = smtp.per_recipient()
    assert len(got) == 3 and set(got.values()) == {1}
    smtp.stop()
    smtp.on_rcpt = None
    smtp.start()
    run_jobs(app)  # the lane's retry (same token) resumes
    with in_tenant(app, shop) as session:
        from plugins.marketing.jobs import dispatch

        session.execute(update(Campaign).values(progress_at=utcnow() - timedelta(hours=1)))
        session.commit()
        dispatch()  # and the dispatcher resumes a lane whose retries ran out
        session.commit()
    run_jobs(app)
    assert sorted(smtp.per_recipient().values()) == [1] * 6
    assert statuses(app, shop, campaign_id) == {"sent": 6}


def test_ab_subjects_then_winner_to_the_rest(app, shop, smtp) -> None:
    audience(app, shop, 10)
    campaign_id = campaign(
        app,
        shop,
        subject_b="Last chance, {{ contact.first_name }}",
        ab_test_percent="40",
        ab_wait_hours="2",
    )
    start(app, shop, campaign_id)
    run_jobs(app)
    subjects = sorted(str(m.message["Subject"]).split()[0] for m in smtp.received)
    assert subjects == ["Last", "Last", "Spring", "Spring"]
    assert statuses(app, shop, campaign_id) == {"sent": 4, "held": 6}
    with in_tenant(app, shop) as session:
        found = session.get(Campaign, (shop.id, uuid.UUID(campaign_id)))
        assert decide_ab(found) is None  # too early
        session.execute(update(Message).where(Message.variant == "b").values(opened_at=utcnow()))
        assert decide_ab(found, utcnow() + timedelta(hours=3)) == "b"
        session.commit()
    run_jobs(app)
    assert len(smtp.received) == 10 and statuses(app, shop, campaign_id) == {"sent": 10}
    assert sum(str(m.message["Subject"]).startswith("Last") for m in smtp.received) == 8


def test_scheduled_campaign_starts_from_the_dispatcher(app, owner, shop, smtp) -> None:
    audience(app, shop, 2)
    campaign_id = campaign(app, shop)
    page = f"/t/shop/marketing/campaigns/{campaign_id}"
    past = post_form(owner, page + "/schedule", {"scheduled_at": "2020-01-01T10:00"}, page=page)
    assert "Choose a time in the future." in owner.get(past.headers["Location"]).text
    future = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    post_form(owner, page + "/schedule", {"scheduled_at": future}, page=page)
    from crm_platform.schedules import enqueue_due_schedules

    enqueue_due_schedules(app, force=True)
    run_jobs(app)
    assert smtp.received == []
    with in_tenant(app, shop) as session:
        session.execute(update(Campaign).values(scheduled_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    enqueue_due_schedules(app, force=True)
    run_jobs(app)
    run_jobs(app)
    assert len(smtp.received) == 2


def test_outbox_without_smtp_and_effectiveness_with_conversions(app, owner, shop) -> None:
    people = audience(app, shop, 4)
    campaign_id = campaign(app, shop)
    start(app, shop, campaign_id)
    run_jobs(app)
    outbox = owner.get("/outbox").text
    assert "p3@x.example" in outbox and "Spring for P3" in outbox
    add_order(app, shop, people[0], "250")
    add_order(app, shop, people[1], "80", status="cancelled")
    with in_tenant(app, shop):
        emit_event(
            "deal.won",
            record_id=uuid.uuid4(),
            data={"contact_id": people[2], "amount": "1000", "currency": "USD"},
        )
        from crm_platform.extensions import db

        db.session.commit()
    response = owner.get(f"/api/v1/campaigns/{campaign_id}")  # no key: 401
    assert response.status_code == 401
    from plugins.marketing.analytics import effect

    with in_tenant(app, shop) as session:
        result = effect(session.get(Campaign, (shop.id, uuid.UUID(campaign_id))))
    assert (result.sent, result.converted, result.revenue) == (4, 2, Decimal("1250.00"))
    assert result.roi == pytest.approx(11.5)  # (1250 - 100) / 100
    compare = owner.get("/t/shop/marketing/campaigns/compare").text
    assert "Spring sale" in compare and ("1,150%" in compare or "1150%" in compare)


def test_event_campaign_is_recorded_for_analysis(app, owner, shop) -> None:
    people = audience(app, shop, 3)
    data = {"name": "Trade fair", "channel": "event", "cost": "500", "responses": "2"}
    with in_tenant(app, shop) as session:
        segment = create_segment({"name": "All", "definition": tagged("news")})
        found = create_campaign({**data, "segment_id": str(segment.id)})
        session.commit()
        campaign_id = str(found.id)
    recorded = post_form(
        owner,
        f"/t/shop/marketing/campaigns/{campaign_id}/send",
        page=f"/t/shop/marketing/campaigns/{campaign_id}",
    )
    assert recorded.status_code == 303
    assert statuses(app, shop, campaign_id) == {"targeted": 3}
    add_order(app, shop, people[1], "700")
    page = owner.get(f"/t/shop/marketing/campaigns/{campaign_id}").text
    assert "USD 700.00" in page and "40%" in page  # ROI (700 - 500) / 500
    lanes = [j for j in run_jobs(app) if "send_campaign_lane" in j.meta["func"]]
    assert lanes == []  # nothing is e-mailed
