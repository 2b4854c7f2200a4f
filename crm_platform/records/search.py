"""The core's search provider: accounts and contacts by name, e-mail or phone.

Matching is case-insensitive on SQLite and PostgreSQL alike: names are matched on
``name_key`` (case-folded when written), e-mail addresses are stored lowercased, phone numbers
as digits. Only live records the member may see are found.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import case, literal, select

from ..customers import RECORD_MODELS, name_key
from ..extensions import db
from ..plugin_types import SearchResult
from .listing import like_escape, text_match
from .visibility import live_and_visible

MAX_QUERY = 100


def search_records(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Accounts and contacts matching ``query``, best first, at most ``limit`` of each."""
    query = " ".join((query or "").split())[:MAX_QUERY]
    if not query or membership is None or not membership.can("records.read"):
        return []
    key = name_key(query)
    results: list[SearchResult] = []
    for kind, model in RECORD_MODELS.items():
        prefix = model.name_key.like(f"{like_escape(key)}%", escape="!") if key else None
        score = case((prefix, 2), else_=1) if prefix is not None else literal(1)
        stmt = (
            select(model, score.label("score"))
            .where(*live_and_visible(model, membership), text_match(model, query))
            .order_by(score.desc(), model.name_key, model.id)
            .limit(limit)
        )
        for record, points in db.session.execute(stmt).unique().all():
            results.append(_result(kind, record, float(points)))
    return results


def _result(kind: str, record: Any, score: float) -> SearchResult:
    if kind == "account":
        url = url_for("workspace.account", account_id=record.id)
        subtitle = " · ".join(v for v in (record.industry, record.region, record.email) if v)
        return SearchResult(record.name, url, "account", subtitle, score)
    url = url_for("workspace.contact", contact_id=record.id)
    parts = [record.title, record.account.name if record.account else None, record.email]
    subtitle = " · ".join(p for p in parts if p)
    return SearchResult(record.full_name, url, "contact", subtitle, score)
