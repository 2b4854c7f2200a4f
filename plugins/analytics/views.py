"""The analytics pages (``/t/<slug>/analytics/...``): the report builder and its results
(table and chart, drill-down to the records, exports), saved and built-in reports, large
reports run as jobs, and dashboards of members and teams."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select

from crm_platform.sdk import (
    ReportSource,
    TeamMember,
    all_teams,
    collect_hook,
    db,
    get_or_404,
    parse_uuid,
    require_permission,
)

from . import builtin as builtins
from .engine import (
    AGGREGATE_LABELS,
    AGGREGATES,
    BUCKET_LABELS,
    BUCKETS,
    CHART_LABELS,
    CHARTS,
    DATE_TYPES,
    MAX_FILTERS,
    OPERATOR_LABELS,
    OPERATORS,
    Definition,
    ReportError,
    Result,
    count_rows,
    records,
    run,
    sources,
    validate,
)
from .models import (
    FORMATS,
    SCHEDULES,
    SHARING,
    Dashboard,
    DashboardWidget,
    ReportFile,
    ReportRun,
    SavedReport,
)

bp = Blueprint(
    "analytics", __name__, url_prefix="/t/<tenant_slug>/analytics", template_folder="templates"
)
assets = Blueprint(
    "analytics_assets", __name__, static_folder="static", static_url_path="/assets/analytics"
)

#: Reports reading more records than this run as a job (``ANALYTICS_ASYNC_ROWS``).
ASYNC_ROWS = 200_000
SHARING_LABELS = {
    "private": _l("Only me"),
    "team": _l("A team"),
    "workspace": _l("Everyone in the workspace"),
}
SCHEDULE_LABELS = {
    "": _l("Not e-mailed"),
    "daily": _l("Daily"),
    "weekly": _l("Weekly"),
    "monthly": _l("Monthly"),
}


def membership() -> Any:
    """The signed-in member."""
    return g.membership


def my_team_ids() -> Any:
    """A subquery of the ids of the member's teams."""
    return select(TeamMember.team_id).where(TeamMember.user_id == membership().user_id)


# --------------------------------------------------------------------------- access


def report_clause() -> Any:
    """Saved reports the member sees: their own, shared with the workspace or their team
    (managers of analytics see every one)."""
    if membership().can("analytics.manage"):
        return None
    return or_(
        SavedReport.owner_id == membership().user_id,
        SavedReport.sharing == "workspace",
        and_(SavedReport.sharing == "team", SavedReport.team_id.in_(my_team_ids())),
    )


def visible_reports() -> list[SavedReport]:
    """The saved reports the member sees, by name."""
    stmt = select(SavedReport).order_by(SavedReport.name)
    clause = report_clause()
    if clause is not None:
        stmt = stmt.where(clause)
    return list(db.session.scalars(stmt).unique())


def report_or_404(report_id: str) -> SavedReport:
    """A saved report the member sees, else 404 (another tenant's too)."""
    rid = parse_uuid(report_id)
    if rid is None:
        abort(404)
    stmt = select(SavedReport).where(SavedReport.id == rid)
    clause = report_clause()
    if clause is not None:
        stmt = stmt.where(clause)
    row = db.session.scalars(stmt).unique().one_or_none()
    if row is None:
        abort(404)
    return row


def may_edit_report(report: SavedReport) -> bool:
    """The owner and analytics managers change a saved report."""
    m = membership()
    return report.owner_id == m.user_id or m.can("analytics.manage")


def dashboard_clause() -> Any:
    """Dashboards the member sees: their own and those of their teams (managers: every
    team's)."""
    m = membership()
    own = and_(Dashboard.team_id.is_(None), Dashboard.owner_id == m.user_id)
    if m.can("analytics.manage"):
        return or_(own, Dashboard.team_id.is_not(None))
    return or_(own, Dashboard.team_id.in_(my_team_ids()))


def dashboard_or_404(dashboard_id: str) -> Dashboard:
    """A dashboard the member sees, else 404."""
    did = parse_uuid(dashboard_id)
    if did is None:
        abort(404)
    row = db.session.scalars(
        select(Dashboard).where(Dashboard.id == did, dashboard_clause())
    ).one_or_none()
    if row is None:
        abort(404)
    return row


