"""Day planning pages: "my day" (due today, overdue, the coming week, key contacts'
occasions, the quarter's target) and the calendar (a week or a month grid)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import abort, render_template, request

from crm_platform.sdk import ACTIVITY_KIND_LABELS, require_permission

from .agenda import calendar_days, month_range, my_day, today, week_range
from .blueprint import bp, membership
from .forecast import MONTHS
from .forms import ButtonForm
from .settings import sales_settings


def _day(raw: str | None) -> date:
    """``?date=YYYY-MM-DD`` (today without one; 400 for a bad one)."""
    if not raw:
        return today()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        abort(400)
    if not 2000 <= day.year <= 2100:
        abort(400)
    return day


@bp.get("/agenda")
@require_permission("sfa.read")
def agenda() -> Any:
    """My day: open activities due today, overdue ones, the next seven days, key contacts'
    birthdays and anniversaries, and the quarter's sales target with attainment."""
    m = membership()
    return render_template(
        "sfa/agenda.html",
        ag=my_day(m.user_id, sales_settings().currency),
        kinds=ACTIVITY_KIND_LABELS,
        form=ButtonForm(),
    )


@bp.get("/calendar")
@require_permission("sfa.read")
def calendar() -> Any:
    """The member's activities and key contacts' occasions on a grid.

    ``?view=week|month`` (default week), ``?date=`` any day of the week or month shown.
    """
    view = "month" if request.args.get("view") == "month" else "week"
    day = _day(request.args.get("date"))
    if view == "month":
        first, last = month_range(day)
        days = calendar_days(membership().user_id, first, last, month=day.month)
        start = day.replace(day=1)
        previous = (start - timedelta(days=1)).replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        title = f"{MONTHS[day.month - 1]} {day.year}"
    else:
        first, last = week_range(day)
        days = calendar_days(membership().user_id, first, last)
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
        title = f"{first.isoformat()} – {last.isoformat()}"
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    return render_template(
        "sfa/calendar.html",
        view=view,
        day=day,
        weeks=weeks,
        title=title,
        previous=previous,
        following=following,
        kinds=ACTIVITY_KIND_LABELS,
    )
