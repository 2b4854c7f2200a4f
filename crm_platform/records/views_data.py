"""Search, the trash, duplicates and the merge screen."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import DateTime, Uuid, literal, select, tuple_

from ..access import require_permission
from ..customers import RECORD_MODELS
from ..extensions import db
from ..ids import parse_uuid
from ..plugins import collect
from ..provisioning import ValidationFailed
from ..web import tenant_bp
from .duplicates import candidate_pairs, dismiss
from .forms import ButtonForm
from .labels import SEARCH_KIND_LABELS
from .merge import merge_fields, merge_records
from .pages import membership
from .search import MAX_QUERY
from .service import get_record
from .views import ID_ARGS, record_url
from .visibility import visible_clause

SEARCH_LIMIT = 20
TRASH_PAGE = 50


def _kind() -> str:
    kind = request.args.get("kind", "account")
    if kind not in RECORD_MODELS:
        abort(404)
    return kind


# --------------------------------------------------------------------------- search


@tenant_bp.get("/search")
@require_permission("records.read")
def search() -> Any:
    """Search every module at once; results grouped by kind."""
    query = " ".join(request.args.get("q", "").split())[:MAX_QUERY]
    groups: dict[str, list[Any]] = {}
    if query:
        results = collect("crm_search", query=query, membership=membership(), limit=SEARCH_LIMIT)
        core = [k for k in SEARCH_KIND_LABELS]
        ordered = sorted(
            results,
            key=lambda r: (
                core.index(r.kind) if r.kind in core else len(core),
                str(r.kind),
                -r.score,
            ),
        )
        for result in ordered:
            groups.setdefault(result.kind, []).append(result)
    labels = {k: SEARCH_KIND_LABELS.get(k, k) for k in groups}
    return render_template("records/search.html", query=query, groups=groups, labels=labels)


# --------------------------------------------------------------------------- trash


def _trash_cursor(row: Any) -> str:
    at = row.deleted_at.isoformat()
    return base64.urlsafe_b64encode(json.dumps([at, str(row.id)]).encode()).decode().rstrip("=")


def _read_trash_cursor(raw: str) -> tuple[datetime, Any]:
    try:
        at, rid = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        when, record_id = datetime.fromisoformat(at), parse_uuid(rid)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        abort(400, description=_("Bad page cursor."))
        raise AssertionError from exc  # abort raises
    if record_id is None:
        abort(400, description=_("Bad page cursor."))
    return when, record_id


@tenant_bp.get("/trash")
@require_permission("records.delete")
def trash() -> Any:
    """Deleted accounts or contacts, newest first, with a restore button each."""
    kind = _kind()
    model = RECORD_MODELS[kind]
    stmt = select(model).where(model.deleted_at.is_not(None))
    clause = visible_clause(model, membership())
    if clause is not None:
        stmt = stmt.where(clause)
    before = request.args.get("before", "")
    if before:
        if len(before) > 500:
            abort(400, description=_("Bad page cursor."))
        when, record_id = _read_trash_cursor(before)
        after = tuple_(literal(when, DateTime(timezone=True)), literal(record_id, Uuid()))
        stmt = stmt.where(tuple_(model.deleted_at, model.id) < after)
    stmt = stmt.order_by(model.deleted_at.desc(), model.id.desc()).limit(TRASH_PAGE + 1)
    rows = list(db.session.execute(stmt).unique().scalars())
    more = len(rows) > TRASH_PAGE
    rows = rows[:TRASH_PAGE]
    return render_template(
        "records/trash.html",
        kind=kind,
        rows=rows,
        next_cursor=_trash_cursor(rows[-1]) if more else None,
        button_form=ButtonForm(),
    )


# --------------------------------------------------------------------------- duplicates


@tenant_bp.get("/duplicates")
@require_permission("records.delete")
def duplicates() -> Any:
    """Pairs of records that look like the same customer, to merge or to dismiss."""
    kind = _kind()
    pairs = candidate_pairs(kind, membership())
    return render_template(
        "records/duplicates.html", kind=kind, pairs=pairs, button_form=ButtonForm()
    )


@tenant_bp.post("/duplicates/dismiss")
@require_permission("records.delete")
def duplicate_dismiss() -> Any:
    """Mark a pair as "not duplicates": it is not suggested again."""
    kind = request.form.get("kind", "")
    if kind not in RECORD_MODELS or not ButtonForm().validate_on_submit():
        abort(400)
    first = get_record(kind, request.form.get("first"), membership())
    second = get_record(kind, request.form.get("second"), membership())
    if first.id == second.id:
        abort(400)
    dismiss(kind, first.id, second.id, by=current_user)
    db.session.commit()
    flash(_("The pair will not be suggested again."), "success")
    return redirect(url_for("workspace.duplicates", kind=kind)), 303


# --------------------------------------------------------------------------- merge


def _merge(kind: str, survivor_id: str, other_id: str) -> Any:
    survivor = get_record(kind, survivor_id, membership())
    other = get_record(kind, other_id, membership())
    if survivor.id == other.id:
        abort(404)
    form = ButtonForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        choices = {k: v for k, v in request.form.items() if k != "csrf_token"}
        try:
            merge_records(survivor, other, choices, actor=current_user)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            db.session.commit()
            flash(
                _(
                    "%(other)s was merged into %(name)s.",
                    other=other.display_name,
                    name=survivor.display_name,
                ),
                "success",
            )
            return redirect(record_url(kind, survivor)), 303
    elif request.method == "POST":
        abort(400)
    endpoint = f"workspace.{kind}_merge"
    swap = url_for(endpoint, **{ID_ARGS[kind]: other.id, "other_id": survivor.id})
    return (
        render_template(
            "records/merge.html",
            kind=kind,
            survivor=survivor,
            other=other,
            fields=merge_fields(survivor, other),
            errors=errors,
            chosen=request.form,
            form=form,
            swap_url=swap,
        ),
        400 if errors else 200,
    )


@tenant_bp.route("/accounts/<account_id>/merge/<other_id>", methods=["GET", "POST"])
@require_permission("records.delete")
def account_merge(account_id: str, other_id: str) -> Any:
    """Merge account ``other_id`` into ``account_id``, choosing per conflicting field."""
    return _merge("account", account_id, other_id)


@tenant_bp.route("/contacts/<contact_id>/merge/<other_id>", methods=["GET", "POST"])
@require_permission("records.delete")
def contact_merge(contact_id: str, other_id: str) -> Any:
    """Merge contact ``other_id`` into ``contact_id``, choosing per conflicting field."""
    return _merge("contact", contact_id, other_id)
