"""Signed, expiring links (password reset, sign-up confirmation, invitations).

Each purpose has its own salt, so a token made for one purpose is refused for another.
Single use is enforced by the state the token is bound to (a password fingerprint, an
invitation's ``accepted_at``, a slug that is no longer free). Plugins name their purposes
``<module key>.<name>`` (``PLUGIN_PURPOSE``), so they never share a salt with the core's.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PURPOSES = ("reset", "signup", "invite")
#: Plugins sign their own tokens under a purpose named after their module: ``"sfa.webform"``.
PLUGIN_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{1,39}\.[a-z][a-z0-9_]{0,39}$")


class TokenError(ValueError):
    """A link that is malformed, tampered with, of another purpose, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES and not PLUGIN_PURPOSE.match(purpose):
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"crm-{purpose}")


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    """Sign ``payload`` for ``purpose``."""
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    """Verify a token and return its payload, or raise :class:`TokenError`."""
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError(_("This link has expired."), expired=True) from exc
    except BadSignature as exc:
        raise TokenError(_("This link is not valid.")) from exc
    if not isinstance(data, dict):
        raise TokenError(_("This link is not valid."))
    return data
