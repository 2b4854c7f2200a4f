"""E-mail templates and sequences (drip): their pages, enrolling, stopping."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from wtforms.fields import SelectChoice

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    db,
    get_or_404,
    has_permission,
    require_permission,
    utcnow,
)

from .forms import ButtonForm, SequenceForm, TemplateForm, sequence_steps
from .merge import all_merge_fields, check_template
from .models import EmailTemplate, Enrollment, Segment, Sequence
from .sequences import (
    STEP_KINDS,
    STEP_LABELS,
    STOP_REASONS,
    enroll,
    enroll_segment,
    save_sequence,
    steps_of,
)
from .suppression import topics
from .web import bp, require_button, safe_next

# --------------------------------------------------------------------------- templates


@bp.get("/templates")
@require_permission("marketing.read")
def templates() -> Any:
    """The workspace's e-mail templates."""
    rows = db.session.scalars(select(EmailTemplate).order_by(EmailTemplate.name)).all()
    return render_template(
        "marketing/templates.html", templates=rows, can_manage=has_permission("marketing.manage")
    )


def _template_page(template: EmailTemplate | None) -> Any:
    form = TemplateForm(obj=template)
    if form.validate_on_submit():
        errors: dict[str, str] = {}
        for name in ("subject", "body_html"):
            try:
                check_template(form[name].data, name)
            except ValueError as exc:
                errors[name] = str(exc)
        clash = select(EmailTemplate.id).where(
            func.lower(EmailTemplate.name) == form.name.data.strip().lower()
        )
        if template is not None:
            clash = clash.where(EmailTemplate.id != template.id)
        if db.session.scalar(clash):
            errors["name"] = _("Another template has this name.")
        for name, message in errors.items():
            form[name].errors = [message]
        if not errors:
            if template is None:
                template = EmailTemplate()
                db.session.add(template)
            template.name = " ".join(form.name.data.split())
            template.subject = form.subject.data.strip()
            template.body_html = form.body_html.data.strip()
            template.updated_at = utcnow()
            db.session.commit()
            flash(_("Template “%(name)s” saved.", name=template.name), "success")
            return redirect(url_for("marketing.templates"))
    return (
        render_template(
            "marketing/template_form.html",
            form=form,
            template=template,
            merge_fields=all_merge_fields(),
            button_form=ButtonForm(),
        ),
        400 if form.errors else 200,
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@require_permission("marketing.manage")
def template_new() -> Any:
    """Write an e-mail template."""
    return _template_page(None)


@bp.route("/templates/<template_id>", methods=["GET", "POST"])
@require_permission("marketing.manage")
def template_edit(template_id: str) -> Any:
    """Change an e-mail template."""
    return _template_page(get_or_404(EmailTemplate, template_id))


@bp.post("/templates/<template_id>/delete")
@require_permission("marketing.manage")
def template_delete(template_id: str) -> Any:
    """Delete a template (campaigns made from it keep their copy)."""
    found = get_or_404(EmailTemplate, template_id)
    require_button(ButtonForm())
    db.session.delete(found)
    db.session.commit()
    flash(_("Template deleted."), "success")
    return redirect(url_for("marketing.templates")), 303


# --------------------------------------------------------------------------- sequences


@bp.get("/sequences")
@require_permission("marketing.read")
def sequences() -> Any:
    """Every sequence with its enrollments by state."""
    rows = db.session.scalars(select(Sequence).order_by(Sequence.name)).all()
    counts: dict[Any, dict[str, int]] = {}
    for sid, status, n in db.session.execute(
        select(Enrollment.sequence_id, Enrollment.status, func.count()).group_by(
            Enrollment.sequence_id, Enrollment.status
        )
    ):
        counts.setdefault(sid, {})[status] = int(n)
    return render_template(
        "marketing/sequences.html",
        sequences=rows,
        counts=counts,
        can_manage=has_permission("marketing.manage"),
    )


def _step_rows(sequence: Sequence | None) -> list[dict[str, Any]]:
    if request.method == "POST":
        rows = sequence_steps(request.form)
    elif sequence is not None:
        rows = [
            {
                "kind": s.kind,
                "delay_hours": s.delay_hours,
                "subject": s.subject,
                "body_html": s.body_html,
            }
            for s in steps_of(sequence)
        ]
    else:
        rows = []
    return rows + [{"kind": "email", "delay_hours": 24, "subject": "", "body_html": ""}] * 2


def _sequence_page(sequence: Sequence | None) -> Any:
    form = SequenceForm(obj=sequence)
    form.topic.choices = [SelectChoice(k, v) for k, v in topics().items()]
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        data = {
            "name": form.name.data,
            "topic": form.topic.data,
            "status": form.status.data,
            "from_name": form.from_name.data,
            "steps": sequence_steps(request.form),
        }
        try:
            sequence = save_sequence(data, sequence=sequence)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = dict(exc.errors)
            for name in ("name", "topic", "status", "from_name"):
                if name in errors:
                    form[name].errors = [errors[name]]
        else:
            db.session.commit()
            flash(_("Sequence “%(name)s” saved.", name=sequence.name), "success")
            return redirect(url_for("marketing.sequence", sequence_id=sequence.id))
    return (
        render_template(
            "marketing/sequence_form.html",
            form=form,
            sequence=sequence,
            steps=_step_rows(sequence),
            step_kinds=[(k, STEP_LABELS[k]) for k in STEP_KINDS],
            errors=errors,
            merge_fields=all_merge_fields(),
        ),
        400 if errors or form.errors else 200,
    )


@bp.route("/sequences/new", methods=["GET", "POST"])
@require_permission("marketing.manage")
def sequence_new() -> Any:
    """Write a sequence."""
    return _sequence_page(None)


@bp.route("/sequences/<sequence_id>/edit", methods=["GET", "POST"])
@require_permission("marketing.manage")
def sequence_edit(sequence_id: str) -> Any:
    """Change a sequence and its steps."""
    return _sequence_page(get_or_404(Sequence, sequence_id))


@bp.get("/sequences/<sequence_id>")
@require_permission("marketing.read")
def sequence(sequence_id: str) -> Any:
    """A sequence: its steps, its enrollments, enrolling a segment."""
    found = get_or_404(Sequence, sequence_id)
    enrollments = db.session.execute(
        select(Enrollment, Contact)
        .join(
            Contact,
            (Contact.tenant_id == Enrollment.tenant_id) & (Contact.id == Enrollment.contact_id),
        )
        .where(Enrollment.sequence_id == found.id)
        .order_by(Enrollment.enrolled_at.desc())
        .limit(200)
    ).all()
    segments = db.session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
    return render_template(
        "marketing/sequence.html",
        sequence=found,
        steps=steps_of(found),
        step_labels=STEP_LABELS,
        enrollments=enrollments,
        stop_reasons=STOP_REASONS,
        segments=segments,
        form=ButtonForm(),
        can_send=has_permission("marketing.send"),
        can_manage=has_permission("marketing.manage"),
    )


@bp.post("/sequences/<sequence_id>/enroll")
@require_permission("marketing.send")
def sequence_enroll(sequence_id: str) -> Any:
    """Enroll a segment's contacts (``segment_id``)."""
    found = get_or_404(Sequence, sequence_id)
    segment = get_or_404(Segment, request.form.get("segment_id", ""))
    require_button(ButtonForm())
    return _enrolled(found, lambda: enroll_segment(found, segment), None)


@bp.post("/sequences/enroll-contact")
@require_permission("marketing.send")
def sequence_enroll_contact() -> Any:
    """Enroll one contact (``contact_id``) in a sequence (``sequence_id``), from the
    contact's Marketing panel."""
    found = get_or_404(Sequence, request.form.get("sequence_id", ""))
    contact = get_or_404(Contact, request.form.get("contact_id", ""))
    require_button(ButtonForm())
    return _enrolled(found, lambda: enroll(found, [contact.id]), request.form.get("next"))


def _enrolled(found: Sequence, work: Any, next_url: str | None) -> Any:
    back = safe_next(next_url, url_for("marketing.sequence", sequence_id=found.id))
    try:
        added = work()
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
        return redirect(back), 303
    db.session.commit()
    flash(_("%(num)d contacts enrolled.", num=added), "success")
    return redirect(back), 303


@bp.post("/sequences/<sequence_id>/enrollments/<enrollment_id>/stop")
@require_permission("marketing.send")
def enrollment_stop(sequence_id: str, enrollment_id: str) -> Any:
    """Stop one contact's enrollment by hand."""
    found = get_or_404(Sequence, sequence_id)
    enrollment = get_or_404(Enrollment, enrollment_id)
    if enrollment.sequence_id != found.id:
        abort(404)
    require_button(ButtonForm())
    if enrollment.status == "active":
        enrollment.status, enrollment.stop_reason = "stopped", "manual"
        enrollment.finished_at, enrollment.next_run_at = utcnow(), None
        db.session.commit()
    back = safe_next(request.form.get("next"), url_for("marketing.sequence", sequence_id=found.id))
    return redirect(back), 303
