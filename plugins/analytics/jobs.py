"""The analytics jobs: a large report run in the background, and the scheduled e-mails.

Both run in the tenant's context (the job carries it) and as the report's owner: the owner's
record visibility applies, so an e-mailed report never shows more than its owner would see.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Membership,
    db,
    job,
    parse_uuid,
    require_tenant,
    send_mail,
    set_progress,
    utcnow,
)

from .engine import Definition, ReportError, run
from .models import ReportFile, ReportRun, SavedReport

#: How long after the last e-mail a scheduled report is due again.
PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7), "monthly": timedelta(days=30)}
#: A little slack so that an hourly check does not drift a day's e-mail by an hour each time.
SLACK = timedelta(minutes=10)


def member_of(user_id: Any) -> Membership | None:
    """The membership of ``user_id`` in the tenant in context."""
    if user_id is None:
        return None
    return db.session.scalars(select(Membership).where(Membership.user_id == user_id)).first()


@job(retries=1, timeout=1800, read_only_ok=True)
def run_report(run_id: str) -> dict[str, Any]:
    """Run a large report (a ``ReportRun``) and keep its result for the page that polls."""
    rid = parse_uuid(run_id)
    report_run = db.session.get(ReportRun, (require_tenant().id, rid)) if rid else None
    if report_run is None or report_run.status == "done":
        return {"skipped": True}
    report_run.status, report_run.progress = "running", 10
    db.session.commit()
    set_progress(1, 3, _("Reading the records"))
    member = member_of(report_run.owner_id)
    try:
        if member is None:
            raise ReportError({"owner": _("The report's owner has left the workspace.")})
        result = run(Definition.from_dict(report_run.definition), member)
    except ReportError as exc:
        db.session.rollback()
        report_run.status, report_run.error = "failed", "; ".join(exc.errors.values())
        report_run.finished_at = utcnow()
        db.session.commit()
        return {"failed": report_run.error}
    set_progress(2, 3, _("Keeping the result"))
    report_run.result = result.to_dict()
    report_run.status, report_run.progress, report_run.finished_at = "done", 100, utcnow()
    db.session.commit()
    set_progress(3, 3)
    return {"rows": len(result.rows)}


def due(report: SavedReport, now: Any) -> bool:
    """True when a scheduled report should be e-mailed now."""
    period = PERIODS.get(report.schedule)
    if period is None:
        return False
    last = report.last_sent_at
    if last is None:
        return True
    if last.tzinfo is None:  # SQLite keeps no time zone: the stored time is UTC
        last = last.replace(tzinfo=UTC)
    return last + period - SLACK <= now


def _link(file_id: Any) -> str:
    base = current_app.config.get("BASE_URL", "").rstrip("/")
    values = {"tenant_slug": require_tenant().slug, "file_id": file_id}
    if has_request_context():
        return base + url_for("analytics.file_download", **values)
    with current_app.test_request_context():
        return base + url_for("analytics.file_download", **values)


def send_report(report: SavedReport) -> ReportFile | None:
    """Export one saved report as its owner sees it and e-mail the download link."""
    from .exports import render_export

    member = member_of(report.owner_id)
    if member is None:
        return None
    result = run(Definition.from_dict(report.definition), member)
    content, mimetype, filename = render_export(result, report.name, report.schedule_format)
    stored = ReportFile(report_id=report.id, filename=filename, mimetype=mimetype, content=content)
    db.session.add(stored)
    db.session.flush()
    recipients = [r.strip() for r in (report.recipients or "").split(",") if r.strip()]
    if not recipients and member.user.email:
        recipients = [member.user.email]
    body = _(
        "Your %(schedule)s report “%(name)s” is ready (%(rows)s rows, %(format)s):\n\n%(link)s\n\n"
        "Sign in to download it.",
        schedule=report.schedule,
        name=report.name,
        rows=len(result.rows),
        format=report.schedule_format.upper(),
        link=_link(stored.id),
    )
    for to in recipients:
        send_mail(to, _("Report: %(name)s", name=report.name), body)
    report.last_sent_at = utcnow()
    return stored


@job(retries=2, timeout=1800, read_only_ok=True)
def send_scheduled_reports() -> dict[str, Any]:
    """E-mail every scheduled report that is due (each at most once per period)."""
    now = utcnow()
    reports = db.session.scalars(
        select(SavedReport).where(SavedReport.schedule != "").order_by(SavedReport.id)
    ).unique()
    sent, failed = 0, 0
    todo = [r for r in reports if due(r, now)]
    for i, report in enumerate(todo):
        set_progress(i, len(todo))
        try:
            if send_report(report) is not None:
                sent += 1
            db.session.commit()
        except ReportError:
            db.session.rollback()
            failed += 1
    set_progress(len(todo), len(todo))
    return {"sent": sent, "failed": failed}