def may_edit_dashboard(dashboard: Dashboard) -> bool:
    """One's own dashboard; a team's: its creator and analytics managers."""
    m = membership()
    if not m.can("analytics.build"):
        return False
    return dashboard.owner_id == m.user_id or (
        dashboard.team_id is not None and m.can("analytics.manage")
    )


# --------------------------------------------------------------------------- results for pages


def drill_link(
    source: ReportSource, conditions: list[tuple[str, str, str]], defn: Definition
) -> str:
    """Where a bar, slice or row leads: the module's own list when it can show exactly
    these records, else the analytics record list."""
    if source.drill_url is not None and all(op in ("eq", "empty") for _n, op, _v in conditions):
        simple: dict[str, str] = {}
        for name, op, value in conditions:
            if name in simple:
                simple = {}
                break
            simple[name] = "" if op == "empty" else value
        if simple or not conditions:
            try:
                found = source.drill_url(simple)
            except Exception:  # a module's link builder must not break the report
                current_app.logger.exception("drill_url of %s failed", source.key)
                found = None
            if found:
                return found
    target = Definition(source=defn.source, filters=list(conditions), columns=defn.columns)
    return url_for("analytics.records", **_multi(target.to_args()))


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def chart_of(result: Result, defn: Definition, source: ReportSource) -> dict[str, Any] | None:
    """What the chart macro draws: kind, labels, values or series, drill-down links."""
    if defn.chart == "table" or not defn.groups or not result.rows:
        return None
    unit = ""
    labels: list[str] = []
    for row in result.rows:
        if row.labels[0] not in labels:
            labels.append(row.labels[0])
    title = result.value_headings[0]
    if len(defn.groups) == 1 or defn.chart in ("pie", "funnel"):
        totals: dict[str, float] = {}
        links: dict[str, str] = {}
        for row in result.rows:
            key = row.labels[0]
            totals[key] = totals.get(key, 0.0) + float(row.values[0] or 0)
            if key not in links:
                conditions = row.drill if len(defn.groups) == 1 else _first_group_drill(row, defn)
                links[key] = drill_link(source, conditions, defn)
        return {
            "kind": defn.chart,
            "labels": labels,
            "values": [totals[label] for label in labels],
            "links": [links[label] for label in labels],
            "title": title,
            "unit": unit,
        }
    series_names: list[str] = []
    for row in result.rows:
        if row.labels[1] not in series_names:
            series_names.append(row.labels[1])
    cells = {(r.labels[0], r.labels[1]): r for r in result.rows}
    series = []
    for name in series_names:
        series.append(
            {
                "name": name,
                "values": [
                    float(cells[(label, name)].values[0] or 0) if (label, name) in cells else 0.0
                    for label in labels
                ],
            }
        )
    links = [
        [
            drill_link(source, cells[(label, name)].drill, defn) if (label, name) in cells else ""
            for name in series_names
        ]
        for label in labels
    ]
    return {
        "kind": defn.chart,
        "labels": labels,
        "series": series,
        "links": links,
        "title": title,
        "unit": unit,
    }


def _first_group_drill(row: Any, defn: Definition) -> list[tuple[str, str, str]]:
    second = defn.groups[1]
    return [c for c in row.drill if c[0] != second]


def row_links(result: Result, defn: Definition, source: ReportSource) -> list[str]:
    """The drill-down link of each result row."""
    return [drill_link(source, row.drill, defn) for row in result.rows]


def _async_threshold() -> int:
    return int(current_app.config.get("ANALYTICS_ASYNC_ROWS", ASYNC_ROWS))


# --------------------------------------------------------------------------- home


