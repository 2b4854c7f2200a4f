"""Deal pages: the kanban board and its drag-and-drop moves, the list, a deal, its form."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from crm_platform.sdk import (
    Account,
    Contact,
    Team,
    ValidationFailed,
    db,
    parse_uuid,
    require_permission,
)

from .blueprint import (
    bp,
    is_htmx,
    local_next,
    member_choices,
    membership,
    next_page_url,
    record_choices,
)
from .board import CLOSED_DAYS, Scope, cards, columns, remaining
from .deals import (
    CATEGORY_LABELS,
    STATUS_LABELS,
    StaleDeal,
    create_deal,
    history,
    is_rotting,
    move_deal,
    update_deal,
)
from .forecast import default_team, team_member_ids
from .forms import DealForm, MoveForm, apply_errors, options
from .models import FORECAST_CATEGORIES, Deal, Pipeline
from .paging import contains, list_page
from .pipelines import (
    all_pipelines,
    default_pipeline,
    find_pipeline,
    find_stage,
    stages_by_pipeline,
)
from .settings import sales_settings
from .visibility import get_visible_or_404, visible

# --------------------------------------------------------------------------- board


def owner_scope(value: str | None) -> tuple[str, list[Any] | None]:
    """``owner`` of the query string → (the value shown, the owner ids or ``None`` for all).

    ``me``, ``team:<id>`` or ``all``; without one, managers start with their own team.
    """
    m = membership()
    if value is None:
        team = default_team(m)
        value = f"team:{team}" if team else "all"
    if value == "me":
        return value, [m.user_id]
    if value.startswith("team:"):
        team_id = parse_uuid(value[5:])
        if team_id is not None and db.session.get(Team, (m.tenant_id, team_id)) is not None:
            return value, team_member_ids(team_id)
    return "all", None


def _board_pipeline(pipelines: list[Pipeline]) -> Pipeline:
    """The pipeline of ``?pipeline=`` among ``pipelines``, else the default one (404: none)."""
    wanted = parse_uuid(request.args.get("pipeline"))
    pipeline = next((p for p in pipelines if p.id == wanted), None)
    if pipeline is None and pipelines:
        pipeline = pipelines[0]
    if pipeline is None:
        abort(404)
    return pipeline


def _card_links(board_args: dict[str, str], can_write: bool) -> dict[str, Any]:
    """URL patterns the cards share (``DEAL_ID``/``STAGE_ID`` replaced per card): made once."""
    return {
        "can_write": can_write,
        "board_url": url_for("sfa.board", **board_args),
        "deal_url": url_for("sfa.deal", deal_id="DEAL_ID"),
        "cards_url": url_for("sfa.board_cards", stage_id="STAGE_ID", **board_args),
    }


def _move_target(can_write: bool) -> dict[str, Any] | None:
    """The deal of ``?move=`` (a card's *Move…* link without the board's script), if visible."""
    deal_id = parse_uuid(request.args.get("move"))
    if not can_write or deal_id is None:
        return None
    stmt = select(Deal.id.label("id"), Deal.name.label("name"), Deal.version, Deal.stage_id).where(
        Deal.id == deal_id, *visible(Deal, membership())
    )
    row = db.session.execute(stmt).first()
    return None if row is None else row._asdict()


def _board_context(pipeline: Pipeline, pipelines: list[Pipeline] | None = None) -> dict[str, Any]:
    scope, owners = owner_scope(request.args.get("owner"))
    settings = sales_settings()
    can_write = membership().can("sfa.write")
    board_args = {"pipeline": str(pipeline.id), "owner": scope}
    return {
        "pipeline": pipeline,
        "pipelines": pipelines if pipelines is not None else all_pipelines(),
        "columns": columns(pipeline, membership(), settings.currency, owners),
        "currency": settings.currency,
        "owner": scope,
        "teams": db.session.scalars(select(Team).order_by(Team.name)).all(),
        "closed_days": CLOSED_DAYS,
        "can_write": can_write,
        "board_args": board_args,
        "links": _card_links(board_args, can_write),
        "move": _move_target(can_write),
    }


@bp.get("/")
@require_permission("sfa.read")
def board() -> Any:
    """The kanban board of a pipeline (``?pipeline=``, ``?owner=me|team:<id>|all``;
    ``?move=<deal id>`` opens the move form of a card, for browsers without the script)."""
    pipelines = all_pipelines()
    context = _board_context(_board_pipeline(pipelines), pipelines)
    if is_htmx():
        return render_template("sfa/_board.html", **context)
    return render_template("sfa/board.html", **context)


@bp.get("/board/stages/<stage_id>/cards")
@require_permission("sfa.read")
def board_cards(stage_id: str) -> Any:
    """The next cards of a board's column ("show more"), after the card ``?after=`` (the
    cursor the board gave), with the board's ``?owner=``: the ``<li>`` items htmx swaps in for
    the link, and a link to the cards after them. 404: no such stage; 400: a bad cursor."""
    stage = find_stage(stage_id)
    after = request.args.get("after", "")
    if stage is None:
        abort(404)
    pipeline = find_pipeline(stage.pipeline_id)
    scope_value, owners = owner_scope(request.args.get("owner"))
    scope = Scope(pipeline, membership(), owners)
    try:
        page = cards(stage, scope, after=after)
    except ValueError:
        abort(400)
    page.count = len(page.cards) + (remaining(stage, scope, page.after) if page.after else 0)
    board_args = {"pipeline": str(pipeline.id), "owner": scope_value}
    return render_template(
        "sfa/_board_cards.html",
        column=page,
        links=_card_links(board_args, membership().can("sfa.write")),
    )


@bp.post("/deals/<deal_id>/move")
@require_permission("sfa.write")
def deal_move(deal_id: str) -> Any:
    """Move a deal to another stage of its pipeline (a card dropped on a column).

    Answers the refreshed board to the board's script: 200 when moved, 409 when someone moved
    the card first (stale ``version``), 400 for an unknown stage, another pipeline's stage or
    a lost deal without a reason. Without the script: back to where it came from.
    """
    deal = get_visible_or_404(Deal, deal_id, membership())
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    status, category = 200, "success"
    try:
        stage = move_deal(
            deal,
            form.stage_id.data,
            version=form.version.data,
            reason=form.close_reason.data,
            actor=current_user,
        )
        db.session.commit()
        message = _("“%(name)s” is now in %(stage)s.", name=deal.name, stage=stage.name)
    except (StaleDeal, StaleDataError):
        db.session.rollback()
        deal = get_visible_or_404(Deal, deal_id, membership())
        message, status, category = str(StaleDeal(deal)), 409, "error"
    except ValidationFailed as exc:
        db.session.rollback()
        message, status, category = " ".join(exc.errors.values()), 400, "error"
    if is_htmx():
        pipeline = find_pipeline(request.args.get("pipeline")) or deal.pipeline
        context = _board_context(pipeline) | {"message": message, "category": category}
        return render_template("sfa/_board.html", **context), status
    flash(message, category)
    return redirect(local_next(url_for("sfa.deal", deal_id=deal.id)))


# --------------------------------------------------------------------------- list

SORTS = {
    "close": lambda: func.coalesce(Deal.expected_close, date(9999, 12, 31)),
    "amount": lambda: Deal.amount,
    "name": lambda: func.lower(Deal.name),
    "created": lambda: Deal.created_at,
    "updated": lambda: Deal.updated_at,
}


def _deal_filters(args: Any) -> tuple[Any, dict[str, str], dict[str, str]]:
    """The list's statement and the filters as shown; errors by filter name."""
    stmt = select(Deal).where(*visible(Deal, membership()))
    shown: dict[str, str] = {}
    errors: dict[str, str] = {}
    q = " ".join(args.get("q", "").split())[:100]
    if q:
        stmt = stmt.where(contains(Deal.name, q))
        shown["q"] = q
    status = args.get("status", "open")
    if status in STATUS_LABELS:
        stmt = stmt.where(Deal.status == status)
    else:
        status = "all"
    shown["status"] = status
    for name, column, finder in (
        ("pipeline", Deal.pipeline_id, find_pipeline),
        ("stage", Deal.stage_id, find_stage),
    ):
        if args.get(name):
            found = finder(args[name])
            if found is None:
                errors[name] = _("There is no such %(what)s.", what=name)
            else:
                stmt = stmt.where(column == found.id)
                shown[name] = str(found.id)
    for name, column in (("account", Deal.account_id), ("contact", Deal.contact_id)):
        if args.get(name):
            rid = parse_uuid(args[name])
            if rid is None:
                errors[name] = _("Not an id.")
            stmt = stmt.where(column == rid)
            shown[name] = args[name]
    owner = args.get("owner", "")
    if owner == "me":
        stmt = stmt.where(Deal.owner_id == membership().user_id)
    elif owner == "none":
        stmt = stmt.where(Deal.owner_id.is_(None))
    elif owner:
        uid = parse_uuid(owner)
        if uid is None:
            errors["owner"] = _("Choose a member.")
        stmt = stmt.where(Deal.owner_id == uid)
    shown["owner"] = owner
    category = args.get("category", "")
    if category in FORECAST_CATEGORIES:
        stmt = stmt.where(Deal.forecast_category == category)
        shown["category"] = category
    for name, op in (("close_from", "__ge__"), ("close_to", "__le__")):
        raw = args.get(name, "")
        if raw:
            try:
                stmt = stmt.where(getattr(Deal.expected_close, op)(date.fromisoformat(raw)))
                shown[name] = raw
            except ValueError:
                errors[name] = _("Enter a date as YYYY-MM-DD.")
    return stmt, shown, errors


