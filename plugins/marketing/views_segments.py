"""Segment pages: list, the builder (htmx rows, live count), a segment, static lists."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    current_user,
    db,
    get_or_404,
    has_permission,
    parse_uuid,
    require_permission,
)

from .forms import ButtonForm, builder_state
from .jobs import refresh_segment_job
from .models import Campaign, Segment
from .segment_compiler import clean_definition, count_members, empty_definition
from .segment_fields import (
    DAYS_VALUE,
    GROUPS,
    LIST_VALUE,
    NO_VALUE,
    OPERATOR_LABELS,
    PAIR_VALUE,
    field_catalogue,
)
from .segments import (
    add_members,
    copy_to_static,
    create_segment,
    delete_segment,
    members_page,
    remove_member,
    update_segment,
)
from .web import bp, is_htmx, require_button, safe_next


def describe(definition: dict[str, Any], catalogue: dict[str, Any]) -> list[dict[str, Any]]:
    """A definition as sentences for people, group by group."""
    out = []
    for group in definition.get("groups") or []:
        lines = []
        for rule in group.get("rules") or []:
            f = catalogue.get(rule.get("field"))
            if f is None:
                continue
            value = rule.get("value")
            labels = dict(f.choices)
            if isinstance(value, list):
                shown = " – " if rule["op"] in PAIR_VALUE else ", "
                value = shown.join(str(labels.get(v, v)) for v in value)
            elif rule["op"] in DAYS_VALUE:
                value = _("%(days)s days", days=value)
            elif f.type == "segment":
                other = db.session.scalar(
                    select(Segment.name).where(Segment.id == parse_uuid(value))
                )
                value = other or "—"
            elif value is not None:
                value = labels.get(value, value)
            lines.append(
                {
                    "field": f.label,
                    "op": OPERATOR_LABELS[rule["op"]],
                    "value": "" if value is None else value,
                }
            )
        out.append({"match": group.get("match", "all"), "rules": lines})
    return out


def _segment_choices(exclude: Any = None) -> list[tuple[str, str]]:
    rows = db.session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
    return [(str(i), n) for i, n in rows if i != exclude]


def _builder_context(
    state: dict[str, Any], errors: dict[str, str], segment: Segment | None
) -> dict[str, Any]:
    catalogue = field_catalogue()
    grouped: dict[str, list[Any]] = defaultdict(list)
    for f in catalogue.values():
        grouped[f.group].append(f)
    return {
        "state": state,
        "errors": errors,
        "catalogue": catalogue,
        "grouped": [(GROUPS[k], grouped[k]) for k in GROUPS if grouped.get(k)],
        "operator_labels": OPERATOR_LABELS,
        "no_value": NO_VALUE,
        "list_value": LIST_VALUE,
        "pair_value": PAIR_VALUE,
        "days_value": DAYS_VALUE,
        "segment_choices": _segment_choices(segment.id if segment else None),
        "segment": segment,
    }


def _segment_data() -> dict[str, Any]:
    return {
        "name": request.form.get("name"),
        "description": request.form.get("description"),
        "kind": request.form.get("kind") or "dynamic",
        "refresh_hours": request.form.get("refresh_hours"),
        "definition": builder_state(request.form),
    }


@bp.get("/segments")
@require_permission("marketing.read")
def segments() -> Any:
    """Every segment and static list with its size."""
    rows = db.session.scalars(select(Segment).order_by(Segment.name)).all()
    return render_template(
        "marketing/segments.html", segments=rows, can_manage=has_permission("marketing.manage")
    )


def _form_page(segment: Segment | None) -> Any:
    kind = segment.kind if segment else (request.values.get("kind") or "dynamic")
    if kind not in ("dynamic", "static"):
        kind = "dynamic"
    errors: dict[str, str] = {}
    if request.method == "POST":
        state = builder_state(request.form)
        if request.form.get("action") == "save":
            if not ButtonForm().validate_on_submit():
                errors["definition"] = _("The form expired: send it again.")
            else:
                try:
                    data = _segment_data()
                    if segment is None:
                        segment = create_segment({**data, "kind": kind}, actor=current_user)
                    else:
                        update_segment(segment, data)
                except ValidationFailed as exc:
                    db.session.rollback()
                    errors = dict(exc.errors)
                else:
                    db.session.commit()
                    flash(_("Segment “%(name)s” saved.", name=segment.name), "success")
                    return redirect(url_for("marketing.segment", segment_id=segment.id))
    else:
        state = segment.definition if segment and segment.definition else empty_definition()
    values = {
        "name": request.form.get("name", segment.name if segment else ""),
        "description": request.form.get(
            "description", (segment.description or "") if segment else ""
        ),
        "refresh_hours": request.form.get(
            "refresh_hours", segment.refresh_hours if segment else 24
        ),
    }
    context = _builder_context(state, errors, segment)
    return (
        render_template(
            "marketing/segment_form.html", kind=kind, values=values, form=ButtonForm(), **context
        ),
        400 if errors else 200,
    )


@bp.route("/segments/new", methods=["GET", "POST"])
@require_permission("marketing.manage")
def segment_new() -> Any:
    """Build a segment (``?kind=static`` for a static list)."""
    return _form_page(None)


@bp.route("/segments/<segment_id>/edit", methods=["GET", "POST"])
@require_permission("marketing.manage")
def segment_edit(segment_id: str) -> Any:
    """Change a segment's name and conditions."""
    return _form_page(get_or_404(Segment, segment_id))


