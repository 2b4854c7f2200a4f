"""Two-way sync of one member's meetings and tasks with their CalDAV calendar.

One run (:func:`run_sync`), inside one database transaction:

1. **Server → CRM.** When the calendar's sync-token/ctag moved since the last run, list the
   objects' ETags. An object whose ETag differs from the one kept in its ``SyncItem`` is
   fetched: if its fields differ from the activity's, and the activity did not change in the
   CRM since the last run too, the activity takes them (title, day, time, length, location,
   notes, a task's completion). When both sides changed, **the side modified last wins**: the
   object's ``LAST-MODIFIED`` (else ``DTSTAMP``) against the activity's ``updated_at``; a
   tie goes to the CRM. An object deleted on the server is not deleted in the CRM: its
   activity stops being pushed until it changes in the CRM again. Objects the CRM did not
   make are ignored, unless the connection imports them (events become meetings).
2. **CRM → server.** Each meeting and task the member owns (due in the last ``PAST_DAYS``
   days or later, and open undated tasks) is put as a VEVENT / VTODO with the stable UID
   ``crm-<activity id>@crm-platform`` when its fields' hash differs from the kept one, with
   ``If-Match`` on the kept ETag (``If-None-Match: *`` for a new one).
3. **Deletions.** An activity deleted, given to another member or turned into another kind
   is deleted on the server.

A run that changes nothing on either side writes nothing but the connection's status. Any
server failure raises :class:`CalDAVError`: the job rolls the whole run back, records the
error on the connection, and (for a transient failure) lets the job wrapper retry; objects
already put by the failed run are found again by their fixed href on the next run.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm_platform.sdk import Activity, db, job, parse_uuid, unseal, utcnow

from .caldav import CalDAVClient, CalDAVError, PreconditionFailed, check_url
from .ical import Fields, aware, parse, to_ical
from .models import Connection, EventDetail, SyncItem

#: The purpose the CalDAV passwords are sealed for (``crm_platform.sdk.seal``).
CREDENTIALS = "calendar"

log = logging.getLogger(__name__)

#: Activity kinds that go to the calendar: meetings as events, tasks as to-dos.
SYNCED_KINDS = ("meeting", "task")
#: How far back a meeting or task is still put on the calendar.
PAST_DAYS = 30
UID_DOMAIN = "crm-platform"


def uid_of(activity_id: uuid.UUID) -> str:
    """The stable iCalendar UID of an activity."""
    return f"crm-{activity_id}@{UID_DOMAIN}"


def fields_of(activity: Activity, detail: EventDetail | None) -> Fields:
    """The calendar fields of an activity (and its calendar details)."""
    task = activity.kind == "task"
    return Fields(
        kind="task" if task else "meeting",
        subject=activity.subject,
        body=activity.body or "",
        due_date=activity.due_date,
        start_time=None if task or detail is None else detail.start_time,
        duration_minutes=None if task or detail is None else detail.duration_minutes,
        location=(detail.location or "") if detail else "",
        done=bool(activity.done) if task else False,
    )


def apply_fields(
    activity: Activity, detail: EventDetail | None, fields: Fields
) -> EventDetail | None:
    """Copy ``fields`` read from the server onto the activity; the (new) calendar details."""
    activity.subject = fields.subject
    activity.body = fields.body or None
    if fields.due_date is not None or activity.kind == "task":
        activity.due_date = fields.due_date
    if activity.kind == "task" and bool(activity.done) != fields.done:
        activity.done = fields.done
        activity.done_at = utcnow() if fields.done else None
    wants = bool(fields.start_time or fields.location or fields.duration_minutes)
    if detail is None and wants:
        detail = EventDetail(activity_id=activity.id)
        db.session.add(detail)
    if detail is not None:
        if activity.kind != "task":
            detail.start_time = fields.start_time
            detail.duration_minutes = fields.duration_minutes if fields.start_time else None
        detail.location = fields.location or None
    return detail


def details_of(activity_ids: set[uuid.UUID]) -> dict[uuid.UUID, EventDetail]:
    """Calendar details of these activities, by activity id."""
    if not activity_ids:
        return {}
    rows = db.session.scalars(select(EventDetail).where(EventDetail.activity_id.in_(activity_ids)))
    return {row.activity_id: row for row in rows}


def planned(
    user_id: uuid.UUID, *, past_days: int = PAST_DAYS, ahead_days: int | None = None
) -> list[Activity]:
    """Meetings and tasks of ``user_id`` due from ``past_days`` ago (up to ``ahead_days``
    ahead), and their open undated tasks."""
    today = utcnow().date()
    dated = Activity.due_date >= today - timedelta(days=past_days)
    if ahead_days is not None:
        dated = dated & (Activity.due_date <= today + timedelta(days=ahead_days))
    stmt = (
        select(Activity)
        .where(
            Activity.owner_id == user_id,
            Activity.kind.in_(SYNCED_KINDS),
            or_(
                dated,
                (Activity.kind == "task") & Activity.due_date.is_(None) & Activity.done.is_(False),
            ),
        )
        .order_by(Activity.due_date, Activity.created_at)
    )
    return list(db.session.execute(stmt).unique().scalars())


def client_for(conn: Connection, *, timeout: float | None = None) -> CalDAVClient:
    """A CalDAV client with the connection's credentials."""
    password = unseal(conn.secret, purpose=CREDENTIALS)
    if password is None:
        raise CalDAVError(_("The stored password can no longer be read: enter it again."))
    timeout = timeout or float(current_app.config.get("CALENDAR_TIMEOUT", 15))
    allow = bool(current_app.config.get("CALENDAR_ALLOW_PRIVATE_HOSTS"))
    url = check_url(conn.server_url, allow_private=allow)  # again: DNS may have changed
    if urlparse(conn.calendar_url or url).netloc != urlparse(url).netloc:
        raise CalDAVError(_("The calendar is not on the connection's server: choose it again."))
    return CalDAVClient(url, conn.username, password, timeout=timeout)


