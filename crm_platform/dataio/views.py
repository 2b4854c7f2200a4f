"""Import and export pages, on the ``workspace`` blueprint (``/t/<slug>/``).

``workspace.imports`` lists past imports and takes an upload; ``workspace.import_detail`` maps
the columns, previews and starts an import, then shows its live progress
(``workspace.import_status``, polled by htmx every second) and its rejected rows
(``workspace.import_report`` downloads them as CSV). ``workspace.accounts_export`` and
``workspace.contacts_export`` export a list with its filters and sort.

The upload is exempt from the app-wide CSRF guard only so that its size can be checked
*before* the body is read (the guard reads the form first); the form checks its CSRF token
itself.
"""

from __future__ import annotations

import gzip
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField

from .. import audit
from ..access import has_permission, require_permission
from ..extensions import csrf, db
from ..identity import Membership, Tenant
from ..records.custom_fields import fields_of
from ..records.forms import ButtonForm
from ..records.listing import parse_list_args
from ..records.pages import membership
from ..records.views import LIST_ENDPOINTS
from ..records.visibility import rule_for
from ..redis_conn import get_redis
from ..tenancy import current_tenant, tenant_context, utcnow
from ..web import tenant_bp
from . import exporting
from .engine import ImportProblem, make_importer, preview
from .limits import FORM_OVERHEAD, max_bytes, max_rows, size_label, xlsx_export_rows
from .mapping import check_mapping, column_label, read_mapping, suggest
from .models import DEDUPE_LABELS, DEDUPE_RULES, ImportJob
from .reading import FileProblem, detect_format, looks_like_data, open_sheet
from .runner import get_import, import_targets, open_stored, run_import

HISTORY = 50
SAMPLES = 3


class UploadForm(FlaskForm):
    """Upload a spreadsheet and pick what it imports into."""

    target = SelectField(_l("Import into"), validate_choice=False)
    file = FileField(
        _l("CSV or Excel file"), validators=[FileRequired(_l("Choose a file to upload."))]
    )


def _targets() -> dict[str, Any]:
    """The import targets the signed-in member may import into."""
    return {k: t for k, t in import_targets().items() if has_permission(t.permission)}


def _sees_all() -> bool:
    return rule_for(membership()) == "all"


def _history() -> list[ImportJob]:
    stmt = select(ImportJob).order_by(ImportJob.created_at.desc()).limit(HISTORY)
    if not _sees_all():
        stmt = stmt.where(ImportJob.created_by_id == current_user.id)
    return list(db.session.scalars(stmt).unique())


def _import_or_404(import_id: str) -> ImportJob:
    imp = get_import(import_id)
    if imp is None or (not _sees_all() and imp.created_by_id != current_user.id):
        abort(404)
    return imp


def _upload_page(form: UploadForm, targets: dict[str, Any], status: int = 200) -> Any:
    return (
        render_template(
            "dataio/imports.html",
            form=form,
            targets=targets,
            history=_history(),
            max_size=size_label(max_bytes()),
            max_rows=max_rows(),
        ),
        status,
    )


def _new_form(targets: dict[str, Any]) -> UploadForm:
    form = UploadForm()
    form.target.choices = [(k, t.label) for k, t in targets.items()]
    return form


@tenant_bp.get("/imports")
@require_permission("records.write")
def imports() -> Any:
    """Past imports, and the upload form (``?target=`` preselects what to import into)."""
    targets = _targets()
    form = _new_form(targets)
    wanted = request.args.get("target", "")
    if wanted in targets:
        form.target.data = wanted
    return _upload_page(form, targets)


def _too_large(targets: dict[str, Any]) -> Any:
    form = UploadForm(formdata=None)
    form.target.choices = [(k, t.label) for k, t in targets.items()]
    form.file.errors = [
        _(
            "The file is larger than %(max)s: split it into smaller files.",
            max=size_label(max_bytes()),
        )
    ]
    return _upload_page(form, targets, 413)


