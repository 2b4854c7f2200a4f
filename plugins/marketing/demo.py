"""Sample data of the demo workspace (``crm demo``): orders, scores, segments, a list, a
template, a sequence and a recorded campaign, all through the module's own services."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crm_platform.sdk import Contact, create_order, db, utcnow

from .campaigns import create_campaign, start_campaign
from .scoring import recompute_scores
from .segments import add_members, create_segment, refresh_segment
from .sequences import save_sequence

PRODUCTS = (
    ("Green tea", "GT-100", "12.50"),
    ("Tea pot", "TP-20", "39.00"),
    ("Gift box", "GB-5", "55.00"),
    ("Cups (set of 4)", "CU-4", "24.00"),
)


def _rule(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def add_demo_data(owner: Any = None) -> None:
    """Orders for most contacts over two years, then what marketing makes of them."""
    rng = random.Random(42)
    now = utcnow()
    contacts = list(
        db.session.scalars(
            select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.created_at)
        )
    )
    for i, contact in enumerate(contacts):
        if i % 5 == 4:
            continue  # some contacts never ordered
        for _n in range(rng.choice((1, 1, 2, 3, 6))):
            name, sku, price = rng.choice(PRODUCTS)
            line = {
                "product_name": name,
                "sku": sku,
                "unit_price": price,
                "quantity": str(rng.randint(1, 4)),
            }
            days = rng.randint(1, 700) if i % 3 else rng.randint(1, 60)
            create_order(
                {
                    "contact_id": str(contact.id),
                    "lines": [line],
                    "ordered_at": now - timedelta(days=days),
                },
                actor=owner,
            )
    recompute_scores()
    loyal = create_segment(
        {
            "name": "Loyal customers",
            "definition": {
                "match": "all",
                "groups": [
                    {
                        "match": "any",
                        "rules": [
                            _rule("score.lifecycle", "is", "loyal"),
                            _rule("score.value_tier", "is", "high"),
                        ],
                    }
                ],
            },
        },
        actor=owner,
    )
    create_segment(
        {
            "name": "At risk",
            "definition": {
                "match": "all",
                "groups": [
                    {
                        "match": "all",
                        "rules": [
                            _rule("score.lifecycle", "in", ["at_risk", "churned"]),
                            _rule("contact.email", "is_set"),
                        ],
                    }
                ],
            },
        },
        actor=owner,
    )
    refresh_segment(loyal)
    picked = create_segment({"name": "Trade fair 2026 guests", "kind": "static"}, actor=owner)
    add_members(picked, [c.id for c in contacts[:6]])
    create_campaign(
        {
            "name": "Spring tea sale",
            "segment_id": str(loyal.id),
            "topic": "promotions",
            "subject": "Spring tea for you, {{ contact.first_name }}",
            "subject_b": "{{ contact.first_name }}, 20% off green tea this week",
            "ab_test_percent": "30",
            "ab_wait_hours": "4",
            "cost": "150",
            "body_html": "<p>Hello {{ contact.first_name }},</p><p>Our spring teas are in.</p>"
            '<p><a href="https://shop.example/spring">See them</a></p>'
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        },
        actor=owner,
    )
    fair = create_campaign(
        {
            "name": "Trade fair 2026",
            "channel": "event",
            "segment_id": str(picked.id),
            "cost": "800",
            "responses": "4",
        },
        actor=owner,
    )
    db.session.flush()
    start_campaign(fair)
    save_sequence(
        {
            "name": "Welcome new customers",
            "steps": [
                {
                    "kind": "email",
                    "delay_hours": 0,
                    "subject": "Welcome, {{ contact.first_name }}",
                    "body_html": "<p>Thank you for your first order.</p>",
                },
                {"kind": "task", "delay_hours": 72, "subject": "Call to ask how the tea was"},
            ],
        }
    )
