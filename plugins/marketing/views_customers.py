"""The marketing overview, customer analysis (RFM, value, lifecycle) and module settings."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm_platform.sdk import (
    db,
    has_permission,
    module_settings,
    require_permission,
    save_module_settings,
)

from .analytics import effect
from .forms import ButtonForm, SettingsForm
from .jobs import recompute_scores_job
from .models import Campaign, Segment, Sequence, Suppression
from .scoring import DEFAULTS, distributions, thresholds
from .segment_fields import LIFECYCLE_LABELS, TIER_LABELS
from .suppression import topics
from .web import bp, require_button


@bp.get("/")
@require_permission("marketing.read")
def index() -> Any:
    """The overview: recent campaigns and their results, customers by lifecycle."""
    recent = db.session.scalars(
        select(Campaign)
        .where(Campaign.status.in_(("sending", "sent", "recorded")))
        .order_by(Campaign.started_at.desc())
        .limit(5)
    ).all()
    counts = {
        "segments": db.session.scalar(select(func.count()).select_from(Segment)) or 0,
        "campaigns": db.session.scalar(select(func.count()).select_from(Campaign)) or 0,
        "sequences": db.session.scalar(select(func.count()).select_from(Sequence)) or 0,
        "suppressed": db.session.scalar(select(func.count()).select_from(Suppression)) or 0,
    }
    return render_template(
        "marketing/index.html",
        effects=[effect(c) for c in recent],
        counts=counts,
        dist=distributions(),
        lifecycle_labels=LIFECYCLE_LABELS,
        tier_labels=TIER_LABELS,
    )


@bp.get("/customers")
@require_permission("marketing.read")
def customers() -> Any:
    """Customer analysis: lifecycle, value tiers, recency × frequency, lifetime value."""
    return render_template(
        "marketing/customers.html",
        dist=distributions(),
        limits=thresholds(),
        lifecycle_labels=LIFECYCLE_LABELS,
        tier_labels=TIER_LABELS,
        form=ButtonForm(),
        can_manage=has_permission("marketing.manage"),
    )


@bp.post("/customers/recompute")
@require_permission("marketing.manage")
def customers_recompute() -> Any:
    """Recompute every customer's score now (a job)."""
    require_button(ButtonForm())
    recompute_scores_job.enqueue_after_commit()
    db.session.commit()
    flash(_("Customer scores are being recomputed."), "success")
    return redirect(url_for("marketing.customers")), 303


def _topics_text(values: dict[str, str]) -> str:
    return "\n".join(f"{k} = {v}" for k, v in values.items())


def _parse_topics(text: str) -> tuple[dict[str, str], str | None]:
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, label = line.partition("=")
        key, label = key.strip().lower(), label.strip()
        if not sep or not re.match(r"^[a-z][a-z0-9_]{0,39}$", key) or not label:
            return {}, _("Write each topic as key = label, e.g. newsletter = Newsletter.")
        if key == "all":
            return {}, _("“all” is reserved: choose another key.")
        out[key] = label[:80]
    if not out:
        return {}, _("Keep at least one topic.")
    return out, None


@bp.route("/settings", methods=["GET", "POST"])
@require_permission("marketing.manage")
def settings() -> Any:
    """Lifecycle thresholds and subscription topics."""
    limits = thresholds()
    form = SettingsForm(data={**limits, "topics": _topics_text(topics())})
    if form.validate_on_submit():
        parsed, problem = _parse_topics(form.topics.data)
        if problem:
            form.topics.errors = [problem]
        else:
            stored = module_settings("marketing")
            stored["lifecycle"] = {k: int(form[k].data) for k in DEFAULTS}
            stored["topics"] = parsed
            save_module_settings("marketing", stored)
            db.session.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for("marketing.settings"))
    return render_template("marketing/settings.html", form=form), 400 if form.errors else 200
