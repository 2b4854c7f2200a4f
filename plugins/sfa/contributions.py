"""What Sales adds to the core's pages: panels and timeline lines on accounts and contacts,
dashboard widgets, and global search results. ``plugin.py`` hands the hooks to these."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import and_, func, select

from crm_platform.sdk import Panel, SearchResult, TimelineEntry, Widget, db, utcnow

from .leads import search_condition
from .models import Deal, Lead, Stage
from .paging import contains
from .pipelines import default_pipeline
from .quote_models import Quote
from .quotes import STATUS_LABELS as QUOTE_STATUS_LABELS
from .settings import sales_settings
from .visibility import visible

PANEL_ROWS = 20


def _column(kind: str, model: Any) -> Any:
    return model.account_id if kind == "account" else model.contact_id


def record_panels(record: Any, kind: str, membership: Any) -> list[Panel]:
    """Deals and converted leads of an account or contact."""
    if kind not in ("account", "contact") or not membership.can("sfa.read"):
        return []
    deals = (
        db.session.scalars(
            select(Deal)
            .where(_column(kind, Deal) == record.id, *visible(Deal, membership))
            .order_by(Deal.status != "open", Deal.expected_close.is_(None), Deal.expected_close)
            .limit(PANEL_ROWS)
        )
        .unique()
        .all()
    )
    lead_column = Lead.converted_account_id if kind == "account" else Lead.converted_contact_id
    leads = (
        db.session.scalars(
            select(Lead)
            .where(lead_column == record.id)
            .order_by(Lead.converted_at.desc())
            .limit(10)
        )
        .unique()
        .all()
    )
    html = render_template(
        "sfa/panel.html",
        record=record,
        kind=kind,
        deals=deals,
        leads=leads,
        can_write=membership.can("sfa.write"),
        all_url=url_for("sfa.deals", status="all", **{kind: str(record.id)}),
    )
    return [Panel(title=_("Deals"), html=html, order=30, key="sfa-deals")]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def timeline_entries(record: Any, kind: str) -> list[TimelineEntry]:
    """Deals opened, won and lost, and the lead the record was converted from."""
    if kind not in ("account", "contact"):
        return []
    out: list[TimelineEntry] = []
    deals = db.session.scalars(
        select(Deal)
        .where(_column(kind, Deal) == record.id)
        .order_by(Deal.created_at.desc())
        .limit(50)
    ).unique()
    for deal in deals:
        url = url_for("sfa.deal", deal_id=deal.id)
        out.append(
            TimelineEntry(
                at=_aware(deal.created_at),
                title=_("Deal opened: %(name)s", name=deal.name),
                kind="deal",
                url=url,
                actor=deal.owner.name if deal.owner else "",
            )
        )
        if deal.closed_at is not None:
            title = _("Deal won: %(name)s") if deal.status == "won" else _("Deal lost: %(name)s")
            out.append(
                TimelineEntry(
                    at=_aware(deal.closed_at),
                    title=title % {"name": deal.name},
                    body=deal.close_reason or "",
                    kind=f"deal_{deal.status}",
                    url=url,
                )
            )
    lead_column = Lead.converted_account_id if kind == "account" else Lead.converted_contact_id
    for lead in db.session.scalars(select(Lead).where(lead_column == record.id).limit(10)).unique():
        if lead.converted_at is not None:
            out.append(
                TimelineEntry(
                    at=_aware(lead.converted_at),
                    title=_("Converted from the lead %(name)s", name=lead.name),
                    body=lead.notes or "",
                    kind="lead",
                    url=url_for("sfa.lead", lead_id=lead.id),
                )
            )
    return out


def dashboard_widgets(membership: Any) -> list[Widget]:
    """Pipeline by stage (the default pipeline) and deals won this month."""
    if not membership.can("sfa.read"):
        return []
    currency = sales_settings().currency
    widgets = []
    pipeline = default_pipeline()
    if pipeline is not None:
        rows = db.session.execute(
            select(Stage.name, func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0))
            .select_from(Stage)
            .outerjoin(
                Deal,
                and_(
                    Deal.tenant_id == Stage.tenant_id,
                    Deal.stage_id == Stage.id,
                    Deal.currency == currency,
                    *visible(Deal, membership),
                ),
            )
            .where(Stage.pipeline_id == pipeline.id, Stage.outcome == "open")
            .group_by(Stage.id, Stage.name, Stage.position)
            .order_by(Stage.position)
        ).all()
        html = render_template(
            "sfa/widget_pipeline.html",
            pipeline=pipeline,
            labels=[r[0] for r in rows],
            values=[float(r[2] or 0) for r in rows],
            count=sum(r[1] for r in rows),
            total=sum((Decimal(str(r[2] or 0)) for r in rows), Decimal("0")),
            currency=currency,
        )
        widgets.append(Widget(title=_("Pipeline by stage"), html=html, order=40))
    now = utcnow()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    won = db.session.execute(
        select(func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0)).where(
            Deal.status == "won",
            Deal.currency == currency,
            Deal.closed_at >= start,
            *visible(Deal, membership),
        )
    ).one()
    html = render_template(
        "sfa/widget_won.html",
        count=won[0],
        total=Decimal(str(won[1] or 0)),
        currency=currency,
        month=now.strftime("%Y-%m"),
    )
    widgets.append(Widget(title=_("Won this month"), html=html, order=41))
    return widgets


#: A quote's number as people type it: ``Q-00042``, ``q42``, ``Q-42``.
_QUOTE_NUMBER = re.compile(r"(?i)q-?\s*0*(\d{1,9})")


def search(query: str, membership: Any, limit: int) -> list[SearchResult]:
    """Leads by name, company or e-mail; deals by name; a quote by its number."""
    query = " ".join((query or "").split())[:100]
    if not query or not membership.can("sfa.read"):
        return []
    out = []
    leads = db.session.scalars(
        select(Lead)
        .where(search_condition(query), *visible(Lead, membership))
        .order_by(Lead.status == "converted", Lead.score.desc())
        .limit(limit)
    ).unique()
    for lead in leads:
        subtitle = " · ".join(v for v in (lead.company, lead.email, lead.status) if v)
        out.append(SearchResult(lead.name, url_for("sfa.lead", lead_id=lead.id), "lead", subtitle))
    deals = db.session.scalars(
        select(Deal)
        .where(contains(Deal.name, query), *visible(Deal, membership))
        .order_by(Deal.status != "open", Deal.id.desc())
        .limit(limit)
    ).unique()
    for deal in deals:
        subtitle = f"{deal.stage.name} · {deal.amount} {deal.currency}"
        out.append(SearchResult(deal.name, url_for("sfa.deal", deal_id=deal.id), "deal", subtitle))
    out.extend(_quotes(query, membership))
    return out


def _quotes(query: str, membership: Any) -> list[SearchResult]:
    """The quote whose number is ``query`` (when its deal is visible to ``membership``)."""
    match = _QUOTE_NUMBER.fullmatch(query)
    if match is None:
        return []
    rows = db.session.execute(
        select(Quote, Deal.name)
        .join(Deal, and_(Deal.tenant_id == Quote.tenant_id, Deal.id == Quote.deal_id))
        .where(Quote.number == int(match.group(1)), *visible(Deal, membership))
    ).all()
    return [
        SearchResult(
            quote.label,
            url_for("sfa.quote", quote_id=quote.id),
            "quote",
            f"{deal_name} · {QUOTE_STATUS_LABELS[quote.status]}",
        )
        for quote, deal_name in rows
    ]
