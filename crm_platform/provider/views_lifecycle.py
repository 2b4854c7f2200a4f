"""Console actions on a tenant's data: export (job + download) and deletion with a grace period.

Admin staff only; each action needs a reason (except the download) and is recorded with
``record_staff_action`` (also in the workspace's audit log).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..ids import parse_uuid
from ..provisioning import ValidationFailed
from ..reauth import require_recent_auth
from ..tenant_deletion import cancel_deletion, delete_after, grace_days, schedule_deletion
from ..tenant_exports import TenantExport, exports_of, progress_of, request_export
from .access import require_staff
from .actions import record_staff_action
from .forms import ReasonForm
from .views import bp, tenant_or_404


def lifecycle_context(tenant: Any) -> dict[str, Any]:
    """What the tenant page's "Data" card shows (a Jinja global: no change to the view)."""
    return {
        "exports": exports_of(tenant.id),
        "export_form": ReasonForm(prefix="export"),
        "delete_form": ReasonForm(prefix="deletion"),
        "delete_after": delete_after(tenant),
        "grace": grace_days(),
        "progress": progress_of,
    }


@bp.record_once
def _install(state: Any) -> None:
    state.app.jinja_env.globals["tenant_lifecycle"] = lifecycle_context


def _back(tenant: Any) -> Any:
    return redirect(url_for("provider.tenant", tenant_id=tenant.id, _anchor="data"))


def _reason(prefix: str) -> str | None:
    form = ReasonForm(prefix=prefix)
    if not form.validate_on_submit():
        flash(_("Give a reason (at most 500 characters)."), "error")
        return None
    return form.reason.data.strip()


@bp.post("/tenants/<tenant_id>/export")
@require_staff("admin")
@require_recent_auth
def export_tenant_data(tenant_id: str) -> Any:
    """Queue an export of every record of the tenant (downloadable when done)."""
    row = tenant_or_404(tenant_id)
    reason = _reason("export")
    if reason is None:
        return _back(row)
    export = request_export(row, current_user.email)
    record_staff_action(
        "tenant.export_requested",
        tenant=row,
        target=row.slug,
        reason=reason,
        details={"export_id": str(export.id)},
        tenant_log=True,
    )
    db.session.commit()
    flash(_("The export of %(name)s is being prepared.", name=row.name), "success")
    return _back(row)


@bp.get("/tenants/<tenant_id>/exports/<export_id>/download")
@require_staff("admin")
def download_tenant_export(tenant_id: str, export_id: str) -> Any:
    """Stream a finished export (recorded in the staff log)."""
    from ..tenant_lifecycle_views import archive_response

    row = tenant_or_404(tenant_id)
    eid = parse_uuid(export_id)
    export = db.session.get(TenantExport, eid) if eid else None
    if export is None or export.target_tenant_id != row.id or not export.downloadable:
        abort(404)
    record_staff_action(
        "tenant.export_downloaded", tenant=row, target=row.slug, details={"export_id": export_id}
    )
    db.session.commit()
    return archive_response(export, row.slug)


@bp.post("/tenants/<tenant_id>/delete")
@require_staff("admin")
@require_recent_auth
def schedule_tenant_deletion(tenant_id: str) -> Any:
    """Lock the tenant and erase it after the grace period."""
    row = tenant_or_404(tenant_id)
    reason = _reason("deletion")
    if reason is None:
        return _back(row)
    try:
        when = schedule_deletion(row, actor_label=f"{current_user.email} (provider)")
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(str(message), "error")
        return _back(row)
    record_staff_action(
        "tenant.deletion_scheduled",
        tenant=row,
        target=row.slug,
        reason=reason,
        details={"delete_after": when.isoformat()},
    )
    db.session.commit()
    flash(
        _(
            "%(name)s is locked and will be erased after %(when)s.",
            name=row.name,
            when=when.strftime("%Y-%m-%d"),
        ),
        "success",
    )
    return _back(row)


@bp.post("/tenants/<tenant_id>/cancel-deletion")
@require_staff("admin")
def cancel_tenant_deletion(tenant_id: str) -> Any:
    """Cancel a scheduled deletion during the grace period."""
    row = tenant_or_404(tenant_id)
    reason = _reason("deletion")
    if reason is None:
        return _back(row)
    try:
        cancel_deletion(row, actor_label=f"{current_user.email} (provider)")
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(str(message), "error")
        return _back(row)
    record_staff_action("tenant.deletion_canceled", tenant=row, target=row.slug, reason=reason)
    db.session.commit()
    flash(_("The deletion of %(name)s is canceled.", name=row.name), "success")
    return _back(row)