def _remote_newer(remote_modified: Any, activity: Activity) -> bool:
    local = aware(activity.updated_at)
    return remote_modified is not None and local is not None and remote_modified > local


def _put_new(client: CalDAVClient, path: str, ical: str) -> str | None:
    """Create an object at ``path``; when one is there already (left by a run that failed
    before it could record it), overwrite that one (it is ours: the href is the activity's)."""
    try:
        return client.put(path, ical, create=True)
    except PreconditionFailed:
        etag, _text = client.get(path)
        return client.put(path, ical, etag=etag or None)


def run_sync(conn: Connection) -> dict[str, int]:
    """Sync ``conn`` both ways (see the module docstring); counts of what was done."""
    counts: Counter[str] = Counter()
    calendar_url = conn.calendar_url or ""
    with client_for(conn) as client:
        folder = client.path(calendar_url).rstrip("/") + "/"
        ctag = client.ctag(calendar_url)
        items = list(db.session.scalars(select(SyncItem).where(SyncItem.connection_id == conn.id)))
        by_href = {item.href: item for item in items}
        by_activity = {item.activity_id: item for item in items if item.activity_id}
        candidates = planned(conn.user_id)
        activities = {a.id: a for a in candidates}
        others = set(by_activity) - set(activities)
        if others:
            stmt = select(Activity).where(Activity.id.in_(others))
            activities.update({a.id: a for a in db.session.execute(stmt).unique().scalars()})
        details = details_of(set(activities))
        forced: set[uuid.UUID] = set()
        dropped: set[uuid.UUID] = set()
        wrote = False

        # 1. Server -> CRM --------------------------------------------------------
        if ctag is None or ctag != conn.ctag:
            listing = client.etags(calendar_url)
            changed = [
                href
                for href, item in by_href.items()
                if item.state == "synced" and href in listing and listing[href] != (item.etag or "")
            ]
            gone = [i for h, i in by_href.items() if i.state == "synced" and h not in listing]
            new = [h for h in listing if h not in by_href] if conn.import_new else []
            fetched = client.multiget(calendar_url, changed + new) if changed or new else {}
            for item in gone:
                activity = activities.get(item.activity_id) if item.activity_id else None
                if activity is None:
                    db.session.delete(item)
                    dropped.add(item.id)
                    continue
                item.state = "remote_deleted"
                item.etag = None
                item.crm_hash = fields_of(activity, details.get(activity.id)).digest()
                counts["deleted_on_server"] += 1
            for href in changed:
                item = by_href[href]
                activity = activities.get(item.activity_id) if item.activity_id else None
                if href not in fetched or activity is None:
                    continue  # vanished meanwhile (next run) or deleted in the CRM (step 3)
                etag, text = fetched[href]
                remote = parse(text)
                if remote is None:
                    continue
                local = fields_of(activity, details.get(activity.id))
                if remote.fields == local:
                    item.etag, item.crm_hash = etag, local.digest()
                    continue
                crm_changed = local.digest() != item.crm_hash
                if crm_changed:
                    counts["conflicts"] += 1
                    if not _remote_newer(remote.modified, activity):
                        item.etag = etag
                        forced.add(activity.id)
                        continue
                details[activity.id] = apply_fields(
                    activity, details.get(activity.id), remote.fields
                )
                item.etag = etag
                item.crm_hash = fields_of(activity, details[activity.id]).digest()
                item.synced_at = utcnow()
                counts["pulled"] += 1
            for href in new:
                counts["imported"] += _import(conn, href, fetched.get(href))

        # 2. CRM -> server --------------------------------------------------------
        for activity in candidates:
            local = fields_of(activity, details.get(activity.id))
            digest = local.digest()
            item = by_activity.get(activity.id)
            if item is not None and item.id in dropped:
                item = None
            if item is None:
                path = f"{folder}crm-{activity.id}.ics"
                ical = to_ical(uid_of(activity.id), local, activity.updated_at)
                etag = _put_new(client, path, ical)
                db.session.add(
                    SyncItem(
                        connection_id=conn.id,
                        activity_id=activity.id,
                        uid=uid_of(activity.id),
                        href=path,
                        etag=etag,
                        crm_hash=digest,
                    )
                )
                counts["pushed"] += 1
                wrote = True
            elif item.state == "remote_deleted":
                if digest == item.crm_hash:
                    continue
                ical = to_ical(item.uid, local, activity.updated_at)
                item.etag, item.crm_hash, item.state = (
                    _put_new(client, item.href, ical),
                    digest,
                    "synced",
                )
                item.synced_at = utcnow()
                counts["pushed"] += 1
                wrote = True
            elif item.state == "synced" and (digest != item.crm_hash or activity.id in forced):
                ical = to_ical(item.uid, local, activity.updated_at)
                try:
                    item.etag = client.put(item.href, ical, etag=item.etag)
                except PreconditionFailed:
                    counts["retry_later"] += 1  # changed on the server this very moment
                    continue
                item.crm_hash = digest
                item.synced_at = utcnow()
                counts["updated"] += 1
                wrote = True

        # 3. Deleted, reassigned or no longer a meeting or task -------------------
        for item in items:
            if item.id in dropped or item.activity_id is None:
                continue
            activity = activities.get(item.activity_id)
            if (
                activity is not None
                and activity.owner_id == conn.user_id
                and activity.kind in SYNCED_KINDS
            ):
                continue
            if item.state == "synced":
                client.delete(item.href, etag=item.etag)
                counts["deleted"] += 1
                wrote = True
            db.session.delete(item)

        if conn.ctag != (None if wrote else ctag):
            conn.ctag = None if wrote else ctag
    db.session.flush()
    return {key: value for key, value in counts.items() if value}