@bp.get("/deals")
@require_permission("sfa.read")
def deals() -> Any:
    """Deals with filters (text, status, pipeline, stage, owner, category, close dates),
    sorted (close date, amount, name, created, updated) and paged by cursor."""
    stmt, shown, errors = _deal_filters(request.args)
    page, sort, desc = list_page(stmt, SORTS, Deal.id, default="close")
    context = {
        "page": page,
        "shown": shown,
        "errors": errors,
        "sort": sort,
        "desc": desc,
        "pipelines": all_pipelines(),
        "stages": stages_by_pipeline(),
        "members": member_choices(),
        "status_labels": STATUS_LABELS,
        "now_rotting": {d.id for d in page.rows if is_rotting(d)},
        "category_labels": CATEGORY_LABELS,
        "next_url": next_page_url("sfa.deals", page.next_cursor),
    }
    template = "sfa/_deal_rows.html" if is_htmx() else "sfa/deals.html"
    return render_template(template, **context), 400 if errors else 200


# --------------------------------------------------------------------------- one deal


@bp.get("/deals/<deal_id>")
@require_permission("sfa.read")
def deal(deal_id: str) -> Any:
    """One deal: its facts, stage history and a form to move it."""
    row = get_visible_or_404(Deal, deal_id, membership())
    form = MoveForm(version=str(row.version))
    stages = stages_by_pipeline().get(row.pipeline_id, [])
    form.stage_id.choices = options((s.id, s.name) for s in stages)
    form.stage_id.data = str(row.stage_id)
    return render_template(
        "sfa/deal.html",
        deal=row,
        history=history(row),
        move_form=form,
        rotting=is_rotting(row),
        can_write=membership().can("sfa.write"),
        status_labels=STATUS_LABELS,
        category_labels=CATEGORY_LABELS,
    )


