"""Account and contact pages: lists, record pages, create, edit, delete, restore, saved views.

The routes live on the ``workspace`` blueprint (``/t/<slug>/``): ``workspace.accounts``,
``workspace.account``, ``workspace.contacts``, ``workspace.contact`` and friends.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..access import get_or_404, has_permission, require_permission
from ..customers import RECORD_MODELS, Account, Contact
from ..extensions import db
from ..plugins import collect
from ..provisioning import ValidationFailed
from ..web import VALUE_LABELS, tenant_bp
from .activity_service import activities_of
from .custom_fields import display_value, fields_of, form_value
from .forms import FORM_FIELDS, ActivityForm, ButtonForm, SavedViewForm, record_form
from .labels import SIZE_LABELS, SOURCE_LABELS
from .listing import (
    BadCursor,
    Page,
    distinct_values,
    list_page,
    parse_list_args,
)
from .pages import (
    account_choices,
    apply_errors,
    is_partial,
    member_choices,
    membership,
    team_choices,
)
from .saved_views import MAX_VIEWS, SavedView, views_of
from .service import (
    check_values,
    create_record,
    delete_record,
    get_record,
    restore_record,
    update_record,
)
from .tags import tags_in_use
from .teams import all_teams
from .timeline import timeline
from .visibility import find_visible, live_and_visible

VALUE_LABELS.setdefault("size", SIZE_LABELS)
VALUE_LABELS.setdefault("source", SOURCE_LABELS)

LIST_ENDPOINTS = {"account": "workspace.accounts", "contact": "workspace.contacts"}
RECORD_ENDPOINTS = {"account": "workspace.account", "contact": "workspace.contact"}
ID_ARGS = {"account": "account_id", "contact": "contact_id"}
#: Custom fields shown as list columns (the first few by position).
LIST_CUSTOM_COLUMNS = 4


def record_url(kind: str, record: Any) -> str:
    """The URL of a record page."""
    return url_for(RECORD_ENDPOINTS[kind], **{ID_ARGS[kind]: record.id})


# --------------------------------------------------------------------------- lists


def _list(kind: str) -> Any:
    fields = fields_of(kind)
    state, errors = parse_list_args(kind, request.args, fields)
    page = Page([], None)
    if not errors:
        try:
            page = list_page(state, membership(), fields)
        except BadCursor:
            abort(400, description=_("Bad page cursor."))
    context = {
        "kind": kind,
        "state": state,
        "page": page,
        "fields": fields,
        "columns": fields[:LIST_CUSTOM_COLUMNS],
        "errors": errors,
        "list_endpoint": LIST_ENDPOINTS[kind],
        "display_value": display_value,
        "partial": is_partial(),
    }
    template = "records/_results.html" if is_partial() else "records/list.html"
    if not is_partial():
        context.update(
            options={
                "owners": member_choices(blank=None),
                "teams": all_teams(),
                "tags": tags_in_use(kind),
                "regions": distinct_values(kind, "region", membership()),
                "industries": distinct_values(kind, "industry", membership())
                if kind == "account"
                else [],
            },
            saved_views=views_of(current_user.id, kind),
            view_form=SavedViewForm(entity=kind, query=state.query_string(after="")),
            button_form=ButtonForm(),
            can_write=has_permission("records.write"),
            can_delete=has_permission("records.delete"),
        )
    headers = {"Vary": "HX-Request"}
    if is_partial():  # the address bar shows the tidy URL, without the empty filters
        headers["HX-Push-Url"] = url_for(LIST_ENDPOINTS[kind], **state.params())
    return render_template(template, **context), 400 if errors else 200, headers


@tenant_bp.get("/accounts")
@require_permission("records.read")
def accounts() -> Any:
    """Accounts: filter, sort, saved views, 50 a page (keyset)."""
    return _list("account")


@tenant_bp.get("/contacts")
@require_permission("records.read")
def contacts() -> Any:
    """Contacts: filter, sort, saved views, 50 a page (keyset)."""
    return _list("contact")


# --------------------------------------------------------------------------- record pages


def render_record(kind: str, record: Any, *, activity_form: Any = None, status: int = 200) -> Any:
    """A record page: details, custom fields, activities, timeline, contacts, plugin panels."""
    fields = fields_of(kind)
    custom = [(f, display_value(f, (record.custom or {}).get(f.key))) for f in fields]
    if activity_form is None:
        activity_form = ActivityForm(
            formdata=None, owner_id=str(current_user.id), **{ID_ARGS[kind]: str(record.id)}
        )
    activity_form.owner_id.choices = member_choices()
    activities = activities_of(kind, record)
    related: list[Any] = []
    if kind == "account":
        related = list(
            db.session.scalars(
                select(Contact)
                .where(Contact.account_id == record.id, *live_and_visible(Contact, membership()))
                .order_by(Contact.last_name, Contact.first_name)
            ).unique()
        )
    panels = collect("crm_record_panels", record=record, kind=kind, membership=membership())
    panels = sorted(panels, key=lambda p: (p.order, str(p.title)))
    return (
        render_template(
            f"records/{kind}.html",
            kind=kind,
            record=record,
            custom=custom,
            open_tasks=[a for a in activities if not a.done],
            timeline=timeline(kind, record),
            related=related,
            panels=panels,
            activity_form=activity_form,
            button_form=ButtonForm(),
            can_write=has_permission("records.write"),
            can_delete=has_permission("records.delete"),
        ),
        status,
    )


def _record_or_trash(kind: str, record_id: str) -> Any:
    """The live record, a redirect to the record it was merged into, or its trash page."""
    model = RECORD_MODELS[kind]
    record = find_visible(model, record_id, membership())
    if record is not None:
        return record
    trashed = find_visible(model, record_id, membership(), deleted=True)
    if trashed is None:
        abort(404)
    if trashed.merged_into_id is not None:
        survivor = find_visible(model, trashed.merged_into_id, membership())
        if survivor is not None:
            return redirect(record_url(kind, survivor))
    if not has_permission("records.delete"):
        abort(404)
    return render_template(
        "records/in_trash.html", kind=kind, record=trashed, button_form=ButtonForm()
    )


@tenant_bp.get("/accounts/<account_id>")
@require_permission("records.read")
def account(account_id: str) -> Any:
    """One account: details, contacts, activities, timeline and plugin panels."""
    found = _record_or_trash("account", account_id)
    return found if not isinstance(found, Account) else render_record("account", found)


@tenant_bp.get("/contacts/<contact_id>")
@require_permission("records.read")
def contact(contact_id: str) -> Any:
    """One contact: details, activities, timeline and plugin panels."""
    found = _record_or_trash("contact", contact_id)
    return found if not isinstance(found, Contact) else render_record("contact", found)


# --------------------------------------------------------------------------- forms


def _prepare(form: Any, kind: str, record: Any = None) -> None:
    form.owner_id.choices = member_choices()
    form.team_id.choices = team_choices()
    if kind == "contact":
        current = record.account if record is not None and record.account_id else None
        form.account_id.choices = account_choices(current)


def _initial(kind: str, record: Any, fields: list[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FORM_FIELDS[kind]:
        value = getattr(record, name)
        if name in ("owner_id", "team_id", "account_id"):
            value = str(value) if value else ""
        elif name == "tags":
            value = ", ".join(value or [])
        elif value is None and name not in ("birthday", "anniversary"):
            value = ""
        data[name] = value
    for f in fields:
        data[f.form_name] = form_value(f, (record.custom or {}).get(f.key))
    return data


def _submitted(kind: str, form: Any, fields: list[Any]) -> dict[str, Any]:
    data = {name: form[name].data for name in FORM_FIELDS[kind]}
    data["custom"] = {f.key: form[f.form_name].data for f in fields}
    return data


def _more_errors(kind: str, form: Any, fields: list[Any], record: Any) -> None:
    """After the form's own checks failed, show the service's messages for the other fields
    too, so that one submission reports every problem."""
    try:
        check_values(kind, _submitted(kind, form, fields), record=record, membership=membership())
    except ValidationFailed as exc:
        fresh = {k: v for k, v in exc.errors.items() if k in form._fields and not form[k].errors}
        apply_errors(form, fresh, FORM_FIELDS[kind][0])


def _new(kind: str) -> Any:
    fields = fields_of(kind)
    defaults: dict[str, Any] = {
        "owner_id": str(current_user.id),
        "lifecycle_stage": "prospect" if kind == "account" else "lead",
    }
    if kind == "contact" and request.args.get("account_id"):
        defaults["account_id"] = request.args["account_id"][:40]
    form = record_form(kind, fields, data=defaults)
    _prepare(form, kind)
    if form.validate_on_submit():
        try:
            record = create_record(
                kind, _submitted(kind, form, fields), actor=current_user, membership=membership()
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, FORM_FIELDS[kind][0])
        else:
            db.session.commit()
            flash(_("%(name)s was created.", name=record.display_name), "success")
            return redirect(record_url(kind, record))
    elif form.is_submitted():
        _more_errors(kind, form, fields, None)
    return (
        render_template("records/form.html", kind=kind, form=form, fields=fields, record=None),
        400 if form.errors else 200,
    )


def _edit(kind: str, record: Any) -> Any:
    fields = fields_of(kind)
    form = record_form(kind, fields, data=_initial(kind, record, fields))
    _prepare(form, kind, record)
    if form.validate_on_submit():
        try:
            changed = update_record(
                record, _submitted(kind, form, fields), actor=current_user, membership=membership()
            )
        except ValidationFailed as exc:
            apply_errors(form, exc.errors, FORM_FIELDS[kind][0])
        else:
            db.session.commit()
            if changed:
                flash(_("Changes saved."), "success")
            return redirect(record_url(kind, record))
    elif form.is_submitted():
        _more_errors(kind, form, fields, record)
    return (
        render_template("records/form.html", kind=kind, form=form, fields=fields, record=record),
        400 if form.errors else 200,
    )


@tenant_bp.route("/accounts/new", methods=["GET", "POST"])
@require_permission("records.write")
def account_new() -> Any:
    """Create an account."""
    return _new("account")


@tenant_bp.route("/contacts/new", methods=["GET", "POST"])
@require_permission("records.write")
def contact_new() -> Any:
    """Create a contact (``?account_id=`` picks the account)."""
    return _new("contact")


@tenant_bp.route("/accounts/<account_id>/edit", methods=["GET", "POST"])
@require_permission("records.write")
def account_edit(account_id: str) -> Any:
    """Edit an account."""
    return _edit("account", get_record("account", account_id, membership()))


@tenant_bp.route("/contacts/<contact_id>/edit", methods=["GET", "POST"])
@require_permission("records.write")
def contact_edit(contact_id: str) -> Any:
    """Edit a contact."""
    return _edit("contact", get_record("contact", contact_id, membership()))


def _delete(kind: str, record_id: str) -> Any:
    record = get_record(kind, record_id, membership())
    if not ButtonForm().validate_on_submit():
        abort(400)
    delete_record(record, actor=current_user)
    db.session.commit()
    flash(_("%(name)s was moved to the trash.", name=record.display_name), "success")
    return redirect(url_for(LIST_ENDPOINTS[kind])), 303


def _restore(kind: str, record_id: str) -> Any:
    record = get_record(kind, record_id, membership(), deleted=True)
    if not ButtonForm().validate_on_submit():
        abort(400)
    restore_record(record, actor=current_user)
    db.session.commit()
    flash(_("%(name)s was restored.", name=record.display_name), "success")
    return redirect(record_url(kind, record)), 303


@tenant_bp.post("/accounts/<account_id>/delete")
@require_permission("records.delete")
def account_delete(account_id: str) -> Any:
    """Move an account to the trash."""
    return _delete("account", account_id)


@tenant_bp.post("/contacts/<contact_id>/delete")
@require_permission("records.delete")
def contact_delete(contact_id: str) -> Any:
    """Move a contact to the trash."""
    return _delete("contact", contact_id)


@tenant_bp.post("/accounts/<account_id>/restore")
@require_permission("records.delete")
def account_restore(account_id: str) -> Any:
    """Bring an account back from the trash."""
    return _restore("account", account_id)


@tenant_bp.post("/contacts/<contact_id>/restore")
@require_permission("records.delete")
def contact_restore(contact_id: str) -> Any:
    """Bring a contact back from the trash."""
    return _restore("contact", contact_id)


# --------------------------------------------------------------------------- saved views


@tenant_bp.post("/views")
@require_permission("records.read")
def saved_view_new() -> Any:
    """Save the current filter and sort of a list under a name (replacing one so named)."""
    form = SavedViewForm()
    entity = form.entity.data if form.entity.data in LIST_ENDPOINTS else None
    if entity is None:
        abort(400)
    target = url_for(LIST_ENDPOINTS[entity])
    if not form.validate_on_submit():
        flash(_("Give the view a name of at most 80 characters."), "error")
        return redirect(target + ("?" + form.query.data if form.query.data else "")), 303
    fields = fields_of(entity)
    args = dict(parse_qsl(form.query.data or "", keep_blank_values=False))
    state, errors = parse_list_args(entity, args, fields)
    if errors:
        abort(400)
    query = state.query_string(after="")
    name = " ".join(form.name.data.split())
    existing = db.session.scalar(
        select(SavedView).where(
            SavedView.user_id == current_user.id, SavedView.entity == entity, SavedView.name == name
        )
    )
    if existing is not None:
        existing.query = query
    elif len(views_of(current_user.id, entity)) >= MAX_VIEWS:
        flash(_("You can keep at most %(num)d views of a list.", num=MAX_VIEWS), "error")
        return redirect(target + ("?" + query if query else "")), 303
    else:
        db.session.add(SavedView(user_id=current_user.id, entity=entity, name=name, query=query))
    db.session.commit()
    flash(_("View “%(name)s” saved.", name=name), "success")
    return redirect(target + ("?" + query if query else "")), 303


@tenant_bp.post("/views/<view_id>/delete")
@require_permission("records.read")
def saved_view_delete(view_id: str) -> Any:
    """Delete one of one's saved views."""
    view = get_or_404(SavedView, view_id)
    if view.user_id != current_user.id:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    entity, name = view.entity, view.name
    db.session.delete(view)
    db.session.commit()
    flash(_("View “%(name)s” deleted.", name=name), "success")
    return redirect(url_for(LIST_ENDPOINTS.get(entity, "workspace.accounts"))), 303
