"""The web-to-lead form a tenant embeds on its own site, and its spam protection.

The form lives at ``/t/<slug>/sales/web-to-lead/<key>`` (the key is a secret of the tenant,
rotated from the settings page); the tenant pastes an ``<iframe>`` snippet into its site.
Every submission is checked, cheapest first:

* a **rate limit** per visitor address and tenant (``SFA_WEBFORM_RATELIMIT``, default
  ``5 per minute;100 per day``) → 429;
* a **signed token** made when the form was shown, carrying the time: a missing, forged or
  day-old token is refused (the visitor reloads), and one returned sooner than
  ``MIN_SECONDS`` after the form was shown is refused as a bot's;
* a **honeypot** field hidden from people: when it is filled in, the answer looks like
  success but nothing is stored (bots learn nothing).

Then the lead goes through the same service as every lead (validation, assignment rules,
scoring, ``lead.created``), captured ``via="web"``.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from html import escape
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from crm_platform.sdk import TokenError, ValidationFailed, make_token, over_rate_limit, read_token

PURPOSE = "sfa.webform"
MIN_SECONDS = 3
MAX_AGE = 24 * 3600
HONEYPOT = "website"
DEFAULT_RATE_LIMIT = "5 per minute;100 per day"
FIELDS = ("name", "company", "email", "phone", "message")


class Spam(Exception):
    """A submission a bot made: answer as if it worked, store nothing."""


class TooMany(Exception):
    """Over the rate limit: ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def key_matches(given: str, key: str) -> bool:
    """True when the key in the address is the tenant's (compared in constant time)."""
    return bool(key) and hmac.compare_digest(given.encode(), key.encode())


def form_token(key: str, now: float | None = None) -> str:
    """A signed token for a form shown now (bound to the form's key)."""
    return make_token(PURPOSE, {"k": key, "t": now if now is not None else time.time()})


def rate_limit() -> str:
    """How many submissions a visitor may send (``SFA_WEBFORM_RATELIMIT``)."""
    return current_app.config.get("SFA_WEBFORM_RATELIMIT") or DEFAULT_RATE_LIMIT


def check_submission(
    form: Mapping[str, Any], *, key: str, visitor: str, sources: list[str], now: float | None = None
) -> dict[str, Any]:
    """The lead data of a submission, after the spam checks (see the module docstring).

    Raises :class:`TooMany`, :class:`Spam`, or ``ValidationFailed`` (field ``form``) for a
    token that is missing, forged, expired or too fresh.
    """
    wait = over_rate_limit(rate_limit(), "sfa-webform", visitor)
    if wait is not None:
        raise TooMany(wait)
    now = now if now is not None else time.time()
    try:
        token = read_token(PURPOSE, str(form.get("token") or ""), MAX_AGE)
    except TokenError as exc:
        raise ValidationFailed({"form": _("This form has expired: please send it again.")}) from exc
    if token.get("k") != key or not isinstance(token.get("t"), int | float):
        raise ValidationFailed({"form": _("This form has expired: please send it again.")})
    if str(form.get(HONEYPOT) or "").strip():
        raise Spam("honeypot")
    if now - token["t"] < MIN_SECONDS:
        raise ValidationFailed(
            {"form": _("That was very quick: please check your details and send the form again.")}
        )
    data = {name: str(form.get(name) or "") for name in FIELDS}
    if not data["email"].strip() and not data["phone"].strip():
        raise ValidationFailed({"email": _("Give an e-mail address or a phone number.")})
    source = next((s for s in sources if s.casefold() in ("website", "web", "web form")), None)
    return {
        "name": data["name"],
        "company": data["company"],
        "email": data["email"],
        "phone": data["phone"],
        "notes": data["message"],
        "source": source,
    }


def snippet(url: str, title: str) -> str:
    """The HTML a tenant pastes into its site to show the form."""
    return (
        f'<iframe src="{escape(url)}" title="{escape(title)}" loading="lazy" '
        'style="width:100%;max-width:480px;height:640px;border:0"></iframe>'
    )
