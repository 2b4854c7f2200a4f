"""Signed links in campaign e-mails: unsubscribe, preferences, open pixel, click redirect.

Every link carries a token signed with the app's secret (``sdk.make_token``) under a purpose
of this module (``marketing.unsubscribe`` ...), naming the tenant and the message or contact;
a tampered, foreign or expired token is refused. Click tokens carry the target URL, so the
redirect only ever goes where the e-mail pointed (no open redirect).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from flask import current_app

from crm_platform.sdk import TokenError, make_token, read_token, require_tenant

#: How long links in sent mail keep working.
MAX_AGE = {
    "open": 2 * 365 * 86400,
    "click": 2 * 365 * 86400,
    "unsubscribe": 5 * 365 * 86400,
    "preferences": 5 * 365 * 86400,
}
PATHS = {"open": "o", "click": "c", "unsubscribe": "u", "preferences": "p"}
_HREF = re.compile(r"""(<a\s[^>]*?href\s*=\s*)(["'])(https?://[^"'\s>]+)\2""", re.I)
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _purpose(kind: str) -> str:
    return f"marketing.{kind}"


def token(kind: str, payload: dict[str, Any]) -> str:
    """A signed token of ``kind`` (open, click, unsubscribe, preferences) for this tenant."""
    return make_token(_purpose(kind), {"t": require_tenant().id.hex, **payload})


def read(kind: str, value: str) -> dict[str, Any]:
    """The payload of a token of ``kind`` made for the tenant in context.

    Raises ``TokenError`` for a tampered, foreign, malformed or expired one.
    """
    data = read_token(_purpose(kind), value, MAX_AGE[kind])
    if data.get("t") != require_tenant().id.hex:
        raise TokenError("This link is not valid.")
    return data


def link(kind: str, value: str, suffix: str = "") -> str:
    """The absolute URL of a public marketing page for ``value`` (a token)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/t/{require_tenant().slug}/marketing/{PATHS[kind]}/{value}{suffix}"


def hex_id(value: Any) -> str:
    """A UUID as 32 hex digits (as tokens carry it)."""
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def unsubscribe_url(email: str, contact_id: Any, message_id: Any = None) -> str:
    """The signed unsubscribe link of one recipient."""
    payload = {"e": email, "c": hex_id(contact_id), "m": hex_id(message_id) if message_id else None}
    return link("unsubscribe", token("unsubscribe", payload))


def preferences_url(email: str, contact_id: Any) -> str:
    """The signed subscription preferences link of one recipient."""
    return link("preferences", token("preferences", {"e": email, "c": hex_id(contact_id)}))


def track(body_html: str, message_id: Any) -> str:
    """Rewrite every ``http(s)`` link of a body to the click redirect and add the open pixel.

    Links to this CRM's own marketing pages (unsubscribe, preferences) are left alone.
    """
    own = current_app.config["BASE_URL"].rstrip("/") + f"/t/{require_tenant().slug}/marketing/"
    mid = hex_id(message_id)

    def rewrite(match: re.Match[str]) -> str:
        url = match.group(3)
        if url.startswith(own):
            return match.group(0)
        tracked = link("click", token("click", {"m": mid, "u": url}))
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    out = _HREF.sub(rewrite, body_html)
    pixel = (
        f'<img src="{link("open", token("open", {"m": mid}), ".gif")}" width="1" height="1" '
        'alt="" style="display:none">'
    )
    if "</body>" in out.lower():
        at = out.lower().rfind("</body>")
        return out[:at] + pixel + out[at:]
    return out + pixel
