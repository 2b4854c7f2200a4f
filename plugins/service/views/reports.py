"""The service reports page (charts drawn by the core's SVG chart macros)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from crm_platform.sdk import require_permission

from .. import reports
from ..models import CHANNEL_LABELS, STATUS_LABELS
from . import bp


@bp.get("/reports", endpoint="reports")
@require_permission("service.reports")
def reports_page() -> Any:
    """Backlog, volume by channel, response and resolution times, SLA, satisfaction."""
    try:
        days = int(request.args.get("days", "30"))
    except ValueError:
        days = 30
    if days not in reports.PERIODS:
        days = 30
    report = reports.build(days)
    for series in report.volume_by_channel:
        series["name"] = str(CHANNEL_LABELS.get(series["name"], series["name"]))
    charts = {
        "channel_labels": [str(CHANNEL_LABELS.get(k, k)) for k in report.channel_totals],
        "channel_values": list(report.channel_totals.values()),
        "backlog_labels": [str(STATUS_LABELS[s]) for s in report.backlog_by_status],
        "backlog_values": list(report.backlog_by_status.values()),
        "sla_labels": [name for name, _done, _met in report.sla_by_queue],
        "sla_values": [round(100 * met / done) for _n, done, met in report.sla_by_queue],
        "csat_labels": [s.name for s in report.csat_by_agent],
        "csat_values": [s.score or 0 for s in report.csat_by_agent],
    }
    return render_template(
        "service/reports.html", report=report, periods=reports.PERIODS, charts=charts
    )
