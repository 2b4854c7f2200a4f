"""Two-way sync against a real CalDAV server (Radicale): CRM meetings and tasks go to the
calendar, edits there come back, deletions go out, a sync with no change writes nothing,
and a failing server leaves a clear status and no partial state."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fixtures_calendar import *  # noqa: F403 - the module's fixtures (see its docstring)
from helpers_calendar import activity, connect, settings_url, sync_now
from icalendar import Calendar
from sqlalchemy import select

from crm_platform.sdk import Activity, seal
from crm_platform.testing import in_tenant, post_with_csrf, run_jobs
from plugins.calendar.models import Connection, EventDetail, SyncItem

TOMORROW = datetime.now(UTC).date() + timedelta(days=1)


def _component(text: str) -> Any:
    return next(c for c in Calendar.from_ical(text).walk() if c.name in ("VEVENT", "VTODO"))


def _items(app: Any, tenant: Any) -> dict[str, tuple[Any, ...]]:
    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(SyncItem))
        return {r.href: (r.activity_id, r.etag, r.crm_hash, r.state, r.synced_at) for r in rows}


def _connection(app: Any, tenant: Any, connection_id: Any) -> Connection:
    with in_tenant(app, tenant) as session:
        conn = _get(session, Connection, connection_id)
        session.expunge(conn)
        return conn


def _get(session: Any, model: Any, row_id: Any) -> Any:
    return session.scalars(select(model).where(model.id == row_id)).unique().one()


def _only(jobs: list[Any]) -> Any:
    results = [j.return_value() for j in jobs if j.func_name.endswith("run_job")]
    assert len(results) == 1, results
    return results[0]


def test_meetings_and_tasks_go_to_the_calendar_and_a_second_sync_writes_nothing(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    meeting = activity(app, acme, acme.owner_email, "meeting", "Kick-off at Globex", TOMORROW)
    task = activity(app, acme, acme.owner_email, "task", "Send the proposal", TOMORROW)
    activity(app, acme, acme.owner_email, "note", "A note stays in the CRM", None)
    connection_id = connect(owner, acme, radicale, calendar_url)

    result = _only(run_jobs(app))  # choosing the calendar queued the first sync
    assert result == {"pushed": 2}
    objects = radicale.objects(calendar_url)
    assert len(objects) == 2
    comps = {
        str(_component(radicale.get(p)[1]).get("uid")): _component(radicale.get(p)[1])
        for p in objects
    }
    event = comps[f"crm-{meeting}@crm-platform"]
    assert event.name == "VEVENT" and str(event.get("summary")) == "Kick-off at Globex"
    assert event.decoded("dtstart") == TOMORROW  # all-day: the CRM has no time yet
    todo = comps[f"crm-{task}@crm-platform"]
    assert todo.name == "VTODO" and str(todo.get("status")) == "NEEDS-ACTION"
    conn = _connection(app, acme, connection_id)
    assert conn.status == "ok" and conn.last_error is None and conn.last_sync_at is not None

    before_items, before_objects = _items(app, acme), radicale.objects(calendar_url)
    with in_tenant(app, acme) as session:
        stamps = {a.id: a.updated_at for a in session.scalars(select(Activity))}
    for _ in range(2):  # after our own writes (full listing), then by the unchanged ctag
        assert sync_now(owner, acme, connection_id).status_code == 302
        assert _only(run_jobs(app)) == {}
    assert _items(app, acme) == before_items
    assert radicale.objects(calendar_url) == before_objects
    with in_tenant(app, acme) as session:
        assert {a.id: a.updated_at for a in session.scalars(select(Activity))} == stamps


def test_an_edit_in_the_calendar_comes_back_and_crm_changes_and_deletions_go_out(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    meeting = activity(app, acme, acme.owner_email, "meeting", "Demo", TOMORROW)
    task = activity(app, acme, acme.owner_email, "task", "Call back", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    path = f"{calendar_url.split('127.0.0.1', 1)[1].split('/', 1)[1]}"
    event_path = f"/{path}crm-{meeting}.ics"
    todo_path = f"/{path}crm-{task}.ics"

    # Another calendar app moves the meeting to 14:00-15:30 UTC in room 4, ticks the task.
    later = datetime.now(UTC) + timedelta(minutes=5)
    day = TOMORROW + timedelta(days=2)
    etag, text = radicale.get(event_path)
    edited = (
        text.replace("SUMMARY:Demo", "SUMMARY:Demo (moved)")
        .replace(f"DTSTART;VALUE=DATE:{TOMORROW:%Y%m%d}", f"DTSTART:{day:%Y%m%d}T140000Z")
        .replace(
            f"DTEND;VALUE=DATE:{TOMORROW + timedelta(days=1):%Y%m%d}",
            f"DTEND:{day:%Y%m%d}T153000Z\r\nLOCATION:Room 4",
        )
    )
    edited = _relast_modified(edited, later)
    assert "Room 4" in edited and "T140000Z" in edited
    radicale.put(event_path, edited, etag=etag)
    etag, text = radicale.get(todo_path)
    radicale.put(
        todo_path, _relast_modified(text.replace("NEEDS-ACTION", "COMPLETED"), later), etag=etag
    )

    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"pulled": 2}
    with in_tenant(app, acme) as session:
        row = _get(session, Activity, meeting)
        assert (row.subject, row.due_date) == ("Demo (moved)", day)
        detail = session.scalars(
            select(EventDetail).where(EventDetail.activity_id == meeting)
        ).one()
        assert (detail.start_time, detail.duration_minutes, detail.location) == (
            time(14, 0),
            90,
            "Room 4",
        )
        assert _get(session, Activity, task).done is True
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {}  # what came back is not sent out again

    # A change in the CRM goes out to the same object (same UID, same href).
    with in_tenant(app, acme) as session:
        _get(session, Activity, meeting).subject = "Demo with the CFO"
        session.commit()
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"updated": 1}
    comp = _component(radicale.get(event_path)[1])
    assert str(comp.get("summary")) == "Demo with the CFO"
    assert str(comp.get("uid")) == f"crm-{meeting}@crm-platform"
    assert str(comp.get("location")) == "Room 4"
    assert comp.decoded("dtstart") == datetime.combine(day, time(14, 0), tzinfo=UTC)

    # Deleting the activity deletes the event; its sync state goes too.
    with in_tenant(app, acme) as session:
        session.delete(_get(session, Activity, meeting))
        session.commit()
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"deleted": 1}
    assert event_path not in radicale.objects(calendar_url)
    assert todo_path in radicale.objects(calendar_url)
    assert all(a != meeting for a, *_ in _items(app, acme).values())


def _relast_modified(text: str, when: datetime) -> str:
    lines = [
        line for line in text.splitlines() if not line.startswith(("LAST-MODIFIED", "DTSTAMP"))
    ]
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    at = next(i for i, line in enumerate(lines) if line.startswith("UID"))
    lines[at + 1 : at + 1] = [f"DTSTAMP:{stamp}", f"LAST-MODIFIED:{stamp}"]
    return "\r\n".join(lines) + "\r\n"


def test_both_sides_changed_the_one_modified_last_wins(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    meeting = activity(app, acme, acme.owner_email, "meeting", "Review", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    path = next(iter(radicale.objects(calendar_url)))

    # The server's edit is older than the CRM's: the CRM wins and overwrites it.
    etag, text = radicale.get(path)
    radicale.put(
        path,
        _relast_modified(
            text.replace("SUMMARY:Review", "SUMMARY:Server title"),
            datetime.now(UTC) - timedelta(hours=1),
        ),
        etag=etag,
    )
    with in_tenant(app, acme) as session:
        _get(session, Activity, meeting).subject = "CRM title"
        session.commit()
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"conflicts": 1, "updated": 1}
    assert str(_component(radicale.get(path)[1]).get("summary")) == "CRM title"

    # The server's edit is newer: it wins, the CRM takes it.
    with in_tenant(app, acme) as session:
        _get(session, Activity, meeting).subject = "CRM again"
        session.commit()
    etag, text = radicale.get(path)
    radicale.put(
        path,
        _relast_modified(
            text.replace("SUMMARY:CRM title", "SUMMARY:Server wins"),
            datetime.now(UTC) + timedelta(hours=1),
        ),
        etag=etag,
    )
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"conflicts": 1, "pulled": 1}
    with in_tenant(app, acme) as session:
        assert _get(session, Activity, meeting).subject == "Server wins"
    assert str(_component(radicale.get(path)[1]).get("summary")) == "Server wins"


def test_new_server_events_are_imported_only_when_asked(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    base = "/" + calendar_url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    radicale.put(
        f"{base}lunch.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:lunch-1@elsewhere\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{TOMORROW:%Y%m%d}T110000Z\r\nDTEND:{TOMORROW:%Y%m%d}T120000Z\r\n"
        "SUMMARY:Lunch with Ann\r\nLOCATION:Cafe\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {}
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Activity)).all() == []

    connect(owner, acme, radicale, calendar_url, import_new=True)
    assert _only(run_jobs(app)) == {"imported": 1}
    with in_tenant(app, acme) as session:
        row = session.scalars(select(Activity)).one()
        assert (row.kind, row.subject, row.due_date) == ("meeting", "Lunch with Ann", TOMORROW)
        assert row.owner_id is not None
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {}


def test_a_wrong_password_gives_a_clear_status_and_changes_nothing(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    meeting = activity(app, acme, acme.owner_email, "meeting", "Offsite", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    before_items, before_objects = _items(app, acme), radicale.objects(calendar_url)
    with in_tenant(app, acme) as session:
        _get(session, Connection, connection_id).secret = seal("wrong-password", purpose="calendar")
        _get(session, Activity, meeting).subject = "Offsite (moved)"
        session.commit()

    sync_now(owner, acme, connection_id)
    result = _only(run_jobs(app))  # not retried: a retry cannot fix a password
    assert "401" in result["error"]
    conn = _connection(app, acme, connection_id)
    assert conn.status == "error" and "password" in conn.last_error
    assert _items(app, acme) == before_items
    assert radicale.objects(calendar_url) == before_objects
    page = owner.get("/t/acme/calendar/")
    assert "refused the user name or password (401)" in page.text

    # The member enters the right password again: the next sync catches up.
    response = post_with_csrf(
        owner,
        settings_url(acme),
        f"{settings_url(acme)}connection",
        {"server_url": radicale.url, "username": "alice", "password": radicale.users["alice"]},
    )
    assert response.status_code == 302
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"updated": 1}
    assert _connection(app, acme, connection_id).status == "ok"


def test_a_server_that_is_down_is_retried_and_leaves_no_partial_state(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    activity(app, acme, acme.owner_email, "meeting", "Board meeting", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    with in_tenant(app, acme) as session:
        conn = _get(session, Connection, connection_id)
        conn.server_url = "http://127.0.0.1:9/"  # discard port: nothing listens
        conn.calendar_url = "http://127.0.0.1:9/alice/cal/"
        session.commit()
    jobs = run_jobs(app)
    assert jobs and all(j.is_failed for j in jobs)
    conn = _connection(app, acme, connection_id)
    assert conn.status == "error" and "could not be reached" in conn.last_error
    assert _items(app, acme) == {}
    assert radicale.objects(calendar_url) == {}


def test_an_event_deleted_on_the_server_is_kept_in_the_crm_until_it_changes_there(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    meeting = activity(app, acme, acme.owner_email, "meeting", "Site visit", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    path = next(iter(radicale.objects(calendar_url)))
    radicale.delete(path)

    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"deleted_on_server": 1}
    with in_tenant(app, acme) as session:
        assert _get(session, Activity, meeting).subject == "Site visit"
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {}
    assert radicale.objects(calendar_url) == {}  # not pushed back while unchanged

    with in_tenant(app, acme) as session:
        _get(session, Activity, meeting).subject = "Site visit (new date)"
        session.commit()
    sync_now(owner, acme, connection_id)
    assert _only(run_jobs(app)) == {"pushed": 1}
    assert str(_component(radicale.get(path)[1]).get("summary")) == "Site visit (new date)"


def test_the_schedule_queues_only_connections_that_are_due(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    from plugins.calendar.plugin import crm_schedules
    from plugins.calendar.sync import sync_due

    (schedule,) = crm_schedules()
    assert schedule.func is sync_due and schedule.every <= 600
    activity(app, acme, acme.owner_email, "meeting", "Planned", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    assert len(radicale.objects(calendar_url)) == 1
    with in_tenant(app, acme) as session:
        _get(session, Connection, connection_id).status = "error"  # no sync on new activities
        session.commit()
    activity(app, acme, acme.owner_email, "task", "Made while the connection failed", TOMORROW)

    with in_tenant(app, acme) as session:
        sync_due.enqueue()
    (job,) = run_jobs(app)
    assert job.return_value() == {"queued": 0}  # synced a moment ago: not due
    assert len(radicale.objects(calendar_url)) == 1

    with in_tenant(app, acme) as session:
        conn = _get(session, Connection, connection_id)
        conn.last_attempt_at = conn.last_attempt_at - timedelta(minutes=16)
        session.commit()
        sync_due.enqueue()
    (job,) = run_jobs(app)  # the burst worker also runs the sync it queued
    assert job.return_value() == {"queued": 1}
    assert len(radicale.objects(calendar_url)) == 2
    assert _connection(app, acme, connection_id).status == "ok"


def test_a_new_meeting_goes_to_the_calendar_without_waiting_for_the_schedule(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    connect(owner, acme, radicale, calendar_url)
    run_jobs(app)
    meeting = activity(app, acme, acme.owner_email, "meeting", "Booked just now", TOMORROW)
    assert _only(run_jobs(app)) == {"pushed": 1}  # queued by activity.created
    (path,) = radicale.objects(calendar_url)
    assert path.endswith(f"crm-{meeting}.ics")


def test_a_server_that_never_answers_times_out_with_a_clear_status(
    app: Any, acme: Any, owner: Any, radicale: Any, calendar_url: str
) -> None:
    activity(app, acme, acme.owner_email, "meeting", "Quarterly review", TOMORROW)
    connection_id = connect(owner, acme, radicale, calendar_url)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with in_tenant(app, acme) as session:
            conn = _get(session, Connection, connection_id)
            conn.server_url = f"http://127.0.0.1:{port}/"
            conn.calendar_url = f"http://127.0.0.1:{port}/alice/cal/"
            session.commit()
        app.config["CALENDAR_TIMEOUT"] = 0.3
        jobs = run_jobs(app)
    assert jobs and all(j.is_failed for j in jobs)  # raised, so the job wrapper retried it
    conn = _connection(app, acme, connection_id)
    assert conn.status == "error" and "did not answer within" in conn.last_error
    assert _items(app, acme) == {}
