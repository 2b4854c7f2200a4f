"""The plans a new install starts with, seeded once; from then on the provider edits them.

:func:`seed_plans` inserts the plans whose key is missing and never changes an existing one,
so it is safe to run again (the migration runs it, so do ``crm billing seed-plans`` and
``crm demo``). The tiers follow the target customers: a free trial, small firms, mid-sized
firms with several teams and regions, and large enterprises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from crm_platform.sdk import utcnow, uuid7

from .models import Plan

DEFAULT_PLAN_KEY = "trial"

#: The starting catalogue (prices in cents a month; seats are per member).
DEFAULT_PLANS: tuple[dict[str, Any], ...] = (
    {
        "key": "trial",
        "name": "Free trial",
        "description": "Every module for 30 days, for up to 10 people.",
        "position": 0,
        "is_default": True,
        "price_per_seat_cents": 0,
        "included_modules": ["*"],
        "addon_modules": {},
        "record_limits": {"accounts": 10000, "contacts": 25000},
        "api_rate_limit": None,
        "storage_mb": 1024,
        "max_seats": 10,
        "trial_days": 30,
        "grace_days": 7,
        "usage_prices": {"marketing_emails": {"included": 1000, "per_1000_cents": 0}},
    },
    {
        "key": "small",
        "name": "Small business",
        "description": "Sales and service for firms of up to 50 people.",
        "position": 10,
        "price_per_seat_cents": 1500,
        "included_modules": ["sfa", "service", "calendar"],
        "addon_modules": {"marketing": 2900, "analytics": 1900, "hello": 500},
        "record_limits": {"accounts": 10000, "contacts": 25000},
        "api_rate_limit": "300 per minute",
        "storage_mb": 5 * 1024,
        "max_seats": 50,
        "trial_days": 14,
        "grace_days": 14,
        "usage_prices": {"marketing_emails": {"included": 5000, "per_1000_cents": 100}},
    },
    {
        "key": "mid",
        "name": "Mid-market",
        "description": "Teams, regions and marketing for firms of 200 people and more.",
        "position": 20,
        "price_per_seat_cents": 3500,
        "included_modules": ["sfa", "service", "marketing", "analytics", "calendar", "hello"],
        "addon_modules": {"erp": 9900, "portal": 4900},
        "record_limits": {"accounts": 100000, "contacts": 250000},
        "api_rate_limit": "1200 per minute",
        "storage_mb": 50 * 1024,
        "max_seats": 500,
        "trial_days": 14,
        "grace_days": 14,
        "usage_prices": {"marketing_emails": {"included": 50000, "per_1000_cents": 80}},
    },
    {
        "key": "enterprise",
        "name": "Enterprise",
        "description": "Every module, integration and audit, without limits.",
        "position": 30,
        "price_per_seat_cents": 6000,
        "included_modules": ["*"],
        "addon_modules": {},
        "record_limits": {},
        "api_rate_limit": "6000 per minute",
        "storage_mb": 500 * 1024,
        "max_seats": None,
        "trial_days": 30,
        "grace_days": 30,
        "usage_prices": {"marketing_emails": {"included": 500000, "per_1000_cents": 50}},
    },
)

_DEFAULTS: dict[str, Any] = {
    "description": "",
    "active": True,
    "is_default": False,
    "currency": "usd",
    "stripe_price_id": None,
    "stripe_addon_price_ids": {},
    "stripe_usage_price_ids": {},
}


def seed_plans(connection: Connection) -> list[str]:
    """Insert the default plans that are missing (by key); returns the keys inserted.

    Works on a plain connection, so a migration can call it. A default plan is marked as the
    default only when no plan is the default yet.
    """
    rows = connection.execute(select(Plan.key, Plan.is_default)).all()
    existing = {key for key, _default in rows}
    has_default = any(default for _key, default in rows)
    added = []
    now = utcnow()
    for spec in DEFAULT_PLANS:
        if spec["key"] in existing:
            continue
        values = {**_DEFAULTS, **spec, "id": uuid7(), "created_at": now, "updated_at": now}
        if has_default:
            values["is_default"] = False
        has_default = has_default or values["is_default"]
        connection.execute(insert(Plan).values(**values))
        added.append(spec["key"])
    return added
