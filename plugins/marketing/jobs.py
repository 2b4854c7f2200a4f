"""The module's jobs: sending lanes, the dispatcher, segment refreshes, score recomputes.

Every job runs in its tenant's context (the core's ``@job``) and is idempotent: a retry
resumes where the last attempt stopped.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import db, job, parse_uuid, require_tenant, utcnow

from .models import Campaign, Segment

log = logging.getLogger(__name__)


def _get(model: Any, raw_id: str) -> Any:
    rid = parse_uuid(raw_id)
    return db.session.get(model, (require_tenant().id, rid)) if rid else None


@job(retries=5, timeout=6 * 3600)
def send_campaign_lane(campaign_id: str, owner: str) -> dict[str, int]:
    """One sending lane of a campaign: claim, send, mark until nothing is left (resumable:
    a retry runs with the same ``owner`` token and takes its claimed rows back)."""
    from .campaigns import CampaignLane, finish_if_done

    campaign = _get(Campaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return {"sent": 0}
    total = campaign_size(campaign)
    outcome = CampaignLane(campaign, owner).run(total)
    db.session.refresh(campaign)
    finish_if_done(campaign)
    return {
        "sent": outcome.sent,
        "bounced": outcome.bounced,
        "deferred": outcome.deferred,
        "suppressed": outcome.suppressed,
        "skipped": outcome.skipped,
    }


def campaign_size(campaign: Campaign) -> int:
    """How many rows a campaign sends (for the progress bar)."""
    from sqlalchemy import func

    from .models import Message

    stmt = select(func.count()).where(
        Message.campaign_id == campaign.id, Message.status.not_in(("suppressed", "skipped"))
    )
    return int(db.session.scalar(stmt) or 0)


@job(retries=3, timeout=600)
def dispatch() -> dict[str, int]:
    """Every minute: start scheduled campaigns that are due, decide A/B tests, resume
    stalled sends, advance sequences and send their e-mail."""
    from .campaigns import decide_ab, queue_lanes, stalled, start_campaign
    from .sequences import advance_sequences, send_sequence_messages

    now = utcnow()
    out = {"started": 0, "decided": 0, "resumed": 0, "steps": 0, "sequence_sent": 0}
    due = db.session.scalars(
        select(Campaign).where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
    ).all()
    for campaign in due:
        try:
            start_campaign(campaign)
            db.session.commit()
            out["started"] += 1
        except Exception:  # one broken campaign must not stop the others
            db.session.rollback()
            log.exception("scheduled campaign %s did not start", campaign.id)
    sending = db.session.scalars(select(Campaign).where(Campaign.status == "sending")).all()
    for campaign in sending:
        if decide_ab(campaign, now):
            out["decided"] += 1
        elif stalled(campaign, now):
            queue_lanes(campaign, lanes=1)
            out["resumed"] += 1
        db.session.commit()
    out["steps"] = advance_sequences(now)
    db.session.commit()
    out["sequence_sent"] = send_sequence_messages(f"dispatch-{uuid.uuid4().hex}")
    return out


@job(retries=3, timeout=3600)
def refresh_segment_job(segment_id: str) -> int:
    """Materialise one segment's members now."""
    from .segments import refresh_segment

    segment = _get(Segment, segment_id)
    return refresh_segment(segment) if segment is not None else 0


@job(retries=1, timeout=3600)
def refresh_due_segments() -> int:
    """Refresh every dynamic segment whose refresh period has passed (one commit each)."""
    from .segments import due_segments, refresh_segment

    done = 0
    for segment in due_segments():
        refresh_segment(segment)
        db.session.commit()
        done += 1
    return done


@job(retries=2, timeout=3600)
def recompute_scores_job() -> int:
    """Recompute every customer's RFM score, value tier and lifecycle."""
    from .scoring import recompute_scores

    return recompute_scores()
