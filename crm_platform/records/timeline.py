"""A record's timeline: its activities and plugins' ``crm_timeline_entries``, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for
from flask_babel import gettext as _

from ..plugin_types import TimelineEntry
from ..plugins import collect
from .activity_service import activities_of

MAX_ENTRIES = 200


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def timeline(kind: str, record: Any, *, limit: int = MAX_ENTRIES) -> list[TimelineEntry]:
    """Core activities, the record's creation and plugin entries, newest first."""
    entries: list[TimelineEntry] = []
    for activity in activities_of(kind, record, limit=limit):
        entries.append(
            TimelineEntry(
                at=_aware(activity.created_at),
                title=f"{activity.kind_label}: {activity.subject}",
                body=activity.body or "",
                kind=activity.kind,
                url=url_for("workspace.activity_edit", activity_id=activity.id),
                actor=activity.created_by.name if activity.created_by else "",
            )
        )
    label = _("Account created") if kind == "account" else _("Contact created")
    entries.append(TimelineEntry(at=_aware(record.created_at), title=label, kind="created"))
    for entry in collect("crm_timeline_entries", record=record, kind=kind):
        if isinstance(entry, TimelineEntry):
            entries.append(entry)
    entries.sort(key=lambda e: _aware(e.at), reverse=True)
    return entries[:limit]
