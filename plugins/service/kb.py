"""The knowledge base: articles with versions, full-text search, suggestions for tickets.

Search runs on PostgreSQL's full text (``to_tsvector`` of title and body, with a GIN index
on that expression, ranked by ``ts_rank``); on SQLite every word must appear (``LIKE``).
Every change of an article's title or body is kept as a numbered version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, func, literal_column, or_, select

from crm_platform.sdk import ValidationFailed, clean_choice, db, parse_uuid, utcnow

from . import validation
from .models import ARTICLE_STATUSES, ARTICLE_VISIBILITY, Article, ArticleVersion, KbCategory

MAX_QUERY = 200
_WORD = re.compile(r"\w{3,}", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "not",
        "are",
        "was",
        "can",
        "how",
        "why",
        "what",
        "when",
        "from",
        "you",
        "your",
        "our",
        "this",
        "that",
        "have",
        "has",
        "does",
        "did",
        "into",
        "out",
        "get",
        "got",
        "cannot",
        "please",
        "help",
        "hello",
        "thanks",
        "thank",
    ]
)
#: The text search configuration; the same expression is indexed (see the migration).
TS_CONFIG = literal_column("'english'::regconfig")


def document(model: Any = Article) -> Any:
    """The indexed full-text document of an article: ``to_tsvector(title || ' ' || body)``."""
    return func.to_tsvector(
        TS_CONFIG, model.title.op("||")(literal_column("' '")).op("||")(model.body)
    )


def _checks() -> dict[str, Any]:
    return {
        "title": validation.text(200),
        "body": validation.text(100_000, multiline=True),
        "category_id": _category,
        "visibility": lambda v: clean_choice(v or "internal", ARTICLE_VISIBILITY, required=True),
        "status": lambda v: clean_choice(v or "draft", ARTICLE_STATUSES, required=True),
    }


def _category(value: Any) -> KbCategory | None:
    if value in (None, ""):
        return None
    cid = parse_uuid(value)
    found = db.session.scalars(select(KbCategory).where(KbCategory.id == cid)).one_or_none()
    if cid is None or found is None:
        raise ValueError(_("Choose one of the categories."))
    return found


def check_article(data: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned article fields; raises ValidationFailed naming the bad ones."""
    values, errors = validation.run_checks(_checks(), data, only_given=False)
    if "title" not in errors and not values.get("title"):
        errors["title"] = _("Enter a title.")
    if "body" not in errors and not values.get("body"):
        errors["body"] = _("Write the article.")
    if errors:
        raise ValidationFailed(errors)
    category = values.pop("category_id")
    values["category_id"] = category.id if category else None
    return values


def _version(article: Article, actor: Any) -> None:
    db.session.add(
        ArticleVersion(
            article_id=article.id,
            version=article.version,
            title=article.title,
            body=article.body,
            created_by_id=getattr(actor, "id", None),
        )
    )


def create_article(data: Mapping[str, Any], *, actor: Any = None) -> Article:
    """Validate and add an article (version 1). Caller commits."""
    values = check_article(data)
    article = Article(
        **values,
        version=1,
        created_by_id=getattr(actor, "id", None),
        updated_by_id=getattr(actor, "id", None),
    )
    db.session.add(article)
    db.session.flush()
    _version(article, actor)
    return article


def update_article(article: Article, data: Mapping[str, Any], *, actor: Any = None) -> bool:
    """Validate and apply changes; a new title or body makes a new version (True)."""
    values = check_article(data)
    new_text = (values["title"], values["body"]) != (article.title, article.body)
    for name, value in values.items():
        setattr(article, name, value)
    article.updated_at, article.updated_by_id = utcnow(), getattr(actor, "id", None)
    if new_text:
        article.version += 1
        db.session.flush()
        _version(article, actor)
    return new_text


def restore_version(article: Article, version: ArticleVersion, *, actor: Any = None) -> None:
    """Bring back an old version's text as the newest version."""
    update_article(
        article,
        {
            "title": version.title,
            "body": version.body,
            "category_id": article.category_id,
            "visibility": article.visibility,
            "status": article.status,
        },
        actor=actor,
    )


def _words(query: str) -> list[str]:
    return [w for w in _WORD.findall(query.lower()) if w not in _STOP][:12]


def search(
    query: str, *, public_only: bool = False, published_only: bool = False, limit: int = 50
) -> list[Article]:
    """Articles matching every word of ``query``, best first (all of them for no query)."""
    query = " ".join((query or "").split())[:MAX_QUERY]
    stmt = select(Article)
    if public_only:
        stmt = stmt.where(Article.visibility == "public", Article.status == "published")
    elif published_only:
        stmt = stmt.where(Article.status == "published")
    if not query:
        return list(db.session.scalars(stmt.order_by(Article.title).limit(limit)).unique())
    if db.session.get_bind().dialect.name == "postgresql":
        tsquery = func.websearch_to_tsquery(TS_CONFIG, query)
        doc = document()
        stmt = stmt.where(doc.op("@@")(tsquery)).order_by(
            func.ts_rank(doc, tsquery).desc(), Article.title
        )
    else:
        words = _words(query) or [query.lower()]
        text = func.lower(Article.title + " " + Article.body)
        for word in words:
            stmt = stmt.where(text.contains(word, autoescape=True))
        in_title = case((func.lower(Article.title).contains(words[0], autoescape=True), 0), else_=1)
        stmt = stmt.order_by(in_title, Article.title)
    return list(db.session.scalars(stmt.limit(limit)).unique())


def suggest(subject: str, *, limit: int = 5) -> list[Article]:
    """Published articles sharing words with a ticket's subject, most matches first."""
    words = _words(subject or "")
    if not words:
        return []
    stmt = select(Article).where(Article.status == "published")
    if db.session.get_bind().dialect.name == "postgresql":
        tsquery = func.websearch_to_tsquery(TS_CONFIG, " or ".join(words))
        doc = document()
        stmt = stmt.where(doc.op("@@")(tsquery)).order_by(func.ts_rank(doc, tsquery).desc())
    else:
        text = func.lower(Article.title + " " + Article.body)
        hits = [case((text.contains(w, autoescape=True), 1), else_=0) for w in words]
        score = sum(hits[1:], hits[0])
        stmt = stmt.where(or_(*(text.contains(w, autoescape=True) for w in words)))
        stmt = stmt.order_by(score.desc(), Article.title)
    return list(db.session.scalars(stmt.limit(limit)).unique())
