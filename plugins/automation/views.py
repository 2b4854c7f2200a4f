"""Pages of the automation module under ``/t/<slug>/automation``.

Rules, their run history, e-mail templates and approval policies need
``automation.manage``; approvals are decided by the members a policy names.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    ROLES,
    ValidationFailed,
    audit_record,
    automation_actions,
    current_user,
    db,
    get_or_404,
    login_required,
    require_permission,
)

from . import rules as builder
from .actions import check_template
from .approvals import decide, may_decide, member_choices, pending_for
from .engine import operator_labels, retry_run
from .models import ApprovalPolicy, ApprovalRequest, EmailTemplate, Rule, RuleRun

bp = Blueprint(
    "automation",
    __name__,
    url_prefix="/t/<tenant_slug>/automation",
    template_folder="templates",
)
MANAGE = "automation.manage"
RUNS_PAGE = 100


def _see_other(endpoint: str, **values: Any) -> Any:
    return redirect(url_for(endpoint, **values)), 303


# --------------------------------------------------------------------------- rules


@bp.get("/")
@require_permission(MANAGE)
def index() -> Any:
    """Every rule with its switch and the state of its last run."""
    rules = db.session.scalars(select(Rule).order_by(Rule.name)).all()
    return render_template("automation/index.html", rules=rules, events=builder.trigger_events())


def _builder_page(draft: builder.RuleDraft, rule: Rule | None, errors: dict, status: int) -> Any:
    return (
        render_template(
            "automation/rule_form.html",
            draft=draft,
            rule=rule,
            errors=errors,
            events=builder.trigger_events(),
            date_choices=builder.date_choices(),
            suggestions=builder.field_suggestions(),
            operators=operator_labels(),
            actions=automation_actions(),
        ),
        status,
    )


def _save(rule: Rule | None) -> Any:
    draft = builder.read_form(request.form) if request.method == "POST" else None
    if draft is None:
        draft = builder.RuleDraft.of(rule) if rule else builder.RuleDraft()
        if rule is None:
            draft.actions.append({"token": builder.token(), "type": "", "params": {}})
        return _builder_page(draft, rule, {}, 200)
    try:
        saved = builder.save(draft, rule, current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        return _builder_page(draft, rule, exc.errors, 400)
    audit_record(
        "automation.rule_saved",
        target=saved.name,
        actor=current_user,
        details={"id": str(saved.id)},
    )
    db.session.commit()
    flash(_("Rule saved."), "success")
    return _see_other("automation.rule", rule_id=saved.id)


@bp.route("/rules/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def new_rule() -> Any:
    """Build a rule: trigger → conditions → actions."""
    return _save(None)


@bp.route("/rules/<rule_id>/edit", methods=["GET", "POST"])
@require_permission(MANAGE)
def edit_rule(rule_id: str) -> Any:
    """Change a rule."""
    return _save(get_or_404(Rule, rule_id))


@bp.get("/rules/<rule_id>")
@require_permission(MANAGE)
def rule(rule_id: str) -> Any:
    """A rule and its run history (newest first), errors included."""
    row = get_or_404(Rule, rule_id)
    status = request.args.get("status", "")
    stmt = select(RuleRun).where(RuleRun.rule_id == row.id)
    if status in ("ok", "failed", "skipped", "running"):
        stmt = stmt.where(RuleRun.status == status)
    runs = db.session.scalars(
        stmt.order_by(RuleRun.started_at.desc(), RuleRun.id.desc()).limit(RUNS_PAGE)
    ).all()
    return render_template(
        "automation/rule.html",
        rule=row,
        runs=runs,
        status=status,
        events=builder.trigger_events(),
        operators=operator_labels(),
        actions=automation_actions(),
    )


@bp.post("/rules/<rule_id>/toggle")
@require_permission(MANAGE)
def toggle_rule(rule_id: str) -> Any:
    """Switch a rule on or off."""
    row = get_or_404(Rule, rule_id)
    row.active = not row.active
    audit_record(
        "automation.rule_on" if row.active else "automation.rule_off",
        target=row.name,
        actor=current_user,
    )
    db.session.commit()
    flash(_("Rule switched on.") if row.active else _("Rule switched off."), "success")
    return _see_other("automation.index")


@bp.post("/rules/<rule_id>/delete")
@require_permission(MANAGE)
def delete_rule(rule_id: str) -> Any:
    """Delete a rule and its run history."""
    row = get_or_404(Rule, rule_id)
    for run in db.session.scalars(select(RuleRun).where(RuleRun.rule_id == row.id)):
        db.session.delete(run)
    db.session.flush()
    db.session.delete(row)
    audit_record("automation.rule_deleted", target=row.name, actor=current_user)
    db.session.commit()
    flash(_("Rule deleted."), "success")
    return _see_other("automation.index")


@bp.post("/rules/<rule_id>/runs/<run_id>/retry")
@require_permission(MANAGE)
def retry(rule_id: str, run_id: str) -> Any:
    """Run a failed run's actions again, in a job."""
    row = get_or_404(Rule, rule_id)
    run = get_or_404(RuleRun, run_id)
    if run.rule_id != row.id:
        abort(404)
    if run.status != "failed":
        flash(_("Only failed runs can be retried."), "error")
    else:
        retry_run.enqueue_after_commit(str(run.id))
        db.session.commit()
        flash(_("The run will be retried in a moment."), "success")
    return _see_other("automation.rule", rule_id=row.id)


