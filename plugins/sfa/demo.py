"""Sample sales data for the demo workspace (``crm_demo_data``): scoring and assignment rules,
leads in every status, deals across the stages with their history, won and lost ones, and
quotas for this year. Everything goes through the module's services, as a user's would."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import Account, Contact, db, utcnow

from . import assignment, scoring
from .deals import create_deal, move_deal
from .forecast import current_quarter, save_quotas
from .leads import create_lead, log_activity
from .pipelines import default_pipeline, stages_of
from .settings import sales_settings

_LEADS = (
    ("Li Na", "Shanghai Fintech Partners", "banking", "Shanghai"),
    ("Tom Baker", "Baker & Sons Retail", "retail", "North"),
    ("Aiko Tanaka", "Kumo Telecom", "telecom", "East"),
    ("Carlos Ruiz", "Ruiz Logistics", "b2b_services", "South"),
    ("Zhang Wei", "Beijing Cloud Works", "b2b_services", "Beijing"),
    ("Fatima Khan", "Crescent Bank", "banking", "West"),
    ("Olivia Brown", "Brown Consulting", "b2b_services", "North"),
    ("Chen Jie", "Shenzhen Devices", "manufacturing", "Shenzhen"),
    ("Maya Singh", "Singh Foods", "food", "East"),
    ("Lucas Martin", "Martin Telecom Services", "telecom", "South"),
    ("Sara Rossi", "Rossi Boutique", "retail", "West"),
    ("Wang Fang", "Hangzhou Trading", "retail", "Shanghai"),
)
_STATUSES = ("new", "new", "working", "working", "qualified", "unqualified")


def create_demo_data(members: list[Any], rng: random.Random | None = None) -> None:
    """Add the sample rules, leads, deals and quotas (the tenant in context; caller commits)."""
    rng = rng or random.Random(6)
    owner = members[0].user if members else None
    sellers = [m for m in members if m.role in ("owner", "manager", "member")]
    sources = sales_settings().lead_sources
    scoring.add_rule(
        {
            "kind": "field",
            "field": "industry",
            "operator": "equals",
            "value": "banking",
            "points": 10,
        },
        actor=owner,
    )
    scoring.add_rule({"kind": "activity", "activity_kind": "call", "points": 5}, actor=owner)
    scoring.add_rule(
        {"kind": "field", "field": "phone", "operator": "is_set", "points": 3}, actor=owner
    )
    if sellers:
        assignment.add_rule(
            {
                "name": "Everyone in turn",
                "match_field": "any",
                "member_ids": [str(m.user_id) for m in sellers],
            },
            actor=owner,
        )
    for i, (name, company, industry, region) in enumerate(_LEADS):
        lead = create_lead(
            {
                "name": name,
                "company": company,
                "email": f"{name.split()[0].lower()}@{company.split()[0].lower()}.example",
                "phone": f"+86215555{3000 + i}" if i % 3 else "",
                "source": sources[i % len(sources)] if sources else None,
                "industry": industry,
                "region": region,
                "status": _STATUSES[i % len(_STATUSES)],
            },
            actor=owner,
            via="import" if i % 4 == 0 else "form",
            assign=i % 5 != 4,  # every fifth lead waits in the shared pool
        )
        if lead.status in ("working", "qualified"):
            log_activity(lead, {"kind": "call", "subject": "Intro call"}, actor=owner)
    _deals(rng, sellers, owner)
    _quotas(sellers, owner)


def _deals(rng: random.Random, sellers: list[Any], actor: Any) -> None:
    pipeline = default_pipeline()
    if pipeline is None or not sellers:
        return
    stages = stages_of(pipeline.id)
    open_stages = [s for s in stages if not s.is_closed]
    won = next(s for s in stages if s.is_won)
    lost = next(s for s in stages if s.is_lost)
    accounts = db.session.scalars(select(Account).order_by(Account.name).limit(20)).unique().all()
    today = utcnow().date()
    for i, account in enumerate(accounts):
        contact = db.session.scalars(
            select(Contact).where(Contact.account_id == account.id).limit(1)
        ).first()
        seller = sellers[i % len(sellers)]
        deal = create_deal(
            {
                "name": f"{account.name}: {rng.choice(('Renewal', 'Expansion', 'New project'))}",
                "account_id": str(account.id),
                "contact_id": str(contact.id) if contact else None,
                "amount": str(Decimal(rng.randrange(5, 250)) * 1000),
                "expected_close": (today + timedelta(days=rng.randint(-20, 200))).isoformat(),
                "owner_id": str(seller.user_id),
                "forecast_category": rng.choice(("commit", "best_case", "pipeline", "pipeline")),
                "competitors": rng.sample(("Globex CRM", "Initech Sales", "Hooli Suite"), 1),
            },
            actor=actor,
        )
        steps = open_stages[1 : 1 + i % len(open_stages)]
        for stage in steps:
            move_deal(deal, stage.id, actor=actor)
        if i % 6 == 5:
            move_deal(deal, won.id, reason="Best value for the money", actor=actor)
        elif i % 9 == 8:
            move_deal(deal, lost.id, reason="Chose a cheaper competitor", actor=actor)


def _quotas(sellers: list[Any], actor: Any) -> None:
    year, _quarter = current_quarter()
    values = {(str(m.user_id), q): "300000" for m in sellers for q in (1, 2, 3, 4)}
    save_quotas(year, values, sales_settings().currency, actor=actor)
