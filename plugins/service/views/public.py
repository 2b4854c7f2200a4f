"""Pages for the workspace's customers, no sign-in: the help centre (public articles and a
contact form that opens a ticket) and the satisfaction survey behind a signed link.

They are ``public_tenant_view`` pages, which the core opens before it checks modules, so
each checks itself that the workspace has Service on (else 404, like any module page).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    ValidationFailed,
    db,
    module_enabled,
    over_rate_limit,
    parse_uuid,
    public_tenant_view,
)

from .. import csat, kb, tickets
from ..forms import HelpForm, SurveyForm
from ..models import Article
from ..outbound import mail_acknowledgement
from ..settings import KEY, WorkspaceSettings, inbound_address
from . import apply_errors, bp, submit

HELP_LIMIT = "5 per minute;30 per hour"


def service_public(view: Callable[..., Any]) -> Callable[..., Any]:
    """A public page of a workspace that has Service on (404 otherwise)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not module_enabled(KEY):
            abort(404)
        return view(*args, **kwargs)

    return public_tenant_view(wrapped)


def _kb_on() -> None:
    if not WorkspaceSettings.load().public_kb:
        abort(404)


@bp.route("/help", methods=["GET", "POST"])
@service_public
def help_centre() -> Any:
    """The help centre: search public articles, or write to support (opens a ticket)."""
    form = HelpForm()
    articles = (
        kb.search("", public_only=True, limit=10) if WorkspaceSettings.load().public_kb else []
    )
    context = {
        "form": form,
        "articles": articles,
        "address": inbound_address(),
        "public_kb": WorkspaceSettings.load().public_kb,
    }
    if request.method == "GET":
        return render_template("service/public_help.html", **context)
    if not form.validate_on_submit():
        apply_errors(form, {"subject": _("The form expired: send it again.")}, "subject")
        return render_template("service/public_help.html", **context), 400
    if form.website.data:  # only robots fill the hidden field
        return redirect(url_for("service.help_thanks"), 303)
    wait = over_rate_limit(HELP_LIMIT, "service-help", request.remote_addr or "-")
    if wait is not None:
        apply_errors(form, {"subject": _("Too many requests: try again in a minute.")}, "subject")
        return render_template("service/public_help.html", **context), 429
    data = {
        "subject": form.subject.data,
        "description": form.description.data,
        "requester_email": form.email.data,
        "requester_name": form.name.data,
    }
    errors: dict[str, str] = {}
    if not (form.email.data or "").strip():
        errors["email"] = _("Enter your e-mail address so we can answer.")
    if not (form.description.data or "").strip():
        errors["description"] = _("Tell us how we can help.")
    if not errors:
        try:
            ticket, _refused = tickets.create_ticket(data, channel="web")
        except ValidationFailed as exc:
            db.session.rollback()
            errors = {{"requester_email": "email"}.get(k, k): v for k, v in exc.errors.items()}
        else:
            if WorkspaceSettings.load().acknowledge:
                mail_acknowledgement(ticket, g.tenant.name)
            db.session.commit()
            return redirect(url_for("service.help_thanks"), 303)
    apply_errors(form, errors, "subject")
    return render_template("service/public_help.html", **context), 200


@bp.get("/help/thanks")
@service_public
def help_thanks() -> Any:
    """After the contact form: we got it."""
    return render_template("service/public_thanks.html")


@bp.get("/help/articles")
@service_public
def public_articles() -> Any:
    """Public articles, or those matching ``?q=``."""
    _kb_on()
    query = request.args.get("q", "")
    return render_template(
        "service/public_articles.html",
        query=query,
        articles=kb.search(query, public_only=True, limit=100),
    )


@bp.get("/help/articles/<article_id>")
@service_public
def public_article(article_id: str) -> Any:
    """One public article (drafts and internal articles answer 404)."""
    _kb_on()
    aid = parse_uuid(article_id)
    row = None
    if aid is not None:
        row = db.session.scalars(select(Article).where(Article.id == aid)).unique().one_or_none()
    if row is None or not row.is_public:
        abort(404)
    return render_template("service/public_article.html", article=row)


@bp.route("/survey/<token>", methods=["GET", "POST"])
@service_public
def survey(token: str) -> Any:
    """The satisfaction survey of a solved ticket: one answer per link."""
    try:
        row = csat.survey_from_token(token)
    except csat.SurveyLinkError as exc:
        return render_template("service/survey.html", problem=str(exc), form=None), 400
    if row.answered_at is not None:
        done = _("This survey has already been answered. Thank you!")
        status = 409 if request.method == "POST" else 200
        return render_template("service/survey.html", done=done, form=None, survey=row), status
    form = SurveyForm()
    if request.method == "POST":
        _done, errors = submit(
            form, lambda: csat.answer(row, form.rating.data, form.comment.data), "rating"
        )
        if not errors:
            return render_template("service/survey.html", thanks=True, form=None, survey=row)
        if "survey" in errors:
            done = errors["survey"]
            return render_template("service/survey.html", done=done, form=None), 409
        apply_errors(form, errors, "rating")
        return render_template("service/survey.html", form=form, survey=row), 400
    return render_template("service/survey.html", form=form, survey=row)
