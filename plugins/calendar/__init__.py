"""Calendar sync: two-way CalDAV sync of a member's meetings and tasks, and read-only
iCalendar feed URLs (see docs/modules/calendar.md)."""