@bp.get("/rows/condition")
@require_permission(MANAGE)
def condition_row() -> Any:
    """One empty condition row (htmx)."""
    row = {"token": builder.token(), "field": "", "op": "equals", "value": ""}
    return render_template(
        "automation/_condition_row.html", row=row, errors={}, operators=operator_labels()
    )


@bp.get("/rows/action")
@require_permission(MANAGE)
def action_row() -> Any:
    """An action row (htmx): empty, or the parameters of the chosen action type."""
    token = request.args.get("token", "")
    if not builder._TOKEN.match(token):
        token = builder.token()
    kind = request.args.get(f"a_{token}_type", "")
    row = {"token": token, "type": kind, "params": {}}
    return render_template(
        "automation/_action_row.html", row=row, errors={}, actions=automation_actions()
    )


@bp.get("/rows/none")
@require_permission(MANAGE)
def no_row() -> Any:
    """Nothing: a removed row (htmx swaps the row with this)."""
    return ""


# --------------------------------------------------------------------------- templates


@bp.get("/templates")
@require_permission(MANAGE)
def templates() -> Any:
    """E-mail templates of the *send e-mail* action."""
    rows = db.session.scalars(select(EmailTemplate).order_by(EmailTemplate.name)).all()
    return render_template("automation/templates.html", templates=rows)


