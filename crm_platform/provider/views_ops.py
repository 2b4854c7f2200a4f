"""Console pages for running the platform: plugin catalogue, failed jobs, staff activity."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..identity import Tenant
from ..ids import parse_uuid
from ..modules import installed_modules
from ..tenancy import ProviderAccess
from . import failed_jobs as jobs
from .access import require_staff
from .actions import record_staff_action
from .approvals import set_approval
from .catalogue import plugin_catalogue
from .forms import ButtonForm
from .models import APPROVED, HIDDEN, StaffAction
from .views import actor, bp

ACTIVITY_PAGE = 50


# --------------------------------------------------------------------------- plugins


@bp.get("/plugins")
@require_staff
def plugins() -> Any:
    """Installed plugins: module, version, package, tenants using it, approve or hide."""
    return render_template(
        "provider/plugins.html", entries=plugin_catalogue(actor()), form=ButtonForm()
    )


def _decide(module_key: str, status: str) -> Any:
    descriptor = installed_modules().get(module_key)
    if descriptor is None:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if set_approval(module_key, status, actor=current_user):
        action = "plugin.approved" if status == APPROVED else "plugin.hidden"
        record_staff_action(action, target=module_key, details={"version": descriptor.version})
        db.session.commit()
    if status == HIDDEN:
        flash(
            _(
                "%(name)s is hidden: workspaces cannot switch it on; those using it keep it.",
                name=descriptor.name,
            ),
            "success",
        )
    else:
        flash(_("%(name)s is approved and offered to workspaces.", name=descriptor.name), "success")
    return redirect(url_for("provider.plugins"))


@bp.post("/plugins/<module_key>/approve")
@require_staff("admin")
def approve_plugin(module_key: str) -> Any:
    """Approve a module: workspaces are offered it."""
    return _decide(module_key, APPROVED)


@bp.post("/plugins/<module_key>/hide")
@require_staff("admin")
def hide_plugin(module_key: str) -> Any:
    """Hide a module from workspaces (those that have it on keep it and its data)."""
    return _decide(module_key, HIDDEN)


# --------------------------------------------------------------------------- failed jobs


@bp.get("/jobs")
@require_staff
def failed_jobs() -> Any:
    """Failed jobs of every tenant, newest first: tenant, function, error, time."""
    page = request.args.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    rows, total = jobs.failed_jobs(page_no)
    return render_template(
        "provider/jobs.html",
        rows=rows,
        total=total,
        page=page_no,
        pages=max(1, -(-total // jobs.PAGE_SIZE)),
        form=ButtonForm(),
    )


def _job_action(job_id: str, action: str) -> Any:
    job = jobs.find_failed(job_id)
    if job is None:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    meta = job.meta or {}
    tenant_id = parse_uuid(meta.get("tenant_id"))
    tenant = db.session.get(Tenant, tenant_id) if tenant_id else None
    record_staff_action(
        f"job.{action}", tenant=tenant, target=job.id, details={"func": meta.get("func")}
    )
    db.session.flush()
    if action == "retried":
        jobs.retry(job)
        flash(_("The job is queued again."), "success")
    else:
        jobs.delete(job)
        flash(_("The job is deleted."), "success")
    db.session.commit()
    return redirect(url_for("provider.failed_jobs"))


@bp.post("/jobs/<job_id>/retry")
@require_staff
def retry_job(job_id: str) -> Any:
    """Queue a failed job again (it runs in its tenant's context, as before)."""
    return _job_action(job_id, "retried")


@bp.post("/jobs/<job_id>/delete")
@require_staff("admin")
def delete_job(job_id: str) -> Any:
    """Delete a failed job."""
    return _job_action(job_id, "deleted")


# --------------------------------------------------------------------------- activity


@bp.get("/activity")
@require_staff
def activity() -> Any:
    """What staff did (newest first, a page at a time) and the latest cross-tenant reads."""
    stmt = select(StaffAction).order_by(StaffAction.id.desc()).limit(ACTIVITY_PAGE + 1)
    before = parse_uuid(request.args.get("before"))
    if before is not None:
        stmt = stmt.where(StaffAction.id < before)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > ACTIVITY_PAGE
    rows = rows[:ACTIVITY_PAGE]
    tenant_ids = {r.target_tenant_id for r in rows if r.target_tenant_id}
    tenants = {t.id: t for t in db.session.scalars(select(Tenant).where(Tenant.id.in_(tenant_ids)))}
    reads = db.session.scalars(
        select(ProviderAccess)
        .order_by(ProviderAccess.at.desc(), ProviderAccess.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "provider/activity.html",
        rows=rows,
        tenants=tenants,
        reads=reads,
        next_before=rows[-1].id if more else None,
        paged=before is not None,
    )
