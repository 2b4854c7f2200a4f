"""A workspace owner's export and deletion pages, and the page of a workspace being deleted.

* ``/t/<slug>/settings/data``: the owner exports the workspace (the same job as the
  provider console's "Export data") and downloads the ZIP, or schedules the deletion by
  typing the workspace's address to confirm.
* A workspace whose deletion is scheduled answers every page with
  ``errors/deletion_scheduled.html`` (when it will be erased, how to cancel); its owner
  cancels with ``POST /workspace-deletion/<slug>/cancel``, outside the locked ``/t/`` prefix.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired

from .extensions import db
from .identity import Membership, Tenant
from .ids import parse_uuid
from .policy import allowed_while_read_only
from .provisioning import ValidationFailed
from .reauth import require_recent_auth
from .tenancy import tenant_context
from .tenant_deletion import cancel_deletion, delete_after, grace_days, schedule_deletion
from .tenant_exports import TenantExport, exports_of, iter_archive, progress_of, request_export

bp = Blueprint("lifecycle", __name__, url_prefix="/t/<tenant_slug>")
public_bp = Blueprint("lifecycle_public", __name__)


class ConfirmDeletionForm(FlaskForm):
    """Type the workspace's address to confirm its deletion."""

    confirm = StringField(_l("Workspace address"), validators=[DataRequired()])


class ButtonOnlyForm(FlaskForm):
    """Only the CSRF token."""


def _owner_only() -> None:
    membership = g.get("membership")
    if membership is None or membership.role != "owner":
        abort(403)


@bp.get("/settings/data")
def data_page() -> Any:
    """Export the workspace, download recent exports, or schedule its deletion (owner)."""
    _owner_only()
    return render_template(
        "workspace_data.html",
        exports=exports_of(g.tenant.id),
        export_form=ButtonOnlyForm(prefix="export"),
        delete_form=ConfirmDeletionForm(prefix="delete"),
        grace=grace_days(),
        progress=progress_of,
    )


@bp.post("/settings/data/export")
@allowed_while_read_only  # an unpaid or canceled workspace may still take its data out
@require_recent_auth
def request_export_view() -> Any:
    """Queue an export of every record of the workspace."""
    _owner_only()
    if not ButtonOnlyForm(prefix="export").validate_on_submit():
        abort(400)
    request_export(g.tenant, current_user.email)
    from . import audit

    audit.record("tenant.export_requested", target=g.tenant.slug)
    db.session.commit()
    flash(_("The export is being prepared; reload this page to download it."), "success")
    return redirect(url_for("lifecycle.data_page"))


@bp.get("/settings/data/exports/<export_id>/download")
def download_export(export_id: str) -> Any:
    """Stream a finished export of this workspace (owner only)."""
    _owner_only()
    row = db.session.get(TenantExport, parse_uuid(export_id)) if parse_uuid(export_id) else None
    if row is None or row.target_tenant_id != g.tenant.id or not row.downloadable:
        abort(404)
    return archive_response(row, g.tenant.slug)


def archive_response(row: TenantExport, slug: str) -> Response:
    """A streamed download of a stored export."""
    name = f"{slug}-export-{row.finished_at:%Y%m%d-%H%M}.zip"
    response = Response(stream_with_context(iter_archive(row.id)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if row.size is not None:
        response.headers["Content-Length"] = str(row.size)
    return response


@bp.post("/settings/data/delete")
@allowed_while_read_only
@require_recent_auth
def request_deletion() -> Any:
    """Schedule the workspace's deletion after the grace period (owner, slug retyped)."""
    _owner_only()
    form = ConfirmDeletionForm(prefix="delete")
    if not form.validate_on_submit() or form.confirm.data.strip() != g.tenant.slug:
        flash(_("Type the workspace address exactly to confirm."), "error")
        return redirect(url_for("lifecycle.data_page"))
    tenant = g.tenant
    try:
        schedule_deletion(tenant, actor=current_user, actor_label=current_user.email)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(str(message), "error")
        return redirect(url_for("lifecycle.data_page"))
    db.session.commit()
    return redirect(url_for("workspace.home", tenant_slug=tenant.slug))


def deletion_page(tenant: Tenant) -> Any:
    """What every page of a workspace being deleted answers (410), with cancel for owners."""
    owner = False
    if current_user.is_authenticated:
        with tenant_context(tenant):
            role = db.session.execute(
                select(Membership.role).where(Membership.user_id == current_user.id)
            ).scalar_one_or_none()
        owner = role == "owner"
    return render_template(
        "errors/deletion_scheduled.html",
        tenant=tenant,
        delete_after=delete_after(tenant),
        owner=owner,
        form=ButtonOnlyForm(prefix="cancel"),
    ), 410


@public_bp.post("/workspace-deletion/<slug>/cancel")
@login_required
def cancel(slug: str) -> Any:
    """The owner cancels the scheduled deletion during the grace period."""
    tenant = db.session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None or tenant.deletion_requested_at is None:
        abort(404)
    with tenant_context(tenant):
        role = db.session.execute(
            select(Membership.role).where(Membership.user_id == current_user.id)
        ).scalar_one_or_none()
    if role is None:
        abort(404)
    if role != "owner":
        abort(403)
    if not ButtonOnlyForm(prefix="cancel").validate_on_submit():
        abort(400)
    cancel_deletion(tenant, actor=current_user, actor_label=current_user.email)
    db.session.commit()
    flash(_("The deletion is canceled: %(name)s is open again.", name=tenant.name), "success")
    return redirect(url_for("workspace.home", tenant_slug=tenant.slug))