@bp.route("/templates/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def new_template() -> Any:
    """Add an e-mail template."""
    return _template_form(None)


@bp.route("/templates/<template_id>/edit", methods=["GET", "POST"])
@require_permission(MANAGE)
def edit_template(template_id: str) -> Any:
    """Change an e-mail template."""
    return _template_form(get_or_404(EmailTemplate, template_id))


def _template_form(row: EmailTemplate | None) -> Any:
    values = {
        "name": row.name if row else "",
        "subject": row.subject if row else "",
        "body": row.body if row else "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip() for k in values}
        for name, limit in (("name", 120), ("subject", 200), ("body", 20000)):
            if not values[name]:
                errors[name] = _("This field is required.")
            elif len(values[name]) > limit:
                errors[name] = _("Use at most %(num)d characters.", num=limit)
            elif name != "name" and (problem := check_template(values[name])):
                errors[name] = problem
        same = select(EmailTemplate.id).where(EmailTemplate.name == values["name"])
        if row is not None:
            same = same.where(EmailTemplate.id != row.id)
        if "name" not in errors and db.session.scalar(same) is not None:
            errors["name"] = _("Another template has this name.")
        if not errors:
            if row is None:
                row = EmailTemplate(**values)
                db.session.add(row)
            else:
                for k, v in values.items():
                    setattr(row, k, v)
            db.session.commit()
            flash(_("Template saved."), "success")
            return _see_other("automation.templates")
    return (
        render_template("automation/template_form.html", values=values, errors=errors, row=row),
        400 if errors else 200,
    )


# --------------------------------------------------------------------------- approvals


@bp.route("/approval-policies", methods=["GET", "POST"])
@require_permission(MANAGE)
def policies() -> Any:
    """Approval policies, and a form to add one."""
    values = {"name": "", "threshold_percent": "", "approver": "role:manager"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip() for k in values}
        if not values["name"] or len(values["name"]) > 120:
            errors["name"] = _("Give the policy a name (at most 120 characters).")
        elif db.session.scalar(
            select(ApprovalPolicy.id).where(ApprovalPolicy.name == values["name"])
        ):
            errors["name"] = _("Another policy has this name.")
        try:
            threshold = Decimal(values["threshold_percent"])
            if not 0 <= threshold < 100:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["threshold_percent"] = _("Enter a percentage from 0 to 99.99.")
        role, _sep, member = values["approver"].partition(":")
        valid_roles = [r for r in ROLES if r not in ("readonly", "member")]
        if not (
            (role == "role" and member in valid_roles)
            or (role == "member" and member in dict(member_choices()))
        ):
            errors["approver"] = _("Choose who approves.")
        if not errors:
            db.session.add(
                ApprovalPolicy(
                    name=values["name"],
                    kind="quote",
                    action="send",
                    threshold_percent=threshold,
                    approver_role=member if role == "role" else None,
                    approver_id=builder_uuid(member) if role == "member" else None,
                )
            )
            audit_record("automation.policy_added", target=values["name"], actor=current_user)
            db.session.commit()
            flash(_("Approval policy added."), "success")
            return _see_other("automation.policies")
    rows = db.session.scalars(select(ApprovalPolicy).order_by(ApprovalPolicy.name)).all()
    return (
        render_template(
            "automation/policies.html",
            policies=rows,
            values=values,
            errors=errors,
            members=member_choices(),
            roles=[r for r in ROLES if r not in ("readonly", "member")],
        ),
        400 if errors else 200,
    )


def builder_uuid(value: str) -> Any:
    from crm_platform.sdk import parse_uuid

    return parse_uuid(value)


@bp.post("/approval-policies/<policy_id>/delete")
@require_permission(MANAGE)
def delete_policy(policy_id: str) -> Any:
    """Delete an approval policy (its requests go with it)."""
    row = get_or_404(ApprovalPolicy, policy_id)
    for req in db.session.scalars(
        select(ApprovalRequest).where(ApprovalRequest.policy_id == row.id)
    ):
        db.session.delete(req)
    db.session.flush()
    db.session.delete(row)
    db.session.commit()
    flash(_("Approval policy deleted."), "success")
    return _see_other("automation.policies")


@bp.get("/approvals")
@login_required
def approvals() -> Any:
    """Requests waiting for this member's decision, and the member's own requests."""
    membership = g.membership
    mine = db.session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.requested_by_id == membership.user_id)
        .order_by(ApprovalRequest.requested_at.desc())
        .limit(50)
    ).all()
    recent = []
    if membership.can(MANAGE):
        recent = db.session.scalars(
            select(ApprovalRequest)
            .where(ApprovalRequest.status != "pending")
            .order_by(ApprovalRequest.decided_at.desc())
            .limit(50)
        ).all()
    return render_template(
        "automation/approvals.html",
        waiting=pending_for(membership),
        mine=mine,
        recent=recent,
    )


@bp.post("/approvals/<request_id>/decide")
@login_required
def decide_request(request_id: str) -> Any:
    """Approve or reject a request, with a comment."""
    row = get_or_404(ApprovalRequest, request_id)
    if not may_decide(row, g.membership):
        abort(403)
    verdict = request.form.get("decision")
    if verdict not in ("approve", "reject"):
        abort(400)
    try:
        decide(row, verdict == "approve", request.form.get("comment", ""), current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return _see_other("automation.approvals")
    db.session.commit()
    flash(_("Request approved.") if verdict == "approve" else _("Request rejected."), "success")
    return _see_other("automation.approvals")


def approvals_widget(waiting: list[ApprovalRequest]) -> str:
    """The dashboard widget: requests waiting for the member's decision."""
    return render_template("automation/_approvals_widget.html", waiting=waiting)
