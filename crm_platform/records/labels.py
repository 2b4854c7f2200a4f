"""Translated labels of the stored values of customer records."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STAGE_LABELS = {
    "prospect": _l("prospect"),
    "lead": _l("lead"),
    "customer": _l("customer"),
    "loyal": _l("loyal"),
    "churned": _l("churned"),
}
SIZE_LABELS = {
    "1-10": _l("1-10 employees"),
    "11-50": _l("11-50 employees"),
    "51-200": _l("51-200 employees"),
    "201-1000": _l("201-1,000 employees"),
    "1001-5000": _l("1,001-5,000 employees"),
    "5000+": _l("over 5,000 employees"),
}
SOURCE_LABELS = {
    "website": _l("Website"),
    "referral": _l("Referral"),
    "event": _l("Event"),
    "partner": _l("Partner"),
    "campaign": _l("Campaign"),
    "cold_call": _l("Cold call"),
    "import": _l("Import"),
    "other": _l("Other"),
}
#: Headings of search result groups by ``SearchResult.kind``.
SEARCH_KIND_LABELS = {"account": _l("Accounts"), "contact": _l("Contacts")}