def _import(conn: Connection, href: str, got: tuple[str, str] | None) -> int:
    """Make a meeting of a server event the CRM did not create (1), or remember to ignore
    the object (0)."""
    if got is None:
        return 0
    etag, text = got
    remote = parse(text)
    importable = (
        remote is not None
        and remote.fields.kind == "meeting"
        and not remote.uid.endswith(f"@{UID_DOMAIN}")
    )
    if not importable or remote is None:
        db.session.add(
            SyncItem(
                connection_id=conn.id,
                uid=(remote.uid if remote else "")[:255],
                href=href,
                etag=etag,
                state="ignored",
            )
        )
        return 0
    activity = Activity(
        kind="meeting",
        subject=remote.fields.subject,
        owner_id=conn.user_id,
        created_by_id=conn.user_id,
        done=False,
    )
    db.session.add(activity)
    db.session.flush()
    detail = apply_fields(activity, None, remote.fields)
    db.session.add(
        SyncItem(
            connection_id=conn.id,
            activity_id=activity.id,
            uid=remote.uid[:255],
            href=href,
            etag=etag,
            crm_hash=fields_of(activity, detail).digest(),
        )
    )
    return 1


def _record_failure(connection_id: uuid.UUID, message: str) -> None:
    conn = db.session.scalars(select(Connection).where(Connection.id == connection_id)).first()
    if conn is None:
        return
    now = utcnow()
    conn.status = "error"
    conn.last_error = message
    conn.last_attempt_at = now
    conn.ctag = None  # list everything again next time
    db.session.commit()


