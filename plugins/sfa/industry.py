"""Industry templates: what switching Sales on creates for a tenant of each industry.

One template per industry of ``INDUSTRY_LABELS`` (banking, telecom, retail, B2B services,
generic): the default pipeline's stages (name, probability %, rotting days, outcome), the
lead sources offered on lead forms, and custom fields added to accounts and contacts through
the core's custom-field API. Names are stored in the language of whoever switched the module
on; tenants rename them freely afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from crm_platform.sdk import INDUSTRY_LABELS


@dataclass(frozen=True)
class StageTemplate:
    """A stage of the default pipeline."""

    name: object
    probability: int
    rotting_days: int | None = None
    outcome: str = "open"


@dataclass(frozen=True)
class FieldTemplate:
    """A custom field to add to accounts or contacts."""

    entity: str
    key: str
    label: object
    type: str
    choices: tuple[object, ...] = ()


@dataclass(frozen=True)
class IndustryTemplate:
    """Everything a new tenant of one industry starts with."""

    pipeline: object
    stages: tuple[StageTemplate, ...]
    sources: tuple[object, ...]
    fields: tuple[FieldTemplate, ...] = ()


def _closing() -> tuple[StageTemplate, StageTemplate]:
    return StageTemplate(_l("Won"), 100, None, "won"), StageTemplate(_l("Lost"), 0, None, "lost")


TEMPLATES: dict[str, IndustryTemplate] = {
    "banking": IndustryTemplate(
        pipeline=_l("Banking sales"),
        stages=(
            StageTemplate(_l("Prospecting"), 10, 14),
            StageTemplate(_l("Needs analysis"), 25, 14),
            StageTemplate(_l("Proposal"), 50, 21),
            StageTemplate(_l("Credit approval"), 70, 30),
            StageTemplate(_l("Documentation"), 90, 14),
            *_closing(),
        ),
        sources=(
            _l("Branch referral"),
            _l("Relationship manager"),
            _l("Website"),
            _l("Partner"),
            _l("Event"),
            _l("Campaign"),
        ),
        fields=(
            FieldTemplate(
                "account", "assets_under_management", _l("Assets under management"), "number"
            ),
            FieldTemplate(
                "contact",
                "risk_profile",
                _l("Risk profile"),
                "choice",
                (_l("Conservative"), _l("Balanced"), _l("Growth")),
            ),
        ),
    ),
    "telecom": IndustryTemplate(
        pipeline=_l("Telecom sales"),
        stages=(
            StageTemplate(_l("Qualification"), 10, 7),
            StageTemplate(_l("Site survey"), 30, 14),
            StageTemplate(_l("Proposal"), 50, 14),
            StageTemplate(_l("Contract negotiation"), 75, 21),
            StageTemplate(_l("Provisioning"), 90, 14),
            *_closing(),
        ),
        sources=(
            _l("Web shop"),
            _l("Call centre"),
            _l("Retail store"),
            _l("Partner"),
            _l("Referral"),
            _l("Campaign"),
        ),
        fields=(
            FieldTemplate("account", "lines", _l("Number of lines"), "number"),
            FieldTemplate("account", "contract_end", _l("Current contract ends"), "date"),
        ),
    ),
    "retail": IndustryTemplate(
        pipeline=_l("Retail sales"),
        stages=(
            StageTemplate(_l("New enquiry"), 10, 5),
            StageTemplate(_l("Quote sent"), 40, 7),
            StageTemplate(_l("Negotiation"), 70, 10),
            *_closing(),
        ),
        sources=(
            _l("Store visit"),
            _l("Website"),
            _l("Social media"),
            _l("Marketplace"),
            _l("Referral"),
            _l("Campaign"),
        ),
        fields=(
            FieldTemplate(
                "contact",
                "loyalty_tier",
                _l("Loyalty tier"),
                "choice",
                (_l("Bronze"), _l("Silver"), _l("Gold")),
            ),
            FieldTemplate("account", "store_count", _l("Number of stores"), "number"),
        ),
    ),
    "b2b_services": IndustryTemplate(
        pipeline=_l("B2B sales"),
        stages=(
            StageTemplate(_l("Qualification"), 10, 14),
            StageTemplate(_l("Discovery"), 25, 14),
            StageTemplate(_l("Proposal"), 50, 21),
            StageTemplate(_l("Negotiation"), 75, 21),
            StageTemplate(_l("Contract sent"), 90, 14),
            *_closing(),
        ),
        sources=(
            _l("Website"),
            _l("Referral"),
            _l("Event"),
            _l("Partner"),
            _l("Outbound"),
            _l("Campaign"),
        ),
        fields=(
            FieldTemplate(
                "account",
                "contract_type",
                _l("Contract type"),
                "choice",
                (_l("Retainer"), _l("Project"), _l("Time and materials")),
            ),
        ),
    ),
    "generic": IndustryTemplate(
        pipeline=_l("Sales"),
        stages=(
            StageTemplate(_l("Qualification"), 10, 14),
            StageTemplate(_l("Proposal"), 40, 21),
            StageTemplate(_l("Negotiation"), 70, 21),
            *_closing(),
        ),
        sources=(
            _l("Website"),
            _l("Referral"),
            _l("Event"),
            _l("Partner"),
            _l("Campaign"),
            _l("Cold call"),
            _l("Other"),
        ),
        fields=(
            FieldTemplate(
                "contact",
                "decision_role",
                _l("Decision role"),
                "choice",
                (_l("Decision maker"), _l("Influencer"), _l("User")),
            ),
        ),
    ),
}

assert set(TEMPLATES) == set(INDUSTRY_LABELS), "one template per industry"


def template_for(industry: str | None) -> IndustryTemplate:
    """The template of ``industry`` (the generic one for anything else)."""
    return TEMPLATES.get(industry or "generic", TEMPLATES["generic"])
