"""The module's settings pages: general and web form, pipelines and stages, scoring rules,
assignment rules. For members who hold ``sfa.manage`` (owners and admins)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm_platform.sdk import ValidationFailed, db, get_or_404, require_permission

from . import assignment, pipelines, scoring
from .blueprint import bp, member_choices
from .forms import (
    AssignmentRuleForm,
    ButtonForm,
    PipelineForm,
    ScoringRuleForm,
    SettingsForm,
    StageForm,
    apply_errors,
    options,
)
from .jobs import rescore_leads
from .models import AssignmentRule, Pipeline, ScoringRule, Stage
from .settings import new_webform_key, sales_settings, save_sales_settings
from .webform import snippet

MANAGE = "sfa.manage"


def _webform_url(key: str) -> str:
    """The form's absolute address (``CRM_BASE_URL``: what visitors of the tenant's site see)."""
    return current_app.config["BASE_URL"] + url_for("sfa.webform", form_key=key)


@bp.route("/settings", methods=["GET", "POST"])
@require_permission(MANAGE)
def settings() -> Any:
    """Currency, the pool's days, lead sources, and the web-to-lead form with its snippet."""
    current = sales_settings()
    form = SettingsForm()
    status = 200
    if request.method == "GET":
        form.currency.data = current.currency
        form.pool_days.data = current.pool_days
        form.lead_sources.data = "\n".join(current.lead_sources)
        form.webform_enabled.data = current.webform_enabled
        form.webform_thanks.data = current.webform_thanks
    elif form.validate_on_submit():
        try:
            save_sales_settings(
                {
                    "currency": form.currency.data,
                    "pool_days": form.pool_days.data if form.pool_days.data is not None else "",
                    "lead_sources": form.lead_sources.data or "",
                    "webform_enabled": form.webform_enabled.data,
                    "webform_thanks": form.webform_thanks.data or "",
                }
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "currency")
            status = 400
        else:
            db.session.commit()
            flash(_("Sales settings saved."), "success")
            return redirect(url_for("sfa.settings")), 303
    else:
        status = 400
    url = _webform_url(current.webform_key)
    return (
        render_template(
            "sfa/settings.html",
            form=form,
            settings=current,
            webform_url=url,
            snippet=snippet(url, _("Contact us")),
            button_form=ButtonForm(),
        ),
        status,
    )


@bp.post("/settings/webform/rotate")
@require_permission(MANAGE)
def webform_rotate() -> Any:
    """Give the web form a new address (the old embed stops working)."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    save_sales_settings({"webform_key": new_webform_key()})
    db.session.commit()
    flash(_("The web form has a new address: update the snippet on your site."), "success")
    return redirect(url_for("sfa.settings")), 303


# --------------------------------------------------------------------------- pipelines


def _pipelines_page(new_form: PipelineForm | None = None, status: int = 200) -> Any:
    by_pipeline = pipelines.stages_by_pipeline()
    return (
        render_template(
            "sfa/pipelines.html",
            pipelines=pipelines.all_pipelines(),
            stages=by_pipeline,
            new_form=new_form or PipelineForm(),
            stage_form=StageForm(),
            button_form=ButtonForm(),
            outcome_labels=pipelines.OUTCOME_LABELS,
        ),
        status,
    )


def _done(message: str, anchor: str = "") -> Any:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("sfa.pipeline_settings") + anchor), 303


def _failed(exc: ValidationFailed) -> Any:
    db.session.rollback()
    flash(" ".join(str(v) for v in exc.errors.values()), "error")
    return redirect(url_for("sfa.pipeline_settings")), 303


@bp.route("/settings/pipelines", methods=["GET", "POST"])
@require_permission(MANAGE)
def pipeline_settings() -> Any:
    """Every pipeline with its stages; a new pipeline starts with the default stages."""
    form = PipelineForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _pipelines_page(form, 400)
        try:
            row = pipelines.create_pipeline(
                form.name.data, pipelines.default_stages(), actor=current_user
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "name")
            return _pipelines_page(form, 400)
        return _done(_("Pipeline “%(name)s” created.", name=row.name), f"#pipeline-{row.id}")
    return _pipelines_page(form)


def _pipeline_action(pipeline_id: str, action: Any, message: str) -> Any:
    row = get_or_404(Pipeline, pipeline_id)
    form = PipelineForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(row, form)
    except ValidationFailed as exc:
        return _failed(exc)
    return _done(message % {"name": row.name})


@bp.post("/settings/pipelines/<pipeline_id>")
@require_permission(MANAGE)
def pipeline_rename(pipeline_id: str) -> Any:
    """Rename a pipeline."""
    return _pipeline_action(
        pipeline_id,
        lambda row, form: pipelines.rename_pipeline(row, form.name.data, actor=current_user),
        _("Pipeline “%(name)s” saved."),
    )


@bp.post("/settings/pipelines/<pipeline_id>/default")
@require_permission(MANAGE)
def pipeline_default(pipeline_id: str) -> Any:
    """Make a pipeline the default one."""
    return _pipeline_action(
        pipeline_id,
        lambda row, form: pipelines.make_default(row, actor=current_user),
        _("“%(name)s” is the default pipeline."),
    )


@bp.post("/settings/pipelines/<pipeline_id>/delete")
@require_permission(MANAGE)
def pipeline_delete(pipeline_id: str) -> Any:
    """Delete a pipeline no deal is in."""
    return _pipeline_action(
        pipeline_id,
        lambda row, form: pipelines.delete_pipeline(row, actor=current_user),
        _("Pipeline “%(name)s” deleted."),
    )


def _stage_data(form: StageForm) -> dict[str, Any]:
    return {n: form[n].data for n in ("name", "probability", "rotting_days", "outcome")}


@bp.post("/settings/pipelines/<pipeline_id>/stages")
@require_permission(MANAGE)
def stage_new(pipeline_id: str) -> Any:
    """Add a stage to a pipeline."""
    row = get_or_404(Pipeline, pipeline_id)
    form = StageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        stage = pipelines.add_stage(row, _stage_data(form), actor=current_user)
    except ValidationFailed as exc:
        return _failed(exc)
    return _done(_("Stage “%(name)s” added.", name=stage.name), f"#pipeline-{row.id}")


def _stage_action(stage_id: str, action: Any, message: str) -> Any:
    stage = get_or_404(Stage, stage_id)
    form = StageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(stage, form)
    except ValidationFailed as exc:
        return _failed(exc)
    return _done(message % {"name": stage.name}, f"#pipeline-{stage.pipeline_id}")


@bp.post("/settings/stages/<stage_id>")
@require_permission(MANAGE)
def stage_update(stage_id: str) -> Any:
    """Change a stage's name, probability, rotting days or outcome."""
    return _stage_action(
        stage_id,
        lambda stage, form: pipelines.update_stage(stage, _stage_data(form), actor=current_user),
        _("Stage “%(name)s” saved."),
    )


