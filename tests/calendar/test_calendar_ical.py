"""iCalendar in and out: what the CRM writes reads back to the same fields, and objects made
by other apps (time zones, DURATION, all-day, completed to-dos) read as the CRM expects."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from icalendar import Calendar

from plugins.calendar.ical import Fields, parse, to_ical


def test_what_the_crm_writes_reads_back_to_the_same_fields() -> None:
    cases = [
        Fields("meeting", "All day", due_date=date(2026, 5, 4)),
        Fields(
            "meeting",
            "Timed, with notes; and commas, too",
            body="Line one\nLine two",
            due_date=date(2026, 5, 4),
            start_time=time(9, 30),
            duration_minutes=45,
            location="Room 1, floor 2",
        ),
        Fields("task", "Open, undated"),
        Fields("task", "Done", due_date=date(2026, 5, 4), done=True),
    ]
    stamp = datetime(2026, 5, 1, 12, tzinfo=UTC)
    for fields in cases:
        text = to_ical("uid-1@test", fields, stamp)
        assert Calendar.from_ical(text)  # valid iCalendar
        remote = parse(text)
        assert remote is not None
        assert remote.uid == "uid-1@test"
        assert remote.fields == fields
        assert remote.fields.digest() == fields.digest()
        assert remote.modified == stamp


def test_objects_of_other_apps() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
        "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n"
        "DTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n"
        "END:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:x@other\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20260704T100000\r\nDURATION:PT2H\r\nSUMMARY:Berlin\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    remote = parse(text)
    assert remote is not None
    assert (remote.fields.due_date, remote.fields.start_time) == (date(2026, 7, 4), time(8, 0))
    assert remote.fields.duration_minutes == 120
    todo = parse(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//o//EN\r\nBEGIN:VTODO\r\nUID:t@o\r\n"
        "DTSTAMP:20260101T000000Z\r\nSUMMARY:\r\nCOMPLETED:20260102T000000Z\r\n"
        "DUE;VALUE=DATE:20260110\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    assert todo is not None
    assert (todo.fields.kind, todo.fields.subject, todo.fields.done) == ("task", "(no title)", True)
    assert todo.fields.due_date == date(2026, 1, 10)
    assert parse("not a calendar") is None
    assert parse("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n") is None
