"""Read-only iCalendar feeds: one secret URL per member that a calendar app subscribes to.

Only the SHA-256 of the token is stored, so the URL is shown once when made; making a new
one or revoking it kills the old URL (404). The feed holds only the member's own meetings and
tasks in this workspace, and stops when they leave it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select

from crm_platform.sdk import Membership, db

from .ical import calendar, component
from .models import Feed
from .sync import details_of, fields_of, planned, uid_of

#: A feed shows meetings and tasks from this many days ago ...
FEED_PAST_DAYS = 7
#: ... to this many days ahead (and open undated tasks).
FEED_AHEAD_DAYS = 365


def token_hash(token: str) -> str:
    """How a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(user_id: uuid.UUID) -> Feed | None:
    """The member's feed in this workspace, if any."""
    return db.session.scalars(select(Feed).where(Feed.user_id == user_id)).first()


def issue_feed(user_id: uuid.UUID) -> str:
    """A new secret token for the member's feed (the old URL stops working). Caller commits."""
    token = secrets.token_urlsafe(32)
    feed = feed_of(user_id)
    if feed is None:
        db.session.add(Feed(user_id=user_id, token_hash=token_hash(token)))
    else:
        feed.token_hash = token_hash(token)
    return token


def revoke_feed(user_id: uuid.UUID) -> bool:
    """Delete the member's feed; whether there was one. Caller commits."""
    feed = feed_of(user_id)
    if feed is None:
        return False
    db.session.delete(feed)
    return True


def user_of_token(token: str) -> uuid.UUID | None:
    """The member a token belongs to in this workspace (still a member), else ``None``."""
    if not token or len(token) > 200:
        return None
    feed = db.session.scalars(select(Feed).where(Feed.token_hash == token_hash(token))).first()
    if feed is None:
        return None
    member = db.session.scalars(
        select(Membership).where(Membership.user_id == feed.user_id)
    ).first()
    return feed.user_id if member is not None else None


def feed_ical(user_id: uuid.UUID, name: str) -> str:
    """The member's upcoming meetings (VEVENT) and tasks (VTODO) as one VCALENDAR."""
    activities = planned(user_id, past_days=FEED_PAST_DAYS, ahead_days=FEED_AHEAD_DAYS)
    details = details_of({a.id for a in activities})
    comps = [
        component(uid_of(a.id), fields_of(a, details.get(a.id)), a.updated_at) for a in activities
    ]
    return calendar(comps, name=name)
