"""The forecast page (charts and tables by owner and team) and the quota table."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm_platform.sdk import Team, ValidationFailed, db, require_permission

from .blueprint import bp, membership
from .deals import CATEGORY_LABELS
from .forecast import CATEGORIES, build, current_quarter, quotas_of, save_quotas, sellers
from .forms import ButtonForm
from .settings import clean_currency, sales_settings
from .views_deals import owner_scope


def _year(raw: str | None, default: int) -> int:
    try:
        year = int(raw) if raw else default
    except ValueError:
        abort(400)
    if not 2000 <= year <= 2100:
        abort(400)
    return year


@bp.get("/forecast")
@require_permission("sfa.read")
def forecast() -> Any:
    """Weighted pipeline, won and quota by month or quarter; owners and teams for a period.

    ``?year=``, ``?by=month|quarter``, ``?quarter=0..4`` (0: the whole year),
    ``?owner=me|team:<id>|all``, ``?currency=``.
    """
    this_year, this_quarter = current_quarter()
    year = _year(request.args.get("year"), this_year)
    by = "month" if request.args.get("by") == "month" else "quarter"
    raw_quarter = request.args.get("quarter")
    quarter = this_quarter if raw_quarter is None and year == this_year else 0
    if raw_quarter is not None:
        quarter = int(raw_quarter) if raw_quarter in ("0", "1", "2", "3", "4") else 0
    try:
        currency = clean_currency(request.args.get("currency") or sales_settings().currency)
    except ValueError:
        abort(400)
    scope, owners = owner_scope(request.args.get("owner"))
    result = build(
        year=year,
        quarter=quarter,
        by=by,
        currency=currency,
        membership=membership(),
        owner_ids=owners,
    )
    weighted_series = [
        {"name": str(CATEGORY_LABELS[c]), "values": [float(v) for v in result.weighted[c]]}
        for c in CATEGORIES
    ]
    won_series = [
        {"name": _("Won"), "values": [float(v) for v in result.won]},
        {"name": _("Quota"), "values": [float(v) for v in result.quota]},
    ]
    with_quota = [r for r in result.owners if r.quota]
    return render_template(
        "sfa/forecast.html",
        f=result,
        weighted_series=weighted_series,
        won_series=won_series,
        attainment_labels=[r.label for r in with_quota],
        attainment_values=[round(r.attainment or 0, 1) for r in with_quota],
        owner=scope,
        teams=db.session.scalars(select(Team).order_by(Team.name)).all(),
        years=list(range(this_year - 3, this_year + 3)),
        can_quota=membership().can("sfa.quotas"),
    )


@bp.route("/quotas", methods=["GET", "POST"])
@require_permission("sfa.quotas")
def quotas() -> Any:
    """Each seller's quota per quarter of a year (``?year=``), for managers to edit."""
    this_year, _q = current_quarter()
    year = _year(request.values.get("year"), this_year)
    currency = sales_settings().currency
    form = ButtonForm()
    errors: dict[str, str] = {}
    people = sellers()
    values = {
        f"q_{user}_{quarter}": str(amount) for (user, quarter), amount in quotas_of(year).items()
    }
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        raw = {
            (str(m.user_id), q): request.form.get(f"q_{m.user_id}_{q}", "")
            for m in people
            for q in (1, 2, 3, 4)
        }
        try:
            changed = save_quotas(year, raw, currency, actor=current_user)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
            values = {f"q_{u}_{q}": v for (u, q), v in raw.items()}
        else:
            db.session.commit()
            flash(_("Quotas saved (%(num)d changed).", num=changed), "success")
            return redirect(url_for("sfa.quotas", year=year)), 303
    return (
        render_template(
            "sfa/quotas.html",
            form=form,
            year=year,
            years=list(range(this_year - 3, this_year + 3)),
            people=people,
            values=values,
            errors=errors,
            currency=currency,
        ),
        400 if errors else 200,
    )