@bp.post("/segments/builder")
@require_permission("marketing.manage")
def segment_builder() -> Any:
    """The builder's rows again after a change (htmx): a field picked, a row added or
    removed."""
    segment = (
        get_or_404(Segment, request.form["segment_id"]) if request.form.get("segment_id") else None
    )
    state = builder_state(request.form)
    return render_template("marketing/_builder.html", **_builder_context(state, {}, segment))


@bp.post("/segments/count")
@require_permission("marketing.read")
def segment_count() -> Any:
    """How many contacts the builder's conditions match now (htmx), or why none can."""
    sid = parse_uuid(request.form.get("segment_id", ""))
    try:
        definition = clean_definition(builder_state(request.form), segment_id=sid)
    except ValidationFailed as exc:
        return render_template("marketing/_count.html", count=None, errors=exc.errors)
    return render_template("marketing/_count.html", count=count_members(definition), errors={})


@bp.get("/segments/<segment_id>")
@require_permission("marketing.read")
def segment(segment_id: str) -> Any:
    """A segment: its conditions, size, members and the campaigns sent to it."""
    found = get_or_404(Segment, segment_id)
    after = parse_uuid(request.args.get("after", ""))
    members = members_page(found, limit=50, after=after)
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.segment_id == found.id).order_by(Campaign.created_at.desc())
    ).all()
    live = count_members(found.definition) if found.kind == "dynamic" else None
    return render_template(
        "marketing/segment.html",
        segment=found,
        rules=describe(found.definition, field_catalogue()),
        members=members,
        more=members[-1].id if len(members) == 50 else None,
        live_count=live,
        campaigns=campaigns,
        form=ButtonForm(),
        can_manage=has_permission("marketing.manage"),
    )


@bp.post("/segments/<segment_id>/refresh")
@require_permission("marketing.manage")
def segment_refresh(segment_id: str) -> Any:
    """Materialise the segment's members now (a job)."""
    found = get_or_404(Segment, segment_id)
    require_button(ButtonForm())
    refresh_segment_job.enqueue_after_commit(str(found.id))
    db.session.commit()
    flash(_("The members of “%(name)s” are being refreshed.", name=found.name), "success")
    return redirect(url_for("marketing.segment", segment_id=found.id)), 303


@bp.post("/segments/<segment_id>/copy")
@require_permission("marketing.manage")
def segment_copy(segment_id: str) -> Any:
    """Keep today's members of a segment as a static list."""
    found = get_or_404(Segment, segment_id)
    require_button(ButtonForm())
    name = request.form.get("name") or _("%(name)s (copy)", name=found.name)
    try:
        static = copy_to_static(found, name, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("marketing.segment", segment_id=found.id)), 303
    db.session.commit()
    flash(_("Static list “%(name)s” saved.", name=static.name), "success")
    return redirect(url_for("marketing.segment", segment_id=static.id)), 303


@bp.post("/segments/<segment_id>/delete")
@require_permission("marketing.manage")
def segment_delete(segment_id: str) -> Any:
    """Delete a segment (campaigns sent to it keep their recipients)."""
    found = get_or_404(Segment, segment_id)
    require_button(ButtonForm())
    name = found.name
    delete_segment(found)
    db.session.commit()
    flash(_("Segment “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("marketing.segments")), 303


@bp.post("/lists/add")
@require_permission("marketing.manage")
def segment_add_member() -> Any:
    """Add a contact (``contact_id``) to a static list (``segment_id``), from the contact's
    Marketing panel."""
    found = get_or_404(Segment, request.form.get("segment_id", ""))
    require_button(ButtonForm())
    contact = get_or_404(Contact, request.form.get("contact_id", ""))
    try:
        add_members(found, [contact.id])
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
    else:
        db.session.commit()
        flash(
            _("%(name)s added to “%(list)s”.", name=contact.full_name, list=found.name), "success"
        )
    back = safe_next(request.form.get("next"), url_for("marketing.segment", segment_id=found.id))
    return redirect(back), 303


@bp.post("/segments/<segment_id>/members/<contact_id>/remove")
@require_permission("marketing.manage")
def segment_remove_member(segment_id: str, contact_id: str) -> Any:
    """Take a contact off a static list."""
    found = get_or_404(Segment, segment_id)
    contact = get_or_404(Contact, contact_id)
    require_button(ButtonForm())
    try:
        remove_member(found, contact.id)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
    else:
        db.session.commit()
    return redirect(url_for("marketing.segment", segment_id=found.id)), 303


@bp.context_processor
def _marketing_helpers() -> dict[str, Any]:
    return {"is_htmx": is_htmx}
