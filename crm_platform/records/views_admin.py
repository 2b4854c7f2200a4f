"""Admin pages of the customer database: custom fields, teams and record visibility."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update

from .. import audit
from ..access import get_or_404, require_permission
from ..customers import RECORD_MODELS
from ..extensions import db
from ..provisioning import ValidationFailed
from ..tenancy import utcnow
from ..web import tenant_bp
from .custom_fields import (
    ENTITIES,
    ENTITY_LABELS,
    MAX_FIELDS,
    CustomField,
    check_definition,
    create_field,
    fields_of,
    next_position,
    parse_choices,
    records_using,
)
from .forms import ButtonForm, CustomFieldForm, TeamForm, TeamMemberForm, VisibilityForm
from .pages import apply_errors, member_choices, members
from .teams import Team, TeamMember, all_teams
from .visibility import save_visibility_settings, visibility_settings

# --------------------------------------------------------------------------- custom fields


def _entity() -> str:
    entity = request.args.get("entity", "account")
    if entity not in ENTITIES:
        abort(404)
    return entity


@tenant_bp.get("/settings/fields")
@require_permission("settings.manage")
def custom_fields() -> Any:
    """The custom fields of accounts and contacts, active and archived."""
    sections = [
        {
            "entity": e,
            "label": ENTITY_LABELS[e],
            "fields": fields_of(e),
            "archived": fields_of(e, archived=True),
        }
        for e in ENTITIES
    ]
    return render_template(
        "records/fields.html", sections=sections, button_form=ButtonForm(), max_fields=MAX_FIELDS
    )


@tenant_bp.route("/settings/fields/new", methods=["GET", "POST"])
@require_permission("settings.manage")
def custom_field_new() -> Any:
    """Define a new custom field (``?entity=account`` or ``contact``)."""
    entity = _entity()
    form = CustomFieldForm()
    if form.validate_on_submit():
        try:
            field = create_field(
                entity,
                form.label.data,
                form.type.data,
                choices=parse_choices(form.choices.data),
                required=form.required.data,
                key=(form.key.data or "").strip() or None,
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, "label")
        else:
            db.session.commit()
            flash(_("Field “%(label)s” added.", label=field.label), "success")
            return redirect(url_for("workspace.custom_fields")), 303
    return (
        render_template("records/field_form.html", form=form, field=None, entity=entity),
        400 if form.errors else 200,
    )


@tenant_bp.route("/settings/fields/<field_id>/edit", methods=["GET", "POST"])
@require_permission("settings.manage")
def custom_field_edit(field_id: str) -> Any:
    """Rename a field, change its options or whether it is required (key and type stay)."""
    field = get_or_404(CustomField, field_id)
    form = CustomFieldForm(
        data={
            "label": field.label,
            "key": field.key,
            "type": field.type,
            "choices": "\n".join(field.choices or []),
            "required": field.required,
        }
    )
    if request.method == "POST":
        form.key.data, form.type.data = field.key, field.type  # fixed once created
    if form.validate_on_submit():
        label = " ".join(form.label.data.split())
        choices = parse_choices(form.choices.data)
        errors = check_definition(
            field.entity, label, field.type, choices, form.required.data, field=field
        )
        if not errors:
            changes = {}
            for name, value in (("label", label), ("required", form.required.data)):
                if getattr(field, name) != value:
                    changes[name] = {"from": getattr(field, name), "to": value}
                    setattr(field, name, value)
            if field.type in ("choice", "multi_choice") and field.choices != choices:
                changes["choices"] = {"from": field.choices, "to": choices}
                field.choices = choices
            if changes:
                audit.record(
                    "custom_field.changed", target=f"{field.entity}.{field.key}", details=changes
                )
                db.session.commit()
                flash(_("Field “%(label)s” saved.", label=label), "success")
            return redirect(url_for("workspace.custom_fields")), 303
        apply_errors(form, errors, "label")
    return (
        render_template("records/field_form.html", form=form, field=field, entity=field.entity),
        400 if form.errors else 200,
    )


@tenant_bp.post("/settings/fields/<field_id>/move")
@require_permission("settings.manage")
def custom_field_move(field_id: str) -> Any:
    """Move a field one place up or down (``direction=up|down``)."""
    field = get_or_404(CustomField, field_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    fields = fields_of(field.entity)
    if field in fields:
        i = fields.index(field)
        j = i - 1 if request.form.get("direction") == "up" else i + 1
        if 0 <= j < len(fields):
            fields[i], fields[j] = fields[j], fields[i]
            for position, f in enumerate(fields, start=1):
                f.position = position
            db.session.commit()
    return redirect(url_for("workspace.custom_fields")), 303


@tenant_bp.route("/settings/fields/<field_id>/delete", methods=["GET", "POST"])
@require_permission("settings.manage")
def custom_field_delete(field_id: str) -> Any:
    """Delete a field: asks first; a field records use is archived, its values kept."""
    field = get_or_404(CustomField, field_id)
    if field.archived_at is not None:
        return redirect(url_for("workspace.custom_fields")), 303
    in_use = records_using(field)
    form = ButtonForm()
    if form.validate_on_submit() and request.form.get("confirm") == "yes":
        target = f"{field.entity}.{field.key}"
        if in_use:
            field.archived_at = utcnow()
            audit.record("custom_field.archived", target=target, details={"records": in_use})
            message = _("Field “%(label)s” archived; its values are kept.", label=field.label)
        else:
            db.session.delete(field)
            audit.record("custom_field.deleted", target=target)
            message = _("Field “%(label)s” deleted.", label=field.label)
        db.session.commit()
        flash(message, "success")
        return redirect(url_for("workspace.custom_fields")), 303
    status = 400 if request.method == "POST" else 200
    return (
        render_template("records/field_delete.html", field=field, in_use=in_use, form=form),
        status,
    )


@tenant_bp.post("/settings/fields/<field_id>/restore")
@require_permission("settings.manage")
def custom_field_restore(field_id: str) -> Any:
    """Bring an archived field back, with the values records kept."""
    field = get_or_404(CustomField, field_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if field.archived_at is not None:
        if len(fields_of(field.entity)) >= MAX_FIELDS:
            flash(_("A record type can have at most %(num)d fields.", num=MAX_FIELDS), "error")
            return redirect(url_for("workspace.custom_fields")), 303
        field.archived_at = None
        field.position = next_position(field.entity)
        audit.record("custom_field.restored", target=f"{field.entity}.{field.key}")
        db.session.commit()
        flash(_("Field “%(label)s” restored.", label=field.label), "success")
    return redirect(url_for("workspace.custom_fields")), 303


# --------------------------------------------------------------------------- teams


def _teams_page(team_form: TeamForm | None = None, visibility_form: Any = None) -> Any:
    counts = {
        team_id: n
        for team_id, n in db.session.execute(
            select(TeamMember.team_id, db.func.count()).group_by(TeamMember.team_id)
        )
    }
    if visibility_form is None:
        visibility_form = VisibilityForm(data=visibility_settings(g.tenant))
    failed = bool((team_form and team_form.errors) or visibility_form.errors)
    return (
        render_template(
            "records/teams.html",
            teams=all_teams(),
            counts=counts,
            team_form=team_form or TeamForm(formdata=None),
            visibility_form=visibility_form,
        ),
        400 if failed else 200,
    )


@tenant_bp.get("/settings/teams")
@require_permission("settings.manage")
def teams() -> Any:
    """Teams, and which records members and read-only members see."""
    return _teams_page()


def _name_taken(name: str, team: Team | None = None) -> bool:
    stmt = select(Team.id).where(db.func.lower(Team.name) == name.lower())
    if team is not None:
        stmt = stmt.where(Team.id != team.id)
    return db.session.scalar(stmt) is not None


@tenant_bp.post("/settings/teams")
@require_permission("settings.manage")
def team_new() -> Any:
    """Create a team."""
    form = TeamForm()
    if form.validate_on_submit():
        name = " ".join(form.name.data.split())
        if _name_taken(name):
            form.name.errors = [_("There is already a team with this name.")]
        else:
            team = Team(name=name)
            db.session.add(team)
            audit.record("team.created", target=name)
            db.session.commit()
            flash(_("Team “%(name)s” created.", name=name), "success")
            return redirect(url_for("workspace.team", team_id=team.id)), 303
    return _teams_page(team_form=form)


@tenant_bp.post("/settings/visibility")
@require_permission("settings.manage")
def visibility() -> Any:
    """Save which records members and read-only members see."""
    form = VisibilityForm()
    if not form.validate_on_submit():
        return _teams_page(visibility_form=form)
    changes = save_visibility_settings(
        g.tenant, {"member": form.member.data, "readonly": form.readonly.data}
    )
    if changes:
        audit.record("settings.changed", target="record_visibility", details=changes)
    db.session.commit()
    flash(_("Record visibility saved."), "success")
    return redirect(url_for("workspace.teams")), 303


@tenant_bp.route("/settings/teams/<team_id>", methods=["GET", "POST"])
@require_permission("settings.manage")
def team(team_id: str) -> Any:
    """One team: rename it, add and remove members."""
    team = get_or_404(Team, team_id)
    form = TeamForm(data={"name": team.name})
    if form.validate_on_submit():
        name = " ".join(form.name.data.split())
        if _name_taken(name, team):
            form.name.errors = [_("There is already a team with this name.")]
        else:
            if name != team.name:
                audit.record("team.renamed", target=name, details={"from": team.name})
                team.name = name
                db.session.commit()
                flash(_("Team saved."), "success")
            return redirect(url_for("workspace.team", team_id=team.id)), 303
    return _team_page(team, form)


def _team_page(team: Team, form: TeamForm, member_form: TeamMemberForm | None = None) -> Any:
    rows = db.session.scalars(select(TeamMember).where(TeamMember.team_id == team.id)).all()
    current = {m.user_id for m in rows}
    member_form = member_form or TeamMemberForm(formdata=None)
    member_form.user_id.choices = [
        c for c in member_choices(blank=None) if c.value not in {str(u) for u in current}
    ]
    names = {m.user_id: m for m in members()}
    team_members = sorted(
        (m for m in rows if m.user_id in names), key=lambda m: (m.user.name or "").lower()
    )
    failed = bool(form.errors or member_form.errors)
    return (
        render_template(
            "records/team.html",
            team=team,
            form=form,
            member_form=member_form,
            team_members=team_members,
            button_form=ButtonForm(),
        ),
        400 if failed else 200,
    )


@tenant_bp.post("/settings/teams/<team_id>/members")
@require_permission("settings.manage")
def team_member_add(team_id: str) -> Any:
    """Add a member to a team."""
    team = get_or_404(Team, team_id)
    form = TeamMemberForm()
    form.user_id.choices = member_choices(blank=None)
    if not form.validate_on_submit():
        return _team_page(team, TeamForm(data={"name": team.name}), form)
    from ..ids import parse_uuid

    uid = parse_uuid(form.user_id.data)
    exists = db.session.scalar(
        select(TeamMember.id).where(TeamMember.team_id == team.id, TeamMember.user_id == uid)
    )
    if exists is None:
        db.session.add(TeamMember(team_id=team.id, user_id=uid))
        audit.record("team.member_added", target=team.name, details={"user_id": str(uid)})
        db.session.commit()
    return redirect(url_for("workspace.team", team_id=team.id)), 303


@tenant_bp.post("/settings/teams/<team_id>/remove")
@require_permission("settings.manage")
def team_member_remove(team_id: str) -> Any:
    """Take a member out of a team (``user_id`` in the form)."""
    team = get_or_404(Team, team_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    from ..ids import parse_uuid

    uid = parse_uuid(request.form.get("user_id"))
    row = db.session.scalar(
        select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == uid)
    )
    if row is None:
        abort(404)
    db.session.delete(row)
    audit.record("team.member_removed", target=team.name, details={"user_id": str(uid)})
    db.session.commit()
    return redirect(url_for("workspace.team", team_id=team.id)), 303


@tenant_bp.post("/settings/teams/<team_id>/delete")
@require_permission("settings.manage")
def team_delete(team_id: str) -> Any:
    """Delete a team; its records keep their owners and lose the team."""
    team = get_or_404(Team, team_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    for model in RECORD_MODELS.values():
        db.session.execute(update(model).where(model.team_id == team.id).values(team_id=None))
    name = team.name
    db.session.delete(team)
    audit.record("team.deleted", target=name)
    db.session.commit()
    flash(_("Team “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("workspace.teams")), 303
