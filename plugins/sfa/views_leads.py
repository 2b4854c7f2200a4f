"""Lead pages: the list and the shared pool, a lead with its activities, the form, claiming,
and converting a lead into an account, a contact and a deal."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from crm_platform.sdk import (
    ACTIVITY_KIND_LABELS,
    ValidationFailed,
    db,
    parse_uuid,
    require_permission,
)

from .blueprint import bp, is_htmx, local_next, member_choices, membership, next_page_url
from .conversion import AlreadyConverted, candidates, convert_lead
from .forms import ButtonForm, ConvertForm, LeadActivityForm, LeadForm, apply_errors, options
from .leads import (
    CAPTURE_LABELS,
    STATUS_LABELS,
    activities_of,
    claim,
    create_lead,
    log_activity,
    pool_condition,
    release,
    search_condition,
    update_lead,
)
from .models import OPEN_LEAD_STATUSES, Lead
from .paging import list_page
from .pipelines import default_pipeline, stages_by_pipeline
from .scoring import ACTIVITY_KINDS
from .settings import sales_settings
from .views_deals import stage_options
from .visibility import get_visible_or_404, visible

SORTS = {
    "created": lambda: Lead.created_at,
    "score": lambda: Lead.score,
    "name": lambda: func.lower(Lead.name),
    "worked": lambda: Lead.worked_at,
}
#: Owner choices of the new-lead form that are not members.
BY_RULES, TO_POOL = "", "pool"


def _lead_filters(args: Any) -> tuple[Any, dict[str, str]]:
    stmt = select(Lead).where(*visible(Lead, membership()))
    shown: dict[str, str] = {}
    q = " ".join(args.get("q", "").split())[:100]
    if q:
        stmt = stmt.where(search_condition(q))
        shown["q"] = q
    status = args.get("status", "open")
    if status in STATUS_LABELS:
        stmt = stmt.where(Lead.status == status)
    elif status == "open":
        stmt = stmt.where(Lead.status.in_(OPEN_LEAD_STATUSES))
    else:
        status = "all"
    shown["status"] = status
    owner = args.get("owner", "")
    if owner == "me":
        stmt = stmt.where(Lead.owner_id == membership().user_id)
    elif owner == "pool":
        stmt = stmt.where(*pool_condition())
    elif parse_uuid(owner) is not None:
        stmt = stmt.where(Lead.owner_id == parse_uuid(owner))
    else:
        owner = ""
    shown["owner"] = owner
    source = args.get("source", "")
    if source:
        stmt = stmt.where(Lead.source == source)
        shown["source"] = source
    return stmt, shown


@bp.get("/leads")
@require_permission("sfa.read")
def leads() -> Any:
    """Leads with filters (text, status, owner or the pool, source), sorted and paged."""
    stmt, shown = _lead_filters(request.args)
    page, sort, desc = list_page(
        stmt, SORTS, Lead.id, default="created", desc_sorts=("created", "score")
    )
    pool_size = db.session.scalar(
        select(func.count())
        .select_from(Lead)
        .where(*pool_condition(), *visible(Lead, membership()))
    )
    return render_template(
        "sfa/_lead_rows.html" if is_htmx() else "sfa/leads.html",
        page=page,
        shown=shown,
        sort=sort,
        desc=desc,
        pool_size=pool_size,
        sources=sales_settings().lead_sources,
        members=member_choices(),
        status_labels=STATUS_LABELS,
        button_form=ButtonForm(),
        can_write=membership().can("sfa.write"),
        next_url=next_page_url("sfa.leads", page.next_cursor),
    )


@bp.get("/leads/pool")
@require_permission("sfa.read")
def pool() -> Any:
    """The shared pool: open leads nobody owns, for anyone to claim."""
    return redirect(url_for("sfa.leads", owner="pool", sort="score"))


def _fill(form: LeadForm, *, new: bool) -> None:
    sources = sales_settings().lead_sources
    form.source.choices = options([("", "—"), *((s, s) for s in sources)])
    if new:
        form.owner_id.choices = options(
            member_choices(
                (BY_RULES, _("Assign by the rules")), (TO_POOL, _("Leave in the shared pool"))
            )
        )
    else:
        form.owner_id.choices = options(member_choices(("", _("Nobody (shared pool)"))))


def _lead_data(form: LeadForm) -> dict[str, Any]:
    names = ("name", "company", "title", "email", "phone", "source", "status", "owner_id")
    return {n: form[n].data for n in (*names, "region", "industry", "notes")}


@bp.route("/leads/new", methods=["GET", "POST"])
@require_permission("sfa.write")
def lead_new() -> Any:
    """Capture a lead by hand; without an owner the assignment rules place it."""
    form = LeadForm()
    _fill(form, new=True)
    if request.method == "POST" and form.validate_on_submit():
        data = _lead_data(form)
        owner = data.pop("owner_id") or BY_RULES
        if owner not in (BY_RULES, TO_POOL):
            data["owner_id"] = owner
        try:
            lead = create_lead(data, actor=current_user, via="form", assign=owner == BY_RULES)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "name")
        else:
            db.session.commit()
            flash(_("Lead “%(name)s” created.", name=lead.name), "success")
            return redirect(url_for("sfa.lead", lead_id=lead.id)), 303
    status = 400 if request.method == "POST" else 200
    return render_template("sfa/lead_form.html", form=form, lead=None), status


@bp.get("/leads/<lead_id>")
@require_permission("sfa.read")
def lead(lead_id: str) -> Any:
    """One lead: its details, score, activities and what can be done with it."""
    row = get_visible_or_404(Lead, lead_id, membership())
    form = LeadActivityForm()
    form.kind.choices = options((k, ACTIVITY_KIND_LABELS[k]) for k in ACTIVITY_KINDS)
    return render_template(
        "sfa/lead.html",
        lead=row,
        activities=activities_of(row),
        activity_form=form,
        button_form=ButtonForm(),
        status_labels=STATUS_LABELS,
        capture_labels=CAPTURE_LABELS,
        kind_labels=ACTIVITY_KIND_LABELS,
        can_write=membership().can("sfa.write"),
    )


@bp.route("/leads/<lead_id>/edit", methods=["GET", "POST"])
@require_permission("sfa.write")
def lead_edit(lead_id: str) -> Any:
    """Change a lead (converted leads are read-only)."""
    row = get_visible_or_404(Lead, lead_id, membership())
    if row.status == "converted":
        flash(_("This lead was converted: change its account, contact or deal instead."), "error")
        return redirect(url_for("sfa.lead", lead_id=row.id))
    form = LeadForm(obj=row) if request.method == "GET" else LeadForm()
    _fill(form, new=False)
    if request.method == "GET":
        form.owner_id.data = str(row.owner_id) if row.owner_id else ""
    elif form.validate_on_submit():
        try:
            update_lead(row, _lead_data(form), actor=current_user)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "name")
        else:
            db.session.commit()
            flash(_("Lead “%(name)s” saved.", name=row.name), "success")
            return redirect(url_for("sfa.lead", lead_id=row.id)), 303
    status = 400 if request.method == "POST" else 200
    return render_template("sfa/lead_form.html", form=form, lead=row), status


@bp.post("/leads/<lead_id>/activities")
@require_permission("sfa.write")
def lead_activity(lead_id: str) -> Any:
    """Log a call, meeting, e-mail or note on a lead."""
    row = get_visible_or_404(Lead, lead_id, membership())
    form = LeadActivityForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        log_activity(row, form.data, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
    else:
        db.session.commit()
        flash(_("Activity logged."), "success")
    return redirect(url_for("sfa.lead", lead_id=row.id))


def _button(lead_id: str, action: Any, done: str) -> Any:
    row = get_visible_or_404(Lead, lead_id, membership())
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        action(row)
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(exc.errors.values()), "error")
    else:
        db.session.commit()
        flash(done % {"name": row.name}, "success")
    return redirect(local_next(url_for("sfa.lead", lead_id=row.id)))


@bp.post("/leads/<lead_id>/claim")
@require_permission("sfa.write")
def lead_claim(lead_id: str) -> Any:
    """Take a lead from the shared pool."""
    return _button(lead_id, lambda row: claim(row, current_user.id), _("You took “%(name)s”."))


@bp.post("/leads/<lead_id>/release")
@require_permission("sfa.write")
def lead_release(lead_id: str) -> Any:
    """Put a lead back into the shared pool."""
    return _button(lead_id, release, _("“%(name)s” is back in the shared pool."))


def _convert_form(row: Lead) -> tuple[ConvertForm, Any]:
    form = ConvertForm()
    found = candidates(row, membership())
    form.account.choices = options(
        [
            ("new", _("Create a new account")),
            *((m.record.id, m.record.name) for m in found.accounts),
        ]
    )
    form.contact.choices = options(
        [
            ("new", _("Create a new contact")),
            *((m.record.id, m.record.full_name) for m in found.contacts),
        ]
    )
    form.deal_stage_id.choices = stage_options(open_only=True)
    return form, found


@bp.route("/leads/<lead_id>/convert", methods=["GET", "POST"])
@require_permission("sfa.write")
def lead_convert(lead_id: str) -> Any:
    """Convert a lead in one step: account, contact and deal, with a duplicate check."""
    row = get_visible_or_404(Lead, lead_id, membership())
    form, found = _convert_form(row)
    status = 200
    if row.status == "converted":
        flash(_("This lead was already converted: nothing was changed."), "error")
        return redirect(url_for("sfa.lead", lead_id=row.id)), 303
    if request.method == "GET":
        form.account_name.data = row.company or row.name
        form.deal_name.data = row.company or row.name
        form.deal_currency.data = sales_settings().currency
        pipeline = default_pipeline()
        stages = stages_by_pipeline().get(pipeline.id, []) if pipeline else []
        form.deal_stage_id.data = next((str(s.id) for s in stages if not s.is_closed), "")
    elif form.validate_on_submit():
        choice = {k: v for k, v in form.data.items() if k != "csrf_token"}
        choice["create_deal"] = "1" if form.create_deal.data else "0"
        try:
            done = convert_lead(row, choice, actor=current_user, membership=membership())
        except AlreadyConverted as exc:
            db.session.rollback()
            flash(exc.errors["lead"], "error")
            return redirect(url_for("sfa.lead", lead_id=lead_id)), 303
        except ValidationFailed as exc:
            db.session.rollback()
            errors = {
                k if k in form._fields else ("contact" if k.startswith("contact") else "account"): v
                for k, v in exc.errors.items()
            }
            apply_errors(form, errors, "account")
            status = 400
        else:
            db.session.commit()
            flash(_("“%(name)s” converted.", name=done.lead.name), "success")
            if done.deal is not None:
                return redirect(url_for("sfa.deal", deal_id=done.deal.id)), 303
            return redirect(url_for("workspace.contact", contact_id=done.contact.id)), 303
    else:
        status = 400
    return render_template("sfa/convert.html", form=form, lead=row, found=found), status