@job(retries=3, timeout=600)
def sync_connection(connection_id: str) -> dict[str, Any]:
    """Sync one connection (a job: queued by "Sync now", the schedule and new activities).

    A server failure rolls the run back and is recorded on the connection; transient ones
    (down, timeout, 5xx) are raised again so that the job wrapper retries with backoff,
    others (wrong password, no access) wait for the member to fix the settings.
    """
    cid = parse_uuid(connection_id)
    stmt = select(Connection).where(Connection.id == cid).with_for_update(skip_locked=True)
    conn = db.session.scalars(stmt).first() if cid else None
    if conn is None:
        return {"skipped": "no such connection, or a sync of it is running"}
    if not conn.calendar_url:
        return {"skipped": "no calendar chosen"}
    started = utcnow()
    try:
        counts = run_sync(conn)
    except CalDAVError as exc:
        db.session.rollback()
        _record_failure(cid, exc.message)
        log.info("calendar sync %s failed: %s", cid, exc.message)
        if exc.transient:
            raise
        return {"error": exc.message}
    except Exception:
        db.session.rollback()
        _record_failure(cid, _("Unexpected error during the sync; it will be tried again."))
        raise
    conn.status = "ok"
    conn.last_error = None
    conn.last_result = counts
    conn.last_attempt_at = started
    conn.last_sync_at = started
    return counts


@job(retries=0, timeout=120)
def sync_due() -> dict[str, int]:
    """Queue a sync of each connection of the workspace whose interval has passed."""
    now = utcnow()
    queued = 0
    stmt = select(Connection).where(
        Connection.enabled.is_(True), Connection.calendar_url.is_not(None)
    )
    for conn in db.session.scalars(stmt):
        last = aware(conn.last_attempt_at)
        if last is not None and now - last < timedelta(minutes=conn.interval_minutes or 15):
            continue
        conn.last_attempt_at = now
        sync_connection.enqueue_after_commit(str(conn.id))
        queued += 1
    return {"queued": queued}


def sync_soon_for(user_id: uuid.UUID | None) -> None:
    """Queue a sync of ``user_id``'s connection after this transaction commits, if ready."""
    if user_id is None:
        return
    conn = db.session.scalars(select(Connection).where(Connection.user_id == user_id)).first()
    if conn is not None and conn.ready and conn.status != "error":
        sync_connection.enqueue_after_commit(str(conn.id))
