"""iCalendar (RFC 5545) for the CRM's meetings and tasks: the fields both sides share, an
object made of them, and the same fields read back from a server's object.

``Fields`` is the one shape compared everywhere: its hash is what the sync state keeps,
so any difference the calendar can show (title, day, time, length, location, notes,
completion of a task) is a change, and nothing else is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Event, Todo

PRODID = "-//CRM platform//Calendar sync//EN"
#: A meeting with a time but no length lasts this long.
DEFAULT_MINUTES = 60


@dataclass(frozen=True)
class Fields:
    """What a calendar object and a CRM activity have in common."""

    kind: str  # "meeting" (VEVENT) or "task" (VTODO)
    subject: str
    body: str = ""
    due_date: date | None = None
    start_time: time | None = None  # UTC; None: an all-day event
    duration_minutes: int | None = None
    location: str = ""
    done: bool = False  # tasks only

    def digest(self) -> str:
        """SHA-256 of the fields: equal fields, equal digest."""
        data = asdict(self)
        data["due_date"] = self.due_date.isoformat() if self.due_date else None
        data["start_time"] = self.start_time.strftime("%H:%M") if self.start_time else None
        raw = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


def aware(value: datetime | None) -> datetime | None:
    """A datetime in UTC (SQLite gives naive ones back: they are UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def component(uid: str, fields: Fields, modified: datetime | None) -> Event | Todo:
    """The VEVENT (meeting) or VTODO (task) of ``fields``."""
    stamp = aware(modified) or datetime.now(UTC)
    comp: Event | Todo = Todo() if fields.kind == "task" else Event()
    comp.add("uid", uid)
    comp.add("dtstamp", stamp.replace(microsecond=0))
    comp.add("last-modified", stamp.replace(microsecond=0))
    comp.add("summary", fields.subject)
    if fields.body:
        comp.add("description", fields.body)
    if fields.location:
        comp.add("location", fields.location)
    if fields.kind == "task":
        if fields.due_date:
            comp.add("due", fields.due_date)
        comp.add("status", "COMPLETED" if fields.done else "NEEDS-ACTION")
        if fields.done:
            comp.add("completed", stamp.replace(microsecond=0))
            comp.add("percent-complete", 100)
        return comp
    day = fields.due_date or stamp.date()
    if fields.start_time is None:
        comp.add("dtstart", day)
        comp.add("dtend", day + timedelta(days=1))
    else:
        start = datetime.combine(day, fields.start_time, tzinfo=UTC)
        comp.add("dtstart", start)
        comp.add("dtend", start + timedelta(minutes=fields.duration_minutes or DEFAULT_MINUTES))
    return comp


def calendar(components: list[Event | Todo], name: str | None = None) -> str:
    """A VCALENDAR holding ``components``, as text."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    if name:
        cal.add("x-wr-calname", name)
    for comp in components:
        cal.add_component(comp)
    return cal.to_ical().decode()


def to_ical(uid: str, fields: Fields, modified: datetime | None) -> str:
    """One calendar object (a VCALENDAR with one component), as text."""
    return calendar([component(uid, fields, modified)])


@dataclass(frozen=True)
class RemoteObject:
    """A server object read back: its UID, fields and when it was last changed there."""

    uid: str
    fields: Fields
    modified: datetime | None


def _value(comp: Any, name: str) -> Any:
    prop = comp.get(name)
    return getattr(prop, "dt", prop) if prop is not None else None


def _text(comp: Any, name: str) -> str:
    value = comp.get(name)
    return str(value).strip() if value is not None else ""


def _as_utc(value: Any) -> datetime | date | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def parse(text: str) -> RemoteObject | None:
    """The first VEVENT or VTODO (the series master, not an exception) of ``text``; ``None``
    when there is none or the text is not iCalendar."""
    try:
        cal = Calendar.from_ical(text)
    except ValueError:
        return None
    for comp in cal.walk():
        if comp.name not in ("VEVENT", "VTODO") or comp.get("recurrence-id") is not None:
            continue
        modified = _as_utc(_value(comp, "last-modified") or _value(comp, "dtstamp"))
        modified = modified if isinstance(modified, datetime) else None
        common = {
            "subject": _text(comp, "summary")[:200] or "(no title)",
            "body": _text(comp, "description")[:10000],
            "location": _text(comp, "location")[:500],
        }
        if comp.name == "VTODO":
            due = _as_utc(_value(comp, "due"))
            done = _text(comp, "status").upper() == "COMPLETED" or comp.get("completed") is not None
            fields = Fields(
                kind="task",
                due_date=due.date() if isinstance(due, datetime) else due,
                done=done,
                **common,
            )
        else:
            start = _as_utc(_value(comp, "dtstart"))
            if start is None:
                return None
            end = _as_utc(_value(comp, "dtend"))
            if isinstance(start, datetime):
                if isinstance(end, datetime):
                    minutes = max(0, int((end - start).total_seconds() // 60))
                else:
                    duration = _value(comp, "duration")
                    minutes = (
                        int(duration.total_seconds() // 60)
                        if isinstance(duration, timedelta)
                        else DEFAULT_MINUTES
                    )
                fields = Fields(
                    kind="meeting",
                    due_date=start.date(),
                    start_time=start.time().replace(second=0, microsecond=0),
                    duration_minutes=minutes,
                    **common,
                )
            else:
                fields = Fields(kind="meeting", due_date=start, **common)
        return RemoteObject(_text(comp, "uid"), fields, modified)
    return None
