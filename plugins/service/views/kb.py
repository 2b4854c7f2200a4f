"""Knowledge-base pages for agents: search, read, write, versions."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm_platform.sdk import db, get_or_404, require_permission

from .. import kb
from ..forms import ArticleForm, ButtonForm, options
from ..models import (
    ARTICLE_STATUS_LABELS,
    ARTICLE_VISIBILITY_LABELS,
    Article,
    ArticleVersion,
    KbCategory,
)
from . import apply_errors, bp, form_data, membership, submit

FIELDS = ("title", "body", "category_id", "visibility", "status")


def _category_choices(form: ArticleForm) -> None:
    form.category_id.choices = options(
        [("", "—")]
        + [
            (str(c.id), c.name)
            for c in db.session.scalars(select(KbCategory).order_by(KbCategory.position))
        ]
    )


@bp.get("/kb", endpoint="kb")
@require_permission("service.read")
def kb_index() -> Any:
    """Every article (drafts and internal ones too), or those matching ``?q=``."""
    query = request.args.get("q", "")
    articles = kb.search(query, limit=200)
    grouped: dict[str, list[Article]] = {}
    for article in articles:
        grouped.setdefault(article.category.name if article.category else "—", []).append(article)
    return render_template(
        "service/kb_index.html",
        query=query,
        articles=articles,
        grouped=grouped if not query else {},
        visibility=ARTICLE_VISIBILITY_LABELS,
        statuses=ARTICLE_STATUS_LABELS,
        can_work=membership().can("service.work"),
    )


@bp.route("/kb/new", methods=["GET", "POST"])
@require_permission("service.work")
def article_new() -> Any:
    """Write an article."""
    form = ArticleForm()
    _category_choices(form)
    if request.method == "GET":
        form.visibility.data, form.status.data = "internal", "draft"
        return render_template("service/article_form.html", form=form, article=None)
    data = {k: request.form.get(k, "") for k in FIELDS}
    article, errors = submit(form, lambda: kb.create_article(data, actor=current_user), "title")
    if not errors:
        flash(_("Article saved."), "success")
        return redirect(url_for("service.article", article_id=article.id), 303)
    apply_errors(form, errors, "title")
    return render_template("service/article_form.html", form=form, article=None), 400


def _versions(article: Article) -> list[ArticleVersion]:
    return list(
        db.session.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article.id)
            .order_by(ArticleVersion.version.desc())
        )
    )


@bp.get("/kb/<article_id>")
@require_permission("service.read")
def article(article_id: str) -> Any:
    """An article with its versions (``?version=`` shows an old one)."""
    row = get_or_404(Article, article_id)
    versions = _versions(row)
    shown = None
    if request.args.get("version", "").isdigit():
        number = int(request.args["version"])
        shown = next((v for v in versions if v.version == number), None)
        if shown is None:
            abort(404)
    return render_template(
        "service/article.html",
        article=row,
        versions=versions,
        shown=shown,
        visibility=ARTICLE_VISIBILITY_LABELS,
        statuses=ARTICLE_STATUS_LABELS,
        can_work=membership().can("service.work"),
        button_form=ButtonForm(),
    )


@bp.route("/kb/<article_id>/edit", methods=["GET", "POST"])
@require_permission("service.work")
def article_edit(article_id: str) -> Any:
    """Change an article; a new text becomes a new version."""
    row = get_or_404(Article, article_id)
    form = ArticleForm(
        data={
            "title": row.title,
            "body": row.body,
            "category_id": str(row.category_id or ""),
            "visibility": row.visibility,
            "status": row.status,
        }
        if request.method == "GET"
        else None
    )
    _category_choices(form)
    if request.method == "GET":
        return render_template("service/article_form.html", form=form, article=row)
    data = {k: request.form.get(k, "") for k in FIELDS}
    new_version, errors = submit(
        form, lambda: kb.update_article(row, data, actor=current_user), "title"
    )
    if not errors:
        saved = _("Saved as version %(num)d.", num=row.version) if new_version else _("Saved.")
        flash(saved, "success")
        return redirect(url_for("service.article", article_id=row.id), 303)
    apply_errors(form, errors, "title")
    return render_template("service/article_form.html", form=form, article=row), 400


@bp.post("/kb/<article_id>/restore")
@require_permission("service.work")
def article_restore(article_id: str) -> Any:
    """Bring back an old version (``version`` in the form) as the newest one."""
    row = get_or_404(Article, article_id)
    form = ButtonForm()
    number = form_data().get("version", "")
    version = None
    if form.validate_on_submit() and number.isdigit():
        version = next((v for v in _versions(row) if v.version == int(number)), None)
    if version is None:
        abort(400)
    kb.restore_version(row, version, actor=current_user)
    db.session.commit()
    flash(
        _("Version %(old)d restored as version %(num)d.", old=version.version, num=row.version),
        "success",
    )
    return redirect(url_for("service.article", article_id=row.id), 303)