@bp.get("/")
@require_permission("analytics.view")
def index() -> Any:
    """Built-in reports (by topic), saved reports, dashboards."""
    available = sources(membership())
    grouped: dict[str, list[Any]] = {}
    for b in builtins.available(available):
        grouped.setdefault(str(b.category), []).append(b)
    dashboards = db.session.scalars(
        select(Dashboard).where(dashboard_clause()).order_by(Dashboard.name)
    ).all()
    return render_template(
        "analytics/index.html",
        grouped=grouped,
        reports=visible_reports(),
        dashboards=dashboards,
        sources=available,
        teams={str(t.id): t.name for t in all_teams()},
    )


# --------------------------------------------------------------------------- the builder


def _builder_context(defn: Definition, available: dict[str, ReportSource]) -> dict[str, Any]:
    source = available.get(defn.source)
    fields = list(source.fields) if source else []
    return {
        "defn": defn,
        "sources": available,
        "source": source,
        "fields": fields,
        "group_fields": [f for f in fields if f.groupable],
        "agg_fields": [f for f in fields if f.aggregatable],
        "date_types": DATE_TYPES,
        "aggregates": [(a, AGGREGATE_LABELS[a]) for a in AGGREGATES],
        "buckets": [(b, BUCKET_LABELS[b]) for b in BUCKETS],
        "operators": [(o, OPERATOR_LABELS[o]) for o in OPERATORS],
        "charts": [(c, CHART_LABELS[c]) for c in CHARTS],
        "filter_rows": max(3, min(MAX_FILTERS, len(defn.filters) + 1)),
        "sharing": [(s, SHARING_LABELS[s]) for s in SHARING],
        "teams": all_teams(),
        "query": _multi(defn.to_args()),
    }


def _show(defn: Definition, *, template: str = "analytics/builder.html", **extra: Any) -> Any:
    """Check and run ``defn`` (or queue it as a job when large) and render the page."""
    available = sources(membership())
    context = _builder_context(defn, available)
    context.update(extra)
    if not defn.source:
        return render_template(template, **context)
    errors = validate(defn, available)
    if errors:
        return render_template(template, errors=errors, **context), 400
    source = available[defn.source]
    if count_rows(defn, membership(), source) > _async_threshold():
        report_run = ReportRun(owner_id=membership().user_id, definition=defn.to_dict())
        db.session.add(report_run)
        db.session.flush()
        from .jobs import run_report

        run_report.enqueue_after_commit(str(report_run.id))
        db.session.commit()
        return render_template(template, report_run=report_run, **context)
    result = run(defn, membership(), source)
    return render_template(template, **_result_context(result, defn, source), **context)


def _result_context(result: Result, defn: Definition, source: ReportSource) -> dict[str, Any]:
    return {
        "result": result,
        "chart": chart_of(result, defn, source),
        "links": row_links(result, defn, source),
        "export_query": _multi(defn.to_args()),
    }


@bp.get("/builder")
@require_permission("analytics.view")
def builder() -> Any:
    """The report builder: choose a record type, groups, values, filters, chart; see the
    result as a table and a chart."""
    defn = Definition.from_args(request.args)
    if request.args.get("source") and not request.args.get("group") and "run" not in request.args:
        # a record type just chosen: a sensible start (count by the first groupable field)
        available = sources(membership())
        source = available.get(defn.source)
        if source is not None and not defn.groups:
            first = next((f for f in source.fields if f.groupable), None)
            defn.groups = [first.name] if first else []
    return _show(defn)


@bp.get("/builtin/<key>")
@require_permission("analytics.view")
def builtin_report(key: str) -> Any:
    """A built-in report, in the builder."""
    found = builtins.BY_KEY.get(key)
    if found is None or found not in builtins.available(sources(membership())):
        abort(404)
    return _show(found.definition, title=found.name, description=found.description)


@bp.get("/records", endpoint="records")
@require_permission("analytics.view")
def records_page() -> Any:
    """The records behind a bar, slice or row (the drill-down): the definition's filters."""
    defn = Definition.from_args(request.args)
    available = sources(membership())
    errors = validate(defn, available)
    if errors:
        return render_template("analytics/records.html", errors=errors, source=None), 400
    source = available[defn.source]
    columns, rows, more = records(defn, membership(), source)
    conditions = [
        (source.get_field(n).label, OPERATOR_LABELS[op], v)  # type: ignore[union-attr]
        for n, op, v in defn.filters
    ]
    return render_template(
        "analytics/records.html",
        source=source,
        columns=columns,
        rows=[(source.record_url(r) if source.record_url else "", shown) for r, shown in rows],
        more=more,
        conditions=conditions,
    )