def stage_options(*, open_only: bool = False) -> list[Any]:
    """Every stage as a select option labelled ``Pipeline: Stage`` (open ones only)."""
    by_pipeline = stages_by_pipeline()
    return options(
        (s.id, f"{p.name}: {s.name}")
        for p in all_pipelines()
        for s in by_pipeline.get(p.id, [])
        if not (open_only and s.is_closed)
    )


def _fill(form: DealForm, deal: Deal | None = None) -> None:
    form.account_id.choices = options(record_choices(Account, deal.account if deal else None))
    form.contact_id.choices = options(record_choices(Contact, deal.contact if deal else None))
    form.stage_id.choices = stage_options()
    form.owner_id.choices = options(member_choices(("", "—")))


def _deal_data(form: DealForm) -> dict[str, Any]:
    data = {
        name: form[name].data
        for name in (
            "name",
            "account_id",
            "contact_id",
            "stage_id",
            "amount",
            "currency",
            "expected_close",
            "owner_id",
            "forecast_category",
            "competitors",
            "close_reason",
        )
    }
    stage = find_stage(data["stage_id"])
    data["pipeline_id"] = str(stage.pipeline_id) if stage else None
    return data


@bp.route("/deals/new", methods=["GET", "POST"])
@require_permission("sfa.write")
def deal_new() -> Any:
    """A new deal (``?account_id=`` / ``?contact_id=`` pick the customer)."""
    form = DealForm()
    _fill(form)
    if request.method == "GET":
        form.currency.data = sales_settings().currency
        form.owner_id.data = str(current_user.id)
        for name in ("account_id", "contact_id"):
            form[name].data = request.args.get(name, "")
        pipeline = default_pipeline()
        stages = stages_by_pipeline().get(pipeline.id, []) if pipeline else []
        form.stage_id.data = next((str(s.id) for s in stages if not s.is_closed), "")
    elif form.validate_on_submit():
        try:
            row = create_deal(_deal_data(form), actor=current_user, membership=membership())
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "name")
        else:
            db.session.commit()
            flash(_("Deal “%(name)s” created.", name=row.name), "success")
            return redirect(url_for("sfa.deal", deal_id=row.id)), 303
    status = 400 if request.method == "POST" else 200
    return render_template("sfa/deal_form.html", form=form, deal=None), status


@bp.route("/deals/<deal_id>/edit", methods=["GET", "POST"])
@require_permission("sfa.write")
def deal_edit(deal_id: str) -> Any:
    """Change a deal; refused (409) when someone else saved it since the form was opened."""
    row = get_visible_or_404(Deal, deal_id, membership())
    form = DealForm(obj=row) if request.method == "GET" else DealForm()
    _fill(form, row)
    status = 200
    if request.method == "GET":
        form.competitors.data = ", ".join(row.competitors or [])
        for name in ("account_id", "contact_id", "stage_id", "owner_id"):
            value = getattr(row, name)
            form[name].data = str(value) if value else ""
        form.version.data = str(row.version)
    elif form.validate_on_submit():
        try:
            update_deal(
                row,
                _deal_data(form),
                version=form.version.data,
                actor=current_user,
                membership=membership(),
            )
            db.session.commit()
        except (StaleDeal, StaleDataError):
            db.session.rollback()
            row = get_visible_or_404(Deal, deal_id, membership())
            form.name.errors = [str(StaleDeal(row))]
            status = 409
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "name")
            status = 400
        else:
            flash(_("Deal “%(name)s” saved.", name=row.name), "success")
            return redirect(url_for("sfa.deal", deal_id=row.id)), 303
    else:
        status = 400
    return render_template("sfa/deal_form.html", form=form, deal=row), status
