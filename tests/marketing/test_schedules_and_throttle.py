"""The module's periodic jobs are scheduled (dispatcher, segment refreshes, scores), a
segment is refreshed by the schedule only once its period has passed, a segment count is
one SQL statement, and a campaign's ``rate_per_minute`` throttles its sending."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from conftest import in_tenant
from helpers_marketing import add_contact, add_order, tagged
from helpers_sql import counted
from sqlalchemy import func, select

from crm_platform.schedules import enqueue_due_schedules
from crm_platform.sdk import utcnow
from crm_platform.testing import run_jobs
from plugins.marketing.campaigns import create_campaign, start_campaign
from plugins.marketing.models import Campaign, CustomerScore, Segment, SegmentMember
from plugins.marketing.segment_compiler import clean_definition, count_members
from plugins.marketing.segments import create_segment, refresh_segment

SCHEDULES = {"marketing.dispatch", "marketing.refresh_segments", "marketing.scores"}


def _scheduled(app: Any) -> dict[str, Any]:
    """Queue every schedule now (as the scheduler does when they are due) and run the
    marketing jobs; their return values by job function name."""
    queued = enqueue_due_schedules(app, force=True)
    assert set(queued) >= SCHEDULES, queued
    assert all(queued[name] == 1 for name in SCHEDULES), queued  # one tenant has Marketing
    done = [j for j in run_jobs(app) if j.meta.get("module") == "marketing"]
    return {j.meta["func"].rsplit(":", 1)[-1]: j.return_value() for j in done}


def _members(app: Any, shop: Any, segment_id: uuid.UUID) -> int:
    with in_tenant(app, shop) as session:
        stmt = select(func.count()).where(SegmentMember.segment_id == segment_id)
        return int(session.scalar(stmt) or 0)


def test_periodic_jobs_are_scheduled_and_refresh_only_due_segments(app, shop) -> None:
    add_contact(app, shop, first_name="Ann", email="ann@x.example", tags=["news"])
    with in_tenant(app, shop) as session:
        daily = create_segment({"name": "Daily", "definition": tagged("news")})
        never = create_segment(
            {"name": "By hand", "definition": tagged("news"), "refresh_hours": 0}
        )
        refresh_segment(daily)
        session.commit()
        daily_id, never_id = daily.id, never.id
    run_jobs(app)  # the refreshes queued when the segments were made
    assert _members(app, shop, daily_id) == 1
    add_contact(app, shop, first_name="Bob", email="bob@x.example", tags=["news"])
    add_order(app, shop, add_contact(app, shop, first_name="Cy", tags=["x"]), "50")

    results = _scheduled(app)
    assert results["refresh_due_segments"] == 0  # refreshed a moment ago: not due
    assert _members(app, shop, daily_id) == 1
    assert results["recompute_scores_job"] == 1  # Cy has an order
    assert set(results["dispatch"]) >= {"started", "resumed", "steps"}

    with in_tenant(app, shop) as session:  # a day later
        found = session.get(Segment, (shop.id, daily_id))
        found.refreshed_at = utcnow() - timedelta(hours=25)
        session.commit()
    results = _scheduled(app)
    assert results["refresh_due_segments"] == 1  # only the daily one; never the by-hand one
    assert _members(app, shop, daily_id) == 2
    assert _members(app, shop, never_id) == 1  # as its own first refresh left it
    with in_tenant(app, shop) as session:
        assert session.get(Segment, (shop.id, daily_id)).member_count == 2
        assert session.scalar(select(func.count()).select_from(CustomerScore)) == 1


def test_a_segment_count_is_one_sql_statement(app, shop) -> None:
    add_contact(app, shop, first_name="Ann", email="ann@x.example", tags=["vip"])
    definition = {
        "match": "any",
        "groups": [
            {
                "match": "all",
                "rules": [
                    {"field": "contact.tag", "op": "has", "value": "vip"},
                    {"field": "contact.lifecycle_stage", "op": "is", "value": "lead"},
                ],
            },
            {
                "match": "any",
                "rules": [
                    {"field": "orders.count", "op": "gte", "value": 2},
                    {"field": "contact.first_name", "op": "contains", "value": "an"},
                ],
            },
        ],
    }
    with in_tenant(app, shop), counted(app) as statements:
        assert count_members(clean_definition(definition)) == 1
    counts = [s for s in statements if "count(" in s.lower()]
    assert len(counts) == 1, statements
    assert "orders" in counts[0] and "contacts" in counts[0]  # filtered in SQL, not Python


def test_rate_per_minute_throttles_the_send(app, shop, smtp) -> None:
    for i in range(4):
        add_contact(app, shop, first_name=f"T{i}", email=f"t{i}@x.example", tags=["slow"])
    arrivals: list[float] = []
    smtp.on_rcpt = lambda address: arrivals.append(time.monotonic())
    with in_tenant(app, shop) as session:
        segment = create_segment({"name": "Slow", "definition": tagged("slow")})
        # two lanes at 300 a minute: each lane waits 0.4 s between its messages
        found = create_campaign(
            {
                "name": "Gentle",
                "segment_id": str(segment.id),
                "subject": "Hi {{ contact.first_name }}",
                "body_html": "<p>Hello</p>",
                "rate_per_minute": "300",
            }
        )
        session.flush()
        start_campaign(found)
        session.commit()
        campaign_id = found.id
    run_jobs(app)  # the lanes run one after the other here
    assert sorted(smtp.per_recipient().values()) == [1, 1, 1, 1]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert len(gaps) == 3 and min(gaps) >= 0.35, gaps
    with in_tenant(app, shop) as session:
        assert session.get(Campaign, (shop.id, campaign_id)).status == "sent"
