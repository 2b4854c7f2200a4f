"""The suppression list page: who never gets mail (and why), adding and removing by hand,
and reading a bounce message pasted in."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields import SelectChoice

from crm_platform.sdk import ValidationFailed, db, get_or_404, has_permission, require_permission

from .forms import BounceForm, ButtonForm, SuppressionForm
from .models import Suppression
from .suppression import REASON_LABELS, process_bounce_report, suppress, topics
from .web import bp, require_button

PAGE = 100


def _scopes() -> list[SelectChoice]:
    return [SelectChoice("all", _("Every topic"))] + [
        SelectChoice(k, v) for k, v in topics().items()
    ]


@bp.get("/suppression")
@require_permission("marketing.read")
def suppression() -> Any:
    """The suppression list, newest first (``?q=`` filters by address)."""
    query = (request.args.get("q") or "").strip().lower()[:100]
    stmt = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
    if query:
        stmt = stmt.where(Suppression.email.contains(query))
    form = SuppressionForm()
    form.scope.choices = _scopes()
    return render_template(
        "marketing/suppression.html",
        entries=db.session.scalars(stmt.limit(PAGE)).all(),
        query=query,
        form=form,
        bounce_form=BounceForm(),
        button_form=ButtonForm(),
        reasons=REASON_LABELS,
        scopes={c.value: c.label for c in _scopes()},
        can_manage=has_permission("marketing.manage"),
    )


@bp.post("/suppression")
@require_permission("marketing.manage")
def suppression_add() -> Any:
    """Add an address to the list by hand."""
    form = SuppressionForm()
    form.scope.choices = _scopes()
    if form.validate_on_submit():
        try:
            _entry, new = suppress(
                form.email.data,
                scope=form.scope.data or "all",
                reason="manual",
                note=form.note.data,
            )
        except ValidationFailed as exc:
            db.session.rollback()
            for message in exc.errors.values():
                flash(message, "error")
        else:
            db.session.commit()
            flash(_("Added.") if new else _("That address was already on the list."), "success")
    else:
        flash(_("Enter an e-mail address."), "error")
    return redirect(url_for("marketing.suppression")), 303


@bp.post("/suppression/<entry_id>/delete")
@require_permission("marketing.manage")
def suppression_delete(entry_id: str) -> Any:
    """Take an address off the list (it may get mail again)."""
    entry = get_or_404(Suppression, entry_id)
    require_button(ButtonForm())
    db.session.delete(entry)
    db.session.commit()
    flash(_("%(email)s may get mail again.", email=entry.email), "success")
    return redirect(url_for("marketing.suppression")), 303


@bp.post("/suppression/bounces")
@require_permission("marketing.manage")
def suppression_bounces() -> Any:
    """Read a bounce message (a delivery status notification) pasted in."""
    form = BounceForm()
    if not form.validate_on_submit():
        flash(_("Paste the whole bounce message."), "error")
        return redirect(url_for("marketing.suppression")), 303
    try:
        count = process_bounce_report(form.raw.data)
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
    else:
        db.session.commit()
        flash(_("%(num)d bounces recorded.", num=count), "success")
    return redirect(url_for("marketing.suppression")), 303
