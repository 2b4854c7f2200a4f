"""The ERP pages (``/t/<slug>/erp/...``): connections, mapping, runs, ledger, dead letters,
and the signed inbound webhook of file/webhook connections (``/erp/hook/<tenant>/<id>``)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm_platform.sdk import (
    Tenant,
    audit_record,
    csrf_exempt,
    db,
    get_or_404,
    is_sealed,
    module_enabled,
    over_rate_limit,
    parse_uuid,
    require_permission,
    seal,
    tenant_context,
    unseal,
    utcnow,
)

from . import file_connector
from .connector import CRM_FIELDS, DIRECTIONS, POLICIES, ConnectorError
from .engine import active_run, replay, start_run
from .models import (
    Connection,
    DeadLetter,
    InboxRecord,
    LedgerEntry,
    ObjectMapping,
    SyncCursor,
    SyncRun,
)
from .registry import (
    CREDENTIALS,
    check_mapping,
    connectors,
    crm_fields_for,
    get_connector,
    objects_of,
    runtime_settings,
)

log = logging.getLogger(__name__)
bp = Blueprint("erp", __name__, url_prefix="/t/<tenant_slug>/erp", template_folder="templates")
hooks = Blueprint("erp_hooks", __name__, url_prefix="/erp/hook")
PAGE = 50
MAX_INTERVAL = 7 * 24 * 60


def _connection(connection_id: Any) -> Connection:
    return get_or_404(Connection, connection_id)


def _page_number() -> int:
    try:
        return max(1, min(10000, int(request.args.get("page", "1"))))
    except ValueError:
        return 1


def _paged_list(stmt: Any, template: str, **context: Any) -> str:
    """``template`` with a page of ``stmt``'s rows (``rows``, ``more``, ``page``) and the
    connections' names by id (``names``)."""
    page = _page_number()
    rows = list(db.session.scalars(stmt.offset((page - 1) * PAGE).limit(PAGE + 1)))
    names = dict(db.session.execute(select(Connection.id, Connection.name)).all())
    return render_template(
        template, rows=rows[:PAGE], more=len(rows) > PAGE, page=page, names=names, **context
    )


# --------------------------------------------------------------------------- connections


@bp.get("/")
@require_permission("erp.read")
def connections() -> Any:
    """Every connection with its last run and open dead letters."""
    rows = list(db.session.scalars(select(Connection).order_by(Connection.name)))
    letters = dict(
        db.session.execute(
            select(DeadLetter.connection_id, func.count())
            .where(DeadLetter.status == "open")
            .group_by(DeadLetter.connection_id)
        ).all()
    )
    known = connectors()
    return render_template("erp/connections.html", rows=rows, letters=letters, known=known)


