"""The module's settings per tenant, kept in the core's module settings (``tenant_modules``).

``currency`` (deals default to it; forecasts and quotas count in it), ``pool_days`` (leads
nobody worked for that many days go back to the shared pool), ``lead_sources`` (offered on
lead forms), and the web-to-lead form: ``webform_enabled``, its secret ``webform_key`` (part
of the form's address; rotating it breaks old embeds) and the ``webform_thanks`` message.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from flask_babel import gettext as _

from crm_platform.sdk import ValidationFailed, module_settings, save_module_settings

MODULE = "sfa"
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_SOURCES = 30
MAX_SOURCE_LENGTH = 60
POOL_DAYS = (1, 365)


def new_webform_key() -> str:
    """A fresh secret for the web-to-lead form's address."""
    return secrets.token_urlsafe(18)


@dataclass
class SalesSettings:
    """The sales settings of the tenant in context."""

    currency: str = "USD"
    pool_days: int = 14
    lead_sources: list[str] = field(default_factory=list)
    webform_enabled: bool = True
    webform_key: str = ""
    webform_thanks: str = ""
    industry: str = "generic"
    #: Sales' own visibility rule of deals and leads per ruled role (see ``territories.py``).
    record_visibility: dict[str, str] = field(default_factory=dict)
    #: Days ahead that activity reminders are sent (0: on the day only).
    reminder_days: int = 1


def sales_settings() -> SalesSettings:
    """The tenant's settings, defaults filled in."""
    stored = module_settings(MODULE)
    known = {k: v for k, v in stored.items() if k in SalesSettings.__dataclass_fields__}
    return SalesSettings(**known)


def clean_currency(value: Any) -> str:
    """A three-letter ISO 4217 code in capitals (``usd`` → ``USD``); raises ``ValueError``."""
    code = str(value or "").strip().upper()
    if not CURRENCY_RE.match(code):
        raise ValueError(_("Use a three-letter currency code, e.g. USD, EUR or CNY."))
    return code


def clean_sources(value: Any) -> list[str]:
    """Lead sources from a list or a text of one a line: trimmed, without repeats."""
    lines = value.splitlines() if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for line in lines:
        source = " ".join(str(line).split())
        if source and source not in out:
            out.append(source)
    if len(out) > MAX_SOURCES:
        raise ValueError(_("Use at most %(num)d sources.", num=MAX_SOURCES))
    if any(len(s) > MAX_SOURCE_LENGTH for s in out):
        raise ValueError(_("A source can have at most %(num)d characters.", num=MAX_SOURCE_LENGTH))
    return out


def _pool_days(value: Any) -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not POOL_DAYS[0] <= days <= POOL_DAYS[1]:
        raise ValueError(
            _("Enter a number of days from %(min)d to %(max)d.", min=POOL_DAYS[0], max=POOL_DAYS[1])
        )
    return days


def _record_visibility(value: Any) -> dict[str, str]:
    from .territories import RULED_ROLES, RULES

    rules = dict(value or {})
    if any(r not in RULED_ROLES or v not in ("", *RULES) for r, v in rules.items()):
        raise ValueError(_("Choose one of the rules."))
    return {r: v for r, v in rules.items() if v}


def _reminder_days(value: Any) -> int:
    try:
        days = int(str(value).strip())
    except ValueError:
        days = -1
    if not 0 <= days <= 14:
        raise ValueError(_("Enter a number of days from %(min)d to %(max)d.", min=0, max=14))
    return days


def save_sales_settings(changes: dict[str, Any]) -> SalesSettings:
    """Validate and store ``changes`` (any of the settings); raises ``ValidationFailed``.

    The caller commits.
    """
    current = sales_settings()
    errors: dict[str, str] = {}
    cleaners = {
        "currency": clean_currency,
        "pool_days": _pool_days,
        "lead_sources": clean_sources,
        "webform_enabled": bool,
        "webform_key": lambda v: str(v),
        "webform_thanks": lambda v: " ".join(str(v or "").split())[:300],
        "industry": lambda v: str(v),
        "record_visibility": _record_visibility,
        "reminder_days": _reminder_days,
    }
    for name, raw in changes.items():
        try:
            setattr(current, name, cleaners[name](raw))
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    save_module_settings(MODULE, asdict(current))
    return current