def _count_rows(sheet: Any, limit: int) -> int:
    if sheet.estimated_rows is not None:
        return sheet.estimated_rows
    total = 0
    for _row in sheet.rows:
        total += 1
        if total > limit:
            break
    return total


@tenant_bp.post("/imports/upload")
@require_permission("records.write")
def import_upload() -> Any:
    """Take an uploaded file: check its size before reading it, then its format and header."""
    targets = _targets()
    limit = max_bytes()
    if (request.content_length or 0) > limit + FORM_OVERHEAD:
        return _too_large(targets)
    request.max_content_length = limit + FORM_OVERHEAD
    try:
        form = _new_form(targets)
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        return _too_large(targets)
    target = targets.get(form.target.data or "")
    if valid and target is None:
        form.target.errors = [_("There is no such import target: choose one of the list.")]
        valid = False
    if not valid:
        return _upload_page(form, targets, 400)
    upload = form.file.data
    data = upload.read(limit + 1)
    if len(data) > limit:
        return _too_large(targets)
    filename = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255]
    try:
        fmt = detect_format(filename, data)
        sheet = open_sheet(data, fmt)
        mapping = suggest(sheet.headers, target)
        sample = looks_like_data(sheet.headers)
        if not any(mapping) and sample:
            raise FileProblem(
                _(
                    "The first line looks like data (“%(cell)s”), not column names: add a "
                    "header line that names the columns.",
                    cell=sample,
                )
            )
        total = _count_rows(sheet, max_rows())
        if total == 0:
            raise FileProblem(_("The file has a header line but no rows to import."))
        if total > max_rows():
            raise FileProblem(
                _(
                    "The file has more than %(num)s rows: split it and import the parts.",
                    num=f"{max_rows():,}",
                )
            )
    except FileProblem as exc:
        form.file.errors = [str(exc)]
        return _upload_page(form, targets, 400)
    imp = ImportJob(
        target=target.key,
        filename=filename,
        format=fmt,
        size=len(data),
        content=data,
        encoding=sheet.encoding,
        delimiter=sheet.delimiter,
        headers=sheet.headers,
        total_rows=total,
        mapping=mapping,
        dedupe="skip" if target.dedupe_fields else "create",
        locale=str(get_locale() or "en"),
        created_by_id=current_user.id,
    )
    db.session.add(imp)
    db.session.commit()
    return redirect(url_for("workspace.import_detail", import_id=imp.id)), 303


csrf.exempt(import_upload)


# --------------------------------------------------------------------------- mapping


def _samples(imp: ImportJob) -> list[list[str]]:
    """The first few values of each column."""
    out: list[list[str]] = [[] for _h in imp.headers]
    try:
        sheet = open_stored(imp)
        for n, (_line, cells) in enumerate(sheet.rows):
            if n >= SAMPLES:
                break
            for i, cell in enumerate(cells[: len(out)]):
                if cell.strip():
                    out[i].append(cell.strip()[:60])
    except (FileProblem, ImportProblem):
        pass
    return out


def _preview(imp: ImportJob, target: Any, mapping: list[str | None], dedupe: str) -> dict:
    """The preview table of the first rows with ``mapping``, or why there is none."""
    context: dict[str, Any] = {"rows": [], "fields": [], "problem": None, "checked": True}
    if not any(mapping):
        return context
    try:
        sheet = open_stored(imp)
        importer = make_importer(target, dedupe=dedupe, membership=membership(), actor=current_user)
        context["checked"] = importer.checks_before_writing
        context["rows"] = preview(
            sheet.rows,
            headers=sheet.headers,
            mapping=mapping,
            padded=sheet.padded,
            importer=importer,
        )
    except (FileProblem, ImportProblem) as exc:
        context["problem"] = str(exc)
    context["fields"] = [f for f in dict.fromkeys(mapping) if f and f in target.fields]
    context["labels"] = target.fields
    return context


