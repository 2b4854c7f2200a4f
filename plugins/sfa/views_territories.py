"""Sales settings → Teams and territories: territories (values and members), the team
hierarchy, and Sales' visibility rule of deals and leads per role. For ``sfa.manage``."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, widgets
from wtforms.validators import Length

from crm_platform.sdk import ROLE_LABELS, ValidationFailed, all_teams, db, require_permission

from . import territories
from .blueprint import bp, member_choices
from .forms import ButtonForm, apply_errors, options
from .planning_models import Territory
from .settings import sales_settings, save_sales_settings

MANAGE = "sfa.manage"


class TerritoryForm(FlaskForm):
    name = StringField(_l("Territory name"), validators=[Length(max=100)])
    region = StringField(_l("Regions (comma-separated)"), validators=[Length(max=2000)])
    industry = StringField(_l("Industries (comma-separated)"), validators=[Length(max=2000)])
    member_ids = SelectMultipleField(
        _l("Members who work it"),
        choices=[],
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )


def _page(form: TerritoryForm, editing: Territory | None = None, status: int = 200) -> Any:
    items = territories.all_territories()
    ids = [t.id for t in items]
    settings = sales_settings()
    teams = all_teams()
    return (
        render_template(
            "sfa/territories.html",
            form=form,
            editing=editing,
            territories=items,
            rules=territories.rules_of(ids),
            people=territories.members_of(ids),
            names={k: v for k, v in member_choices()},
            teams=teams,
            parents=territories.parents(),
            team_names={t.id: t.name for t in teams},
            rule_labels=territories.RULE_LABELS,
            roles=[(r, ROLE_LABELS.get(r, r)) for r in territories.RULED_ROLES],
            visibility=settings.record_visibility,
            reminder_days=settings.reminder_days,
            button_form=ButtonForm(),
        ),
        status,
    )


def _form(territory: Territory | None = None) -> TerritoryForm:
    form = TerritoryForm()
    form.member_ids.choices = options(member_choices())
    if territory is not None and request.method == "GET":
        rules = territories.rules_of([territory.id])[territory.id]
        form.name.data = territory.name
        form.region.data = ", ".join(rules["region"])
        form.industry.data = ", ".join(rules["industry"])
        form.member_ids.data = [
            str(u) for u in territories.members_of([territory.id]).get(territory.id, [])
        ]
    return form


def _save(form: TerritoryForm, territory: Territory | None) -> Any:
    if not form.validate_on_submit():
        return None
    try:
        saved = territories.save_territory(form.data, territory, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc.errors, "name")
        return None
    db.session.commit()
    flash(_("Territory %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("sfa.territory_settings")), 303


@bp.route("/settings/territories", methods=["GET", "POST"])
@require_permission(MANAGE)
def territory_settings() -> Any:
    """Territories (add one), the team hierarchy and the visibility rule."""
    form = _form()
    if request.method == "POST":
        return _save(form, None) or _page(form, status=400)
    return _page(form)


@bp.route("/settings/territories/<territory_id>", methods=["GET", "POST"])
@require_permission(MANAGE)
def territory_edit(territory_id: str) -> Any:
    """Change a territory's name, values and members."""
    territory = territories.find_territory(territory_id)
    if territory is None:
        abort(404)
    form = _form(territory)
    if request.method == "POST":
        return _save(form, territory) or _page(form, territory, status=400)
    return _page(form, territory)


@bp.post("/settings/territories/<territory_id>/delete")
@require_permission(MANAGE)
def territory_delete(territory_id: str) -> Any:
    """Remove a territory (deals and leads stay; only who sees them by territory changes)."""
    territory = territories.find_territory(territory_id)
    if territory is None:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    name = territory.name
    territories.delete_territory(territory, actor=current_user)
    db.session.commit()
    flash(_("Territory %(name)s deleted.", name=name), "success")
    return redirect(url_for("sfa.territory_settings")), 303


@bp.post("/settings/teams")
@require_permission(MANAGE)
def team_hierarchy() -> Any:
    """Each team's parent team (``parent_<team id>``; empty: at the top)."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        for team in all_teams():
            key = f"parent_{team.id}"
            if key in request.form:
                territories.set_parent(team, request.form[key], actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("sfa.territory_settings")), 303
    db.session.commit()
    flash(_("Team hierarchy saved."), "success")
    return redirect(url_for("sfa.territory_settings")), 303


@bp.post("/settings/visibility")
@require_permission(MANAGE)
def sales_visibility() -> Any:
    """Sales' visibility rule of deals and leads per role, and the reminders' days ahead."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    chosen = {r: request.form.get(f"rule_{r}", "") for r in territories.RULED_ROLES}
    try:
        save_sales_settings(
            {
                "record_visibility": chosen,
                "reminder_days": request.form.get("reminder_days", "1"),
            }
        )
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("sfa.territory_settings")), 303
    db.session.commit()
    flash(_("Visibility and reminders saved."), "success")
    return redirect(url_for("sfa.territory_settings")), 303