@bp.post("/settings/stages/<stage_id>/up")
@require_permission(MANAGE)
def stage_up(stage_id: str) -> Any:
    """Move a stage one column to the left."""
    return _stage_action(
        stage_id, lambda stage, form: pipelines.move_stage(stage, -1), _("“%(name)s” moved.")
    )


@bp.post("/settings/stages/<stage_id>/down")
@require_permission(MANAGE)
def stage_down(stage_id: str) -> Any:
    """Move a stage one column to the right."""
    return _stage_action(
        stage_id, lambda stage, form: pipelines.move_stage(stage, 1), _("“%(name)s” moved.")
    )


@bp.post("/settings/stages/<stage_id>/delete")
@require_permission(MANAGE)
def stage_delete(stage_id: str) -> Any:
    """Delete a stage no deal is in."""
    return _stage_action(
        stage_id,
        lambda stage, form: pipelines.delete_stage(stage, actor=current_user),
        _("Stage “%(name)s” deleted."),
    )


# --------------------------------------------------------------------------- scoring


@bp.route("/settings/scoring", methods=["GET", "POST"])
@require_permission(MANAGE)
def scoring_settings() -> Any:
    """The scoring rules; changing them rescores every open lead (a job)."""
    form = ScoringRuleForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                scoring.add_rule(form.data, actor=current_user)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_errors(form, exc.errors, "points")
            else:
                rescore_leads.enqueue_after_commit()
                db.session.commit()
                flash(_("Rule added; lead scores are being updated."), "success")
                return redirect(url_for("sfa.scoring_settings")), 303
        status = 400
    rules = [(rule, scoring.describe(rule)) for rule in scoring.all_rules()]
    return (
        render_template("sfa/scoring.html", form=form, rules=rules, button_form=ButtonForm()),
        status,
    )


@bp.post("/settings/scoring/<rule_id>/delete")
@require_permission(MANAGE)
def scoring_delete(rule_id: str) -> Any:
    """Remove a scoring rule."""
    rule = get_or_404(ScoringRule, rule_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    scoring.delete_rule(rule, actor=current_user)
    rescore_leads.enqueue_after_commit()
    db.session.commit()
    flash(_("Rule removed; lead scores are being updated."), "success")
    return redirect(url_for("sfa.scoring_settings")), 303


# --------------------------------------------------------------------------- assignment


@bp.route("/settings/assignment", methods=["GET", "POST"])
@require_permission(MANAGE)
def assignment_settings() -> Any:
    """The assignment rules, tried in order; the first that matches a new lead assigns it."""
    form = AssignmentRuleForm()
    form.member_ids.choices = options(member_choices())
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                assignment.add_rule(form.data, actor=current_user)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_errors(form, exc.errors, "name")
            else:
                db.session.commit()
                flash(_("Assignment rule added."), "success")
                return redirect(url_for("sfa.assignment_settings")), 303
        status = 400
    names = dict(member_choices())
    return (
        render_template(
            "sfa/assignment.html",
            form=form,
            rules=assignment.all_rules(),
            names=names,
            match_labels=assignment.MATCH_FIELDS,
            button_form=ButtonForm(),
        ),
        status,
    )


def _rule_action(rule_id: str, action: Any) -> Any:
    rule = get_or_404(AssignmentRule, rule_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    action(rule)
    db.session.commit()
    flash(_("Assignment rules saved."), "success")
    return redirect(url_for("sfa.assignment_settings")), 303


@bp.post("/settings/assignment/<rule_id>/toggle")
@require_permission(MANAGE)
def assignment_toggle(rule_id: str) -> Any:
    """Switch a rule on or off."""
    return _rule_action(rule_id, lambda rule: setattr(rule, "active", not rule.active))


@bp.post("/settings/assignment/<rule_id>/up")
@require_permission(MANAGE)
def assignment_up(rule_id: str) -> Any:
    """Try a rule earlier."""
    return _rule_action(rule_id, lambda rule: assignment.move_rule(rule, -1))


@bp.post("/settings/assignment/<rule_id>/down")
@require_permission(MANAGE)
def assignment_down(rule_id: str) -> Any:
    """Try a rule later."""
    return _rule_action(rule_id, lambda rule: assignment.move_rule(rule, 1))


@bp.post("/settings/assignment/<rule_id>/delete")
@require_permission(MANAGE)
def assignment_delete(rule_id: str) -> Any:
    """Remove a rule."""
    return _rule_action(rule_id, lambda rule: assignment.delete_rule(rule, actor=current_user))
