"""What Marketing contributes to the report builder (``crm_report_sources``): campaigns.

Campaigns group by channel, status and topic and by when they were scheduled or started;
cost and recorded responses sum and average (the campaign page has the full effectiveness
figures: opens, clicks, conversions, ROI).
"""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l

from crm_platform.sdk import ReportField, ReportSource

from .campaigns import CHANNEL_LABELS, STATUS_LABELS
from .models import Campaign


def report_sources() -> list[ReportSource]:
    """Campaigns."""
    campaigns = ReportSource(
        key="campaigns",
        label=_l("Campaigns"),
        model=Campaign,
        fields=(
            ReportField("name", _l("Name"), "text", Campaign.name, groupable=False),
            ReportField(
                "channel", _l("Channel"), "choice", Campaign.channel, choices=CHANNEL_LABELS
            ),
            ReportField("status", _l("Status"), "choice", Campaign.status, choices=STATUS_LABELS),
            ReportField("topic", _l("Topic"), "text", Campaign.topic),
            ReportField("cost", _l("Cost"), "money", Campaign.cost, aggregatable=True),
            ReportField(
                "responses", _l("Responses"), "number", Campaign.responses, aggregatable=True
            ),
            ReportField("scheduled_at", _l("Scheduled"), "datetime", Campaign.scheduled_at),
            ReportField("started_at", _l("Started"), "datetime", Campaign.started_at),
            ReportField("created_at", _l("Created"), "datetime", Campaign.created_at),
        ),
        record_url=lambda row: url_for("marketing.campaign", campaign_id=row.id),
        permission="marketing.read",
    )
    return [campaigns]