def _form_values(
    connector: Any, existing: Connection | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The connection form's values and errors (secrets left empty keep the stored value)."""
    errors: dict[str, str] = {}
    form = request.form
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = _("Name the connection.")
    elif len(name) > 100:
        errors["name"] = _("Use at most 100 characters.")
    else:
        clash = select(Connection.id).where(func.lower(Connection.name) == name.lower())
        if existing is not None:
            clash = clash.where(Connection.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["name"] = _("Another connection has this name.")
    try:
        interval = int(form.get("interval_minutes") or 0)
        if interval < 0 or interval > MAX_INTERVAL:
            raise ValueError
    except ValueError:
        interval = 0
        errors["interval_minutes"] = _(
            "Enter minutes between 0 (only on demand) and %(max)d.", max=MAX_INTERVAL
        )
    settings: dict[str, str] = {}
    stored = dict(existing.settings or {}) if existing is not None else {}
    for setting in connector.settings:
        raw = (form.get(f"setting_{setting.name}") or "").strip()
        if setting.secret and not raw and setting.name in stored:
            raw = stored[setting.name]
        if not raw:
            raw = setting.default
        if setting.required and not raw:
            errors[f"setting_{setting.name}"] = _("This field is required.")
        if len(raw) > 2000:
            errors[f"setting_{setting.name}"] = _("Use at most 2000 characters.")
        if setting.secret and raw and not is_sealed(raw):
            raw = seal(raw, purpose=CREDENTIALS)  # encrypted at rest
        settings[setting.name] = raw
    values = {
        "name": name,
        "interval_minutes": interval,
        "enabled": form.get("enabled") == "on",
        "settings": settings,
    }
    return values, errors


@bp.route("/new", methods=["GET", "POST"])
@require_permission("erp.manage")
def connection_new() -> Any:
    """Create a connection: pick a connector, then fill in its settings."""
    known = connectors()
    key = request.values.get("connector") or ""
    connector = known.get(key)
    errors: dict[str, str] = {}
    if request.method == "POST" and connector is not None:
        values, errors = _form_values(connector, None)
        if not errors:
            connection = Connection(connector_key=connector.key, **values)
            db.session.add(connection)
            db.session.flush()
            audit_record(
                "erp.connection_created",
                target=connection.name,
                details={"connector": connector.key},
            )
            db.session.commit()
            flash(_("Connection created. Check it, then sync."), "success")
            return redirect(url_for("erp.connection", connection_id=connection.id))
    elif request.method == "POST":
        errors["connector"] = _("Choose a connector.")
    status = 400 if errors else 200
    return render_template(
        "erp/connection_form.html",
        known=known,
        connector=connector,
        connection=None,
        errors=errors,
        values=request.form,
    ), status


@bp.route("/<connection_id>/edit", methods=["GET", "POST"])
@require_permission("erp.manage")
def connection_edit(connection_id: str) -> Any:
    """Edit a connection's name, schedule and settings (secrets are never shown back)."""
    connection = _connection(connection_id)
    connector = get_connector(connection.connector_key)
    if connector is None:
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = _form_values(connector, connection)
        if not errors:
            for name, value in values.items():
                setattr(connection, name, value)
            audit_record("erp.connection_updated", target=connection.name)
            db.session.commit()
            flash(_("Connection saved."), "success")
            return redirect(url_for("erp.connection", connection_id=connection.id))
    secret = {s.name for s in connector.settings if s.secret}
    values = (
        request.form
        if request.method == "POST"
        else {
            "name": connection.name,
            "interval_minutes": connection.interval_minutes,
            "enabled": "on" if connection.enabled else "",
            **{
                f"setting_{k}": v for k, v in (connection.settings or {}).items() if k not in secret
            },
        }
    )
    return render_template(
        "erp/connection_form.html",
        known=connectors(),
        connector=connector,
        connection=connection,
        errors=errors,
        values=values,
        stored_secrets={k for k in secret if (connection.settings or {}).get(k)},
    ), (400 if errors else 200)


@bp.get("/<connection_id>")
@require_permission("erp.read")
def connection(connection_id: str) -> Any:
    """A connection: its objects, recent runs, sync/check buttons and (file) uploads."""
    connection = _connection(connection_id)
    connector = get_connector(connection.connector_key)
    runs = list(
        db.session.scalars(
            select(SyncRun)
            .where(SyncRun.connection_id == connection.id)
            .order_by(SyncRun.created_at.desc())
            .limit(10)
        )
    )
    counts = dict(
        db.session.execute(
            select(LedgerEntry.object_key, func.count())
            .where(LedgerEntry.connection_id == connection.id)
            .group_by(LedgerEntry.object_key)
        ).all()
    )
    open_letters = db.session.scalar(
        select(func.count())
        .select_from(DeadLetter)
        .where(DeadLetter.connection_id == connection.id, DeadLetter.status == "open")
    )
    hook_url = None
    if connection.connector_key == file_connector.FileConnector.key:
        hook_url = url_for(
            "erp_hooks.webhook",
            tenant=connection_slug(),
            connection_id=connection.id,
            _external=True,
        )
    return render_template(
        "erp/connection.html",
        connection=connection,
        connector=connector,
        objects=objects_of(connection, connector) if connector else [],
        runs=runs,
        counts=counts,
        open_letters=open_letters,
        active=active_run(connection),
        hook_url=hook_url,
        file_objects=file_connector.OBJECT_KEYS,
    )


def connection_slug() -> str:
    """The current tenant's slug (from the URL)."""
    return str(g.tenant.slug)


@bp.post("/<connection_id>/check")
@require_permission("erp.manage")
def connection_check(connection_id: str) -> Any:
    """Ask the connector whether the ERP answers with these settings."""
    connection = _connection(connection_id)
    connector = get_connector(connection.connector_key)
    if connector is None:
        abort(404)
    connection.last_check_at = utcnow()
    try:
        connector.check(runtime_settings(connection))
    except ConnectorError as exc:
        connection.last_check_error = exc.message
        flash(_("The ERP did not answer: %(error)s", error=exc.message), "error")
    except Exception as exc:  # a connector bug must not break the page
        log.exception("connector %s failed in check", connector.key)
        connection.last_check_error = str(exc)[:500]
        flash(_("The connector failed: %(error)s", error=str(exc)[:200]), "error")
    else:
        connection.last_check_error = None
        flash(_("The ERP answered: the connection works."), "success")
    db.session.commit()
    return redirect(url_for("erp.connection", connection_id=connection.id))


@bp.post("/<connection_id>/sync")
@require_permission("erp.manage")
def connection_sync(connection_id: str) -> Any:
    """Queue a sync run now (or show the one already queued or running)."""
    connection = _connection(connection_id)
    if not connection.enabled:
        flash(_("The connection is paused: enable it first."), "error")
        return redirect(url_for("erp.connection", connection_id=connection.id))
    run = active_run(connection) or start_run(connection, "manual")
    db.session.commit()
    return redirect(url_for("erp.run", run_id=run.id))


@bp.post("/<connection_id>/upload")
@require_permission("erp.manage")
def connection_upload(connection_id: str) -> Any:
    """A CSV or JSON drop for a file/webhook connection: checked whole, then queued."""
    connection = _connection(connection_id)
    if connection.connector_key != file_connector.FileConnector.key:
        abort(404)
    if not connection.enabled:
        flash(_("The connection is paused: enable it first."), "error")
        return redirect(url_for("erp.connection", connection_id=connection.id))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file."), "error")
        return redirect(url_for("erp.connection", connection_id=connection.id))
    body = upload.stream.read(file_connector.MAX_BYTES + 1)
    if upload.filename.lower().endswith(".json"):
        drop = file_connector.read_json(body)
    else:
        drop = file_connector.read_csv(body, request.form.get("object") or "")
    if drop.errors:
        db.session.rollback()
        return render_template(
            "erp/upload_errors.html",
            connection=connection,
            errors=drop.errors,
            filename=upload.filename,
        ), 400
    count = file_connector.store(connection.id, drop, "file")
    run = active_run(connection)
    if run is None or run.status != "queued":
        run = start_run(connection, "file")
    audit_record(
        "erp.file_dropped",
        target=connection.name,
        details={"records": count, "file": upload.filename[:200]},
    )
    db.session.commit()
    flash(_("%(num)d records received; the sync is queued.", num=count), "success")
    return redirect(url_for("erp.run", run_id=run.id))


# --------------------------------------------------------------------------- mapping


@bp.get("/<connection_id>/mapping")
@require_permission("erp.manage")
def mapping(connection_id: str) -> Any:
    """The mapping screen: per object, direction, on/off and the field map with policies."""
    connection = _connection(connection_id)
    connector = get_connector(connection.connector_key)
    if connector is None:
        abort(404)
    return render_template(
        "erp/mapping.html",
        connection=connection,
        objects=objects_of(connection, connector),
        crm_fields={k: crm_fields_for(k) for k in CRM_FIELDS},
        policies=POLICIES,
        directions=DIRECTIONS,
        errors={},
        failed_key=None,
    )


@bp.post("/<connection_id>/mapping/<object_key>")
@require_permission("erp.manage")
def mapping_save(connection_id: str, object_key: str) -> Any:
    """Save (or with ``reset``, drop) the override of one object."""
    connection = _connection(connection_id)
    connector = get_connector(connection.connector_key)
    obj = next((o for o in connector.objects if o.key == object_key), None) if connector else None
    if obj is None:
        abort(404)
    override = db.session.scalars(
        select(ObjectMapping).where(
            ObjectMapping.connection_id == connection.id, ObjectMapping.object_key == obj.key
        )
    ).first()
    if request.form.get("reset"):
        if override is not None:
            db.session.delete(override)
        audit_record("erp.mapping_reset", target=f"{connection.name}/{obj.key}")
        db.session.commit()
        flash(_("%(object)s: back to the connector's mapping.", object=obj.label), "success")
        return redirect(url_for("erp.mapping", connection_id=connection.id))
    externals = request.form.getlist("external")
    crms = request.form.getlist("crm")
    policies = request.form.getlist("policy")
    fields = [
        {"external": e.strip(), "crm": c.strip(), "policy": p.strip()}
        for e, c, p in zip(externals, crms, policies, strict=False)
        if e.strip() or c.strip()
    ]
    direction = request.form.get("direction") or obj.direction
    errors = check_mapping(obj, direction, fields)
    if errors:
        db.session.rollback()
        return render_template(
            "erp/mapping.html",
            connection=connection,
            objects=objects_of(connection, connector),
            crm_fields={k: crm_fields_for(k) for k in CRM_FIELDS},
            policies=POLICIES,
            directions=DIRECTIONS,
            errors=errors,
            failed_key=obj.key,
            failed_fields=fields,
        ), 400
    if override is None:
        override = ObjectMapping(connection_id=connection.id, object_key=obj.key)
        db.session.add(override)
    override.direction = direction
    override.enabled = request.form.get("enabled") == "on"
    override.fields = fields
    audit_record(
        "erp.mapping_saved",
        target=f"{connection.name}/{obj.key}",
        details={"fields": len(fields), "direction": direction},
    )
    db.session.commit()
    flash(
        _("%(object)s: mapping saved. The next sync applies it to every record.", object=obj.label),
        "success",
    )
    return redirect(url_for("erp.mapping", connection_id=connection.id) + f"#object-{obj.key}")


@bp.post("/<connection_id>/resync")
@require_permission("erp.manage")
def connection_resync(connection_id: str) -> Any:
    """Forget the cursors: the next run reads everything again (unchanged records are
    still skipped by their content hash)."""
    connection = _connection(connection_id)
    for row in db.session.scalars(
        select(SyncCursor).where(SyncCursor.connection_id == connection.id)
    ):
        row.cursor = None
    audit_record("erp.cursors_reset", target=connection.name)
    db.session.commit()
    flash(_("The next sync reads every record again."), "success")
    return redirect(url_for("erp.connection", connection_id=connection.id))


# --------------------------------------------------------------------------- runs


@bp.get("/runs")
@require_permission("erp.read")
def runs() -> Any:
    """Every run, newest first (filter by connection)."""
    stmt = select(SyncRun).order_by(SyncRun.created_at.desc())
    selected = parse_uuid(request.args.get("connection"))
    if selected:
        stmt = stmt.where(SyncRun.connection_id == selected)
    return _paged_list(
        stmt,
        "erp/runs.html",
        selected=selected,
    )


@bp.get("/runs/<run_id>")
@require_permission("erp.read")
def run(run_id: str) -> Any:
    """A run with its counts, log and a live progress bar."""
    row = get_or_404(SyncRun, run_id)
    connection = _connection(row.connection_id)
    return render_template("erp/run.html", run=row, connection=connection)


@bp.get("/runs/<run_id>/progress")
@require_permission("erp.read")
def run_progress(run_id: str) -> Any:
    """The progress fragment htmx polls while the run goes on."""
    row = get_or_404(SyncRun, run_id)
    return render_template("erp/_progress.html", run=row)


# --------------------------------------------------------------------------- ledger


@bp.get("/ledger")
@require_permission("erp.read")
def ledger() -> Any:
    """The sync ledger: every synced record, filter by connection, object, state, id."""
    stmt = select(LedgerEntry).order_by(LedgerEntry.last_synced_at.desc(), LedgerEntry.id)
    selected = parse_uuid(request.args.get("connection"))
    if selected:
        stmt = stmt.where(LedgerEntry.connection_id == selected)
    obj = (request.args.get("object") or "").strip()[:60]
    if obj:
        stmt = stmt.where(LedgerEntry.object_key == obj)
    state = (request.args.get("state") or "").strip()[:20]
    if state:
        stmt = stmt.where(LedgerEntry.state == state)
    q = (request.args.get("q") or "").strip()[:200]
    if q:
        stmt = stmt.where(LedgerEntry.external_id == q)
    return _paged_list(
        stmt,
        "erp/ledger.html",
        selected=selected,
        obj=obj,
        state=state,
        q=q,
    )


def crm_url(entry: LedgerEntry) -> str | None:
    """The CRM page of a ledger entry's record, when it has one."""
    if entry.crm_id is None:
        return None
    endpoints = {
        "account": ("workspace.account", "account_id"),
        "contact": ("workspace.contact", "contact_id"),
        "order": ("workspace.order", "order_id"),
    }
    target = endpoints.get(entry.crm_kind)
    if target is None:
        return None
    return url_for(target[0], **{target[1]: entry.crm_id})


bp.add_app_template_global(crm_url, "erp_crm_url")


# --------------------------------------------------------------------------- dead letters


@bp.get("/dead-letters")
@require_permission("erp.read")
def dead_letters() -> Any:
    """Records that failed, with their error and a replay button."""
    status = request.args.get("status") or "open"
    stmt = select(DeadLetter).order_by(DeadLetter.last_attempt_at.desc())
    if status in ("open", "resolved", "dismissed"):
        stmt = stmt.where(DeadLetter.status == status)
    return _paged_list(
        stmt,
        "erp/dead_letters.html",
        status=status,
    )


@bp.get("/dead-letters/<letter_id>")
@require_permission("erp.read")
def dead_letter(letter_id: str) -> Any:
    """One failed record: its payload and error."""
    letter = get_or_404(DeadLetter, letter_id)
    connection = _connection(letter.connection_id)
    return render_template("erp/dead_letter.html", letter=letter, connection=connection)


@bp.post("/dead-letters/<letter_id>/replay")
@require_permission("erp.manage")
def dead_letter_replay(letter_id: str) -> Any:
    """Apply the failed record again (after fixing what it refers to or the mapping)."""
    letter = get_or_404(DeadLetter, letter_id)
    if letter.status != "open":
        flash(_("This record is not waiting any more."), "error")
        return redirect(url_for("erp.dead_letter", letter_id=letter.id))
    ok, message = replay(letter)
    db.session.commit()
    if ok:
        flash(_("Replayed: the record is in the CRM."), "success")
    else:
        flash(_("The record failed again: %(error)s", error=message), "error")
    return redirect(url_for("erp.dead_letter", letter_id=letter.id))


@bp.post("/dead-letters/<letter_id>/dismiss")
@require_permission("erp.manage")
def dead_letter_dismiss(letter_id: str) -> Any:
    """Give up on a failed record (kept for the record)."""
    letter = get_or_404(DeadLetter, letter_id)
    if letter.status == "open":
        letter.status, letter.resolved_at = "dismissed", utcnow()
        audit_record("erp.dead_letter_dismissed", details={"letter": str(letter.id)})
        db.session.commit()
    return redirect(url_for("erp.dead_letters"))


# --------------------------------------------------------------------------- webhook


@hooks.post("/<tenant>/<connection_id>")
@csrf_exempt
def webhook(tenant: str, connection_id: str) -> Any:
    """Records posted by an ERP, signed with the connection's webhook secret.

    401 when the signature is missing, wrong or older than five minutes; 400 (with the
    errors per record) when the body is not a valid drop; 404 when there is no such
    file/webhook connection with a secret (or the module is off). Nothing is stored
    unless everything is right; then the records are queued and a run starts.
    """
    row = db.session.scalars(select(Tenant).where(Tenant.slug == tenant)).first()
    cid = parse_uuid(connection_id)
    if row is None or cid is None:
        abort(404)
    if (request.content_length or 0) > file_connector.MAX_WEBHOOK_BYTES:
        return jsonify(error="too_large"), 413
    body = request.get_data(cache=False)
    if len(body) > file_connector.MAX_WEBHOOK_BYTES:
        return jsonify(error="too_large"), 413
    with tenant_context(row):
        if not module_enabled("erp"):
            abort(404)
        if over_rate_limit("120 per minute", "erp-hook", str(cid)):
            return jsonify(error="rate_limited"), 429
        connection = db.session.get(Connection, (row.id, cid))
        secret = (
            unseal((connection.settings or {}).get("webhook_secret"), purpose=CREDENTIALS)
            if connection
            else None
        )
        if connection is None or connection.connector_key != "file" or not secret:
            abort(404)
        problem = file_connector.verify_signature(
            secret, request.headers.get(file_connector.SIGNATURE_HEADER), body
        )
        if problem:
            log.warning("erp webhook %s refused: %s", connection.id, problem)
            return jsonify(error="invalid_signature"), 401
        if not connection.enabled:
            return jsonify(error="connection_paused"), 409
        drop = file_connector.read_json(body, limit=file_connector.MAX_WEBHOOK_BYTES)
        if drop.errors:
            db.session.rollback()
            return jsonify(error="invalid_payload", errors=drop.errors), 400
        count = file_connector.store(connection.id, drop, "webhook")
        run = active_run(connection)
        if run is None or run.status != "queued":
            run = start_run(connection, "webhook")
        db.session.commit()
        return jsonify(accepted=count, run=str(run.id)), 202


__all__ = ["bp", "hooks", "InboxRecord"]