# --------------------------------------------------------------------------- runs (jobs)


def _run_or_404(run_id: str) -> ReportRun:
    rid = parse_uuid(run_id)
    if rid is None:
        abort(404)
    row = db.session.scalars(
        select(ReportRun).where(ReportRun.id == rid, ReportRun.owner_id == membership().user_id)
    ).one_or_none()
    if row is None:
        abort(404)
    return row


@bp.get("/runs/<run_id>")
@require_permission("analytics.view")
def run_status(run_id: str) -> Any:
    """A large report's progress (polled by htmx), then its result."""
    report_run = _run_or_404(run_id)
    context: dict[str, Any] = {"report_run": report_run}
    if report_run.status == "done" and report_run.result is not None:
        defn = Definition.from_dict(report_run.definition)
        source = sources(membership()).get(defn.source)
        if source is None:
            abort(404)
        result = Result.from_dict(report_run.result)
        context.update(_result_context(result, defn, source), defn=defn)
    return render_template("analytics/_run.html", **context)


# --------------------------------------------------------------------------- saved reports


def _report_form_errors(form: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = " ".join(form.get("name", "").split())
    if not name:
        errors["name"] = _("Give the report a name.")
    elif len(name) > 160:
        errors["name"] = _("At most 160 characters.")
    sharing = form.get("sharing", "private")
    if sharing not in SHARING:
        errors["sharing"] = _("Choose one of the listed options.")
    if sharing == "workspace" and not membership().can("analytics.manage"):
        errors["sharing"] = _("Only analytics managers share with the whole workspace.")
    if sharing == "team":
        team = parse_uuid(form.get("team_id", ""))
        if team is None or team not in {t.id for t in all_teams()}:
            errors["team_id"] = _("Choose one of the teams.")
    if form.get("schedule", "") not in SCHEDULES:
        errors["schedule"] = _("Choose one of the listed options.")
    if form.get("schedule_format", "csv") not in FORMATS:
        errors["schedule_format"] = _("Choose one of the listed formats.")
    recipients = [r.strip() for r in form.get("recipients", "").split(",") if r.strip()]
    if len(recipients) > 20 or any("@" not in r or len(r) > 254 for r in recipients):
        errors["recipients"] = _("Enter up to 20 e-mail addresses, separated by commas.")
    return errors


def _apply_report_form(report: SavedReport, form: Any) -> None:
    report.name = " ".join(form.get("name", "").split())
    report.description = form.get("description", "").strip()[:2000] or None
    report.sharing = form.get("sharing", "private")
    report.team_id = parse_uuid(form.get("team_id", "")) if report.sharing == "team" else None
    if "schedule" in form:
        report.schedule = form.get("schedule", "")
        report.schedule_format = form.get("schedule_format", "csv")
        recipients = [r.strip() for r in form.get("recipients", "").split(",") if r.strip()]
        report.recipients = ", ".join(recipients) or None


@bp.post("/reports")
@require_permission("analytics.build")
def report_create() -> Any:
    """Save the builder's report under a name."""
    defn = Definition.from_args(request.form)
    available = sources(membership())
    errors = {**validate(defn, available), **_report_form_errors(request.form)}
    if errors:
        return _show_errors(defn, available, errors)
    report = SavedReport(owner_id=membership().user_id, definition=defn.to_dict())
    _apply_report_form(report, request.form)
    db.session.add(report)
    db.session.commit()
    flash(_("Report “%(name)s” saved.", name=report.name), "success")
    return redirect(url_for("analytics.report", report_id=report.id), 303)


def _show_errors(defn: Definition, available: dict[str, ReportSource], errors: dict) -> Any:
    context = _builder_context(defn, available)
    return render_template("analytics/builder.html", errors=errors, **context), 400


@bp.get("/reports/<report_id>")
@require_permission("analytics.view")
def report(report_id: str) -> Any:
    """A saved report: its result, chart, exports, schedule, and adding it to a dashboard."""
    saved = report_or_404(report_id)
    defn = Definition.from_dict(saved.definition)
    dashboards = db.session.scalars(
        select(Dashboard).where(dashboard_clause()).order_by(Dashboard.name)
    ).all()
    return _show(
        defn,
        template="analytics/report.html",
        saved=saved,
        may_edit=may_edit_report(saved),
        dashboards=[d for d in dashboards if may_edit_dashboard(d)],
        schedules=[(s, SCHEDULE_LABELS[s]) for s in SCHEDULES],
        formats=FORMATS,
    )


@bp.post("/reports/<report_id>")
@require_permission("analytics.build")
def report_update(report_id: str) -> Any:
    """Change a saved report's name, sharing and schedule (and, from the builder, its
    definition)."""
    saved = report_or_404(report_id)
    if not may_edit_report(saved):
        abort(403)
    errors = _report_form_errors(request.form)
    if request.form.get("source"):
        defn = Definition.from_args(request.form)
        errors.update(validate(defn, sources(membership())))
    else:
        defn = Definition.from_dict(saved.definition)
    if errors:
        for message in errors.values():
            flash(message, "error")
        return redirect(url_for("analytics.report", report_id=saved.id), 303)
    _apply_report_form(saved, request.form)
    saved.definition = defn.to_dict()
    db.session.commit()
    flash(_("Report “%(name)s” saved.", name=saved.name), "success")
    return redirect(url_for("analytics.report", report_id=saved.id), 303)


@bp.post("/reports/<report_id>/delete")
@require_permission("analytics.build")
def report_delete(report_id: str) -> Any:
    """Delete a saved report (its dashboard widgets go with it)."""
    saved = report_or_404(report_id)
    if not may_edit_report(saved):
        abort(403)
    for model in (DashboardWidget, ReportFile):
        db.session.execute(delete(model).where(model.report_id == saved.id))
    db.session.delete(saved)
    db.session.commit()
    flash(_("Report deleted."), "success")
    return redirect(url_for("analytics.index"), 303)


# --------------------------------------------------------------------------- exports


@bp.get("/export/<fmt>")
@require_permission("analytics.view")
def export(fmt: str) -> Any:
    """The builder's result as CSV, XLSX or PDF."""
    if fmt not in FORMATS:
        abort(404)
    defn = Definition.from_args(request.args)
    try:
        result = run(defn, membership())
    except ReportError as exc:
        return Response("\n".join(exc.errors.values()), 400, mimetype="text/plain")
    title = request.args.get("title", "") or _("Report")
    return _file_response(result, title[:120], fmt)


@bp.get("/reports/<report_id>/export/<fmt>")
@require_permission("analytics.view")
def report_export(report_id: str, fmt: str) -> Any:
    """A saved report as CSV, XLSX or PDF."""
    saved = report_or_404(report_id)
    if fmt not in FORMATS:
        abort(404)
    try:
        result = run(Definition.from_dict(saved.definition), membership())
    except ReportError:
        abort(404)
    return _file_response(result, saved.name, fmt)


def _file_response(result: Result, title: str, fmt: str) -> Response:
    from .exports import render_export

    content, mimetype, filename = render_export(result, title, fmt)
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/files/<file_id>")
@require_permission("analytics.view")
def file_download(file_id: str) -> Any:
    """A scheduled report's export, from the link its e-mail carries."""
    row = get_or_404(ReportFile, file_id)
    report_or_404(str(row.report_id))  # only who may see the report
    return Response(
        row.content,
        mimetype=row.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{row.filename}"'},
    )


# --------------------------------------------------------------------------- dashboards


@bp.get("/dashboards")
@require_permission("analytics.view")
def dashboards() -> Any:
    """The member's dashboards and their teams'; a form for a new one."""
    rows = db.session.scalars(
        select(Dashboard).where(dashboard_clause()).order_by(Dashboard.name)
    ).all()
    return render_template(
        "analytics/dashboards.html",
        dashboards=rows,
        teams=_my_teams(),
        team_names={t.id: t.name for t in all_teams()},
    )


def _my_teams() -> list[Any]:
    if membership().can("analytics.manage"):
        return all_teams()
    mine = set(db.session.scalars(my_team_ids()))
    return [t for t in all_teams() if t.id in mine]


@bp.post("/dashboards")
@require_permission("analytics.build")
def dashboard_create() -> Any:
    """A new dashboard of one's own, or of one of one's teams (analytics managers)."""
    name = " ".join(request.form.get("name", "").split())[:120]
    team_id = parse_uuid(request.form.get("team_id", ""))
    error = None
    if not name:
        error = _("Give the dashboard a name.")
    elif request.form.get("team_id") and (
        team_id is None
        or not membership().can("analytics.manage")
        or team_id not in {t.id for t in _my_teams()}
    ):
        error = _("Choose one of your teams.")
    if error:
        flash(error, "error")
        rows = db.session.scalars(select(Dashboard).where(dashboard_clause())).all()
        return render_template(
            "analytics/dashboards.html",
            dashboards=rows,
            teams=_my_teams(),
            team_names={t.id: t.name for t in all_teams()},
            error=error,
        ), 400
    dashboard = Dashboard(name=name, owner_id=membership().user_id, team_id=team_id)
    db.session.add(dashboard)
    db.session.commit()
    return redirect(url_for("analytics.dashboard", dashboard_id=dashboard.id), 303)


def _module_widgets() -> dict[str, Any]:
    """The dashboard widgets of every enabled module (``crm_dashboard_widgets``) by title."""
    out = {}
    for widget in collect_hook("crm_dashboard_widgets", membership=membership()):
        out.setdefault(str(widget.title), widget)
    return out


def _widget_view(widget: DashboardWidget, modules: dict[str, Any], reports: dict) -> Any:
    """What one widget shows: title, link, chart (or a module's HTML), or why not."""
    view: dict[str, Any] = {"widget": widget, "title": "", "html": None, "chart": None}
    defn = None
    if widget.module_widget:
        found = modules.get(widget.module_widget)
        view["title"] = widget.module_widget
        if found is None:
            view["missing"] = True
        else:
            view["html"] = found.html
        return view
    if widget.report_id:
        saved = reports.get(widget.report_id)
        if saved is None:
            view["missing"] = True
            return view
        view["title"], view["url"] = (
            saved.name,
            url_for("analytics.report", report_id=saved.id),
        )
        defn = Definition.from_dict(saved.definition)
    elif widget.builtin:
        found = builtins.BY_KEY.get(widget.builtin)
        if found is None:
            view["missing"] = True
            return view
        view["title"] = str(found.name)
        view["url"] = url_for("analytics.builtin_report", key=found.key)
        defn = found.definition
    if defn is None:
        view["missing"] = True
        return view
    available = sources(membership())
    if validate(defn, available):
        view["missing"] = True
        return view
    source = available[defn.source]
    result = run(defn, membership(), source)
    if defn.chart == "table":
        defn = Definition(**{**defn.__dict__, "chart": "bar"})
    view["chart"] = chart_of(result, defn, source)
    view["result"] = result
    return view


@bp.get("/dashboards/<dashboard_id>")
@require_permission("analytics.view")
def dashboard(dashboard_id: str) -> Any:
    """A dashboard: its widgets in order; for who may edit it, add, move and remove."""
    board = dashboard_or_404(dashboard_id)
    widgets = db.session.scalars(
        select(DashboardWidget)
        .where(DashboardWidget.dashboard_id == board.id)
        .order_by(DashboardWidget.position, DashboardWidget.id)
    ).all()
    reports = {r.id: r for r in visible_reports()}
    modules = _module_widgets()
    views = [_widget_view(w, modules, reports) for w in widgets]
    available = sources(membership())
    return render_template(
        "analytics/dashboard.html",
        board=board,
        views=views,
        may_edit=may_edit_dashboard(board),
        reports=list(reports.values()),
        builtins=builtins.available(available),
        module_titles=sorted(modules),
        team_name=next((t.name for t in all_teams() if t.id == board.team_id), None),
    )


@bp.post("/dashboards/<dashboard_id>/widgets")
@require_permission("analytics.build")
def widget_add(dashboard_id: str) -> Any:
    """Add a saved or built-in report's chart, or a module's widget, at the end."""
    board = dashboard_or_404(dashboard_id)
    if not may_edit_dashboard(board):
        abort(403)
    choice = request.form.get("widget", "")
    kind, _sep, value = choice.partition(":")
    widget = DashboardWidget(dashboard_id=board.id)
    if kind == "report":
        saved = report_or_404(value)
        widget.report_id = saved.id
    elif kind == "builtin" and value in builtins.BY_KEY:
        widget.builtin = value
    elif kind == "module" and value in _module_widgets():
        widget.module_widget = value
    else:
        flash(_("Choose one of the listed widgets."), "error")
        return redirect(url_for("analytics.dashboard", dashboard_id=board.id), 303)
    widget.size = "full" if request.form.get("size") == "full" else "half"
    last = db.session.scalar(
        select(func.max(DashboardWidget.position)).where(DashboardWidget.dashboard_id == board.id)
    )
    widget.position = (last or 0) + 1
    db.session.add(widget)
    db.session.commit()
    flash(_("Widget added."), "success")
    return redirect(url_for("analytics.dashboard", dashboard_id=board.id), 303)


def _widget_or_404(board: Dashboard, widget_id: str) -> DashboardWidget:
    wid = parse_uuid(widget_id)
    if wid is None:
        abort(404)
    row = db.session.scalars(
        select(DashboardWidget).where(
            DashboardWidget.id == wid, DashboardWidget.dashboard_id == board.id
        )
    ).one_or_none()
    if row is None:
        abort(404)
    return row


@bp.post("/dashboards/<dashboard_id>/widgets/<widget_id>/move")
@require_permission("analytics.build")
def widget_move(dashboard_id: str, widget_id: str) -> Any:
    """Move a widget one place up or down."""
    board = dashboard_or_404(dashboard_id)
    if not may_edit_dashboard(board):
        abort(403)
    widget = _widget_or_404(board, widget_id)
    ordered = list(
        db.session.scalars(
            select(DashboardWidget)
            .where(DashboardWidget.dashboard_id == board.id)
            .order_by(DashboardWidget.position, DashboardWidget.id)
        )
    )
    i = ordered.index(widget)
    j = i - 1 if request.form.get("direction") == "up" else i + 1
    if 0 <= j < len(ordered):
        ordered[i], ordered[j] = ordered[j], ordered[i]
    for position, row in enumerate(ordered, start=1):
        row.position = position
    db.session.commit()
    return redirect(url_for("analytics.dashboard", dashboard_id=board.id), 303)


@bp.post("/dashboards/<dashboard_id>/widgets/<widget_id>/delete")
@require_permission("analytics.build")
def widget_delete(dashboard_id: str, widget_id: str) -> Any:
    """Remove a widget from the dashboard."""
    board = dashboard_or_404(dashboard_id)
    if not may_edit_dashboard(board):
        abort(403)
    db.session.delete(_widget_or_404(board, widget_id))
    db.session.commit()
    flash(_("Widget removed."), "success")
    return redirect(url_for("analytics.dashboard", dashboard_id=board.id), 303)


@bp.post("/dashboards/<dashboard_id>/delete")
@require_permission("analytics.build")
def dashboard_delete(dashboard_id: str) -> Any:
    """Delete a dashboard (the reports stay)."""
    board = dashboard_or_404(dashboard_id)
    if not may_edit_dashboard(board):
        abort(403)
    db.session.execute(delete(DashboardWidget).where(DashboardWidget.dashboard_id == board.id))
    db.session.delete(board)
    db.session.commit()
    flash(_("Dashboard deleted."), "success")
    return redirect(url_for("analytics.dashboards"), 303)