def _mapping_page(
    imp: ImportJob,
    target: Any,
    mapping: list[str | None],
    dedupe: str,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    return (
        render_template(
            "dataio/import_map.html",
            imp=imp,
            target=target,
            mapping=mapping,
            dedupe=dedupe,
            errors=errors or {},
            samples=_samples(imp),
            preview=_preview(imp, target, mapping, dedupe) if not errors else None,
            dedupe_rules=[(r, DEDUPE_LABELS[r]) for r in DEDUPE_RULES],
            dedupe_keys=" / ".join(str(target.fields[f]) for f in target.dedupe_fields),
            column_label=column_label,
            button_form=ButtonForm(),
        ),
        status,
    )


def _target_of(imp: ImportJob) -> Any:
    return _targets().get(imp.target)


def _missing_target(imp: ImportJob) -> Any:
    flash(
        _("There is no import target “%(target)s” in this workspace.", target=imp.target), "error"
    )
    return redirect(url_for("workspace.imports")), 303


@tenant_bp.route("/imports/<import_id>", methods=["GET", "POST"])
@require_permission("records.write")
def import_detail(import_id: str) -> Any:
    """Map the columns, preview and start an import; later, its progress and outcome."""
    imp = _import_or_404(import_id)
    if imp.status != "uploaded":
        if request.method == "POST":
            abort(409)
        return render_template("dataio/import.html", imp=imp, **_status_context(imp))
    target = _target_of(imp)
    if target is None:
        return _missing_target(imp)
    if request.method == "GET":
        return _mapping_page(imp, target, list(imp.mapping), imp.dedupe)
    if not ButtonForm().validate_on_submit():
        abort(400)
    mapping = read_mapping(request.form, len(imp.headers))
    dedupe = request.form.get("dedupe", "create" if not target.dedupe_fields else "skip")
    errors = check_mapping(mapping, imp.headers, target, dedupe)
    if errors or request.form.get("action") != "start":
        return _mapping_page(imp, target, mapping, dedupe, errors, 400 if errors else 200)
    imp.mapping, imp.dedupe, imp.status = mapping, dedupe, "queued"
    run_import.enqueue_after_commit(str(imp.id))
    db.session.commit()
    return redirect(url_for("workspace.import_detail", import_id=imp.id)), 303


@tenant_bp.post("/imports/<import_id>/preview")
@require_permission("records.write")
def import_preview(import_id: str) -> Any:
    """The preview table for the mapping being edited (an htmx fragment)."""
    imp = _import_or_404(import_id)
    target = _target_of(imp)
    if imp.status != "uploaded" or target is None:
        abort(404)
    mapping = read_mapping(request.form, len(imp.headers))
    dedupe = request.form.get("dedupe", imp.dedupe)
    errors = check_mapping(mapping, imp.headers, target, dedupe)
    return render_template(
        "dataio/_preview.html",
        imp=imp,
        target=target,
        errors=errors,
        preview=_preview(imp, target, mapping, dedupe),
    )


@tenant_bp.post("/imports/<import_id>/discard")
@require_permission("records.write")
def import_discard(import_id: str) -> Any:
    """Throw away an uploaded file that was not imported."""
    imp = _import_or_404(import_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if imp.status != "uploaded":
        abort(409)
    db.session.delete(imp)
    db.session.commit()
    flash(_("The uploaded file was discarded."), "success")
    return redirect(url_for("workspace.imports")), 303


# --------------------------------------------------------------------------- progress


def _job_meta(imp: ImportJob) -> tuple[dict[str, Any], Any]:
    if not imp.job_id:
        return {}, None
    try:
        job = Job.fetch(imp.job_id, connection=get_redis())
    except NoSuchJobError:
        return {}, None
    tenant = current_tenant()
    if tenant is None or job.meta.get("tenant_id") != str(tenant.id):
        return {}, None
    return dict(job.meta), job


def _status_context(imp: ImportJob) -> dict[str, Any]:
    meta, job = _job_meta(imp)
    if imp.status == "running" and job is not None and job.is_failed:
        imp.status, imp.finished_at = "failed", utcnow()
        imp.error = _("The import stopped unexpectedly; nothing was imported.")
        db.session.commit()
    done = int(meta.get("progress_done") or 0)
    total = int(meta.get("progress_total") or imp.total_rows or 0)
    if imp.status == "done":
        percent = 100
    elif imp.status == "running" and total:
        percent = min(99, int(done * 100 / total))
    else:
        percent = 0
    target = import_targets().get(imp.target)
    return {
        "percent": percent,
        "done_rows": done,
        "message": meta.get("progress_msg") or "",
        "target": target,
        "target_label": target.label if target else imp.target,
    }


@tenant_bp.get("/imports/<import_id>/status")
@require_permission("records.write")
def import_status(import_id: str) -> Any:
    """The progress and outcome of an import (polled every second while it runs)."""
    imp = _import_or_404(import_id)
    return render_template("dataio/_status.html", imp=imp, **_status_context(imp))


@tenant_bp.get("/imports/<import_id>/rejected.csv")
@require_permission("records.write")
def import_report(import_id: str) -> Any:
    """The rejected rows of an import, with line numbers and reasons, as CSV."""
    imp = _import_or_404(import_id)
    if imp.report is None:
        abort(404)
    name = imp.filename.rsplit(".", 1)[0].encode("ascii", "ignore").decode() or "import"
    return Response(
        gzip.decompress(imp.report),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-rejected.csv"'},
    )


# --------------------------------------------------------------------------- export


def _export(kind: str) -> Any:
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        abort(400)
    fields = fields_of(kind)
    state, errors = parse_list_args(kind, request.args, fields)
    if errors:
        abort(400)
    state.after = ""
    rows = exporting.count(state, membership(), fields)
    back = url_for(LIST_ENDPOINTS[kind], **state.params())
    if fmt == "xlsx" and rows > xlsx_export_rows():
        flash(
            _(
                "This list has %(rows)s rows; an Excel export holds at most %(max)s. Narrow the "
                "filters or export CSV.",
                rows=f"{rows:,}",
                max=f"{xlsx_export_rows():,}",
            ),
            "error",
        )
        return redirect(back), 303
    audit.record(
        "data.exported",
        target=f"{kind}s",
        details={"format": fmt, "rows": rows, "filters": state.params()},
    )
    db.session.commit()
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    filename = f"{kind}s-{stamp}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    member = membership()
    if fmt == "xlsx":
        title = str(_("Accounts") if kind == "account" else _("Contacts"))
        data = exporting.xlsx_bytes(kind, state, member, fields, title)
        return Response(data, mimetype=exporting.XLSX_MIME, headers=disposition)
    tenant, user_id = current_tenant(), current_user.id

    def generate() -> Any:
        # Flask runs this after the request's teardown: the request's session and objects
        # are gone, so the tenant, the member and the fields are loaded again here.
        with tenant_context(tenant):
            g.tenant = db.session.get(Tenant, tenant.id)
            member = db.session.scalar(select(Membership).where(Membership.user_id == user_id))
            yield from exporting.csv_chunks(kind, state, member, fields_of(kind))

    return Response(
        stream_with_context(generate()), mimetype="text/csv; charset=utf-8", headers=disposition
    )


@tenant_bp.get("/accounts/export")
@require_permission("records.read")
def accounts_export() -> Any:
    """The accounts list (``?format=csv|xlsx`` and the list's filters and sort) as a file."""
    return _export("account")


@tenant_bp.get("/contacts/export")
@require_permission("records.read")
def contacts_export() -> Any:
    """The contacts list (``?format=csv|xlsx`` and the list's filters and sort) as a file."""
    return _export("contact")
