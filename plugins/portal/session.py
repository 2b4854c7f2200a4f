"""The portal session: a signed cookie of its own, apart from the staff session.

* Name ``crm_portal``, path ``/t/<slug>/portal`` (the browser never sends it to staff pages
  or ``/api/v1``), HttpOnly, SameSite=Lax, Secure when the staff cookie is.
* Its value is signed with the app's secret under its own salt and carries the tenant, the
  portal user and their ``session_version``, a random nonce and the time of sign-in. It
  expires after ``PORTAL_SESSION_SECONDS`` (8 hours by default) and dies when the user's
  ``session_version`` moves (password change, disabling).
* Signed-out visitors get a cookie with only a nonce; signing in issues a new nonce
  (rotation, no session fixation).
* The CSRF token of every portal form is an HMAC of the nonce: it is valid only with the
  cookie it was made for. Flask's own ``session`` (the staff one) is never read or written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from flask import abort, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "crm_portal"
DEFAULT_SECONDS = 8 * 3600
SALT = "crm-portal-session"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def lifetime() -> int:
    """Seconds a portal session lasts."""
    return int(current_app.config.get("PORTAL_SESSION_SECONDS") or DEFAULT_SECONDS)


def cookie_path(slug: str) -> str:
    """The path the portal cookie is limited to."""
    return f"/t/{slug}/portal"


def load(tenant_id: Any) -> dict[str, Any]:
    """The session data of this request (a fresh anonymous one when missing or invalid)."""
    raw = request.cookies.get(COOKIE)
    data: dict[str, Any] | None = None
    if raw:
        try:
            loaded = _serializer().loads(raw, max_age=lifetime())
        except BadSignature:
            loaded = None
        if isinstance(loaded, dict) and loaded.get("t") == str(tenant_id) and loaded.get("n"):
            data = loaded
    if data is None:
        data = new_session(tenant_id)
    g.portal_session = data
    return data


def new_session(tenant_id: Any, user: Any = None) -> dict[str, Any]:
    """A new session (new nonce); ``user`` signs it in. Marks the cookie to be written."""
    data: dict[str, Any] = {"t": str(tenant_id), "n": secrets.token_urlsafe(18)}
    if user is not None:
        data.update(u=str(user.id), v=user.session_version, at=int(time.time()))
    g.portal_session = data
    g.portal_session_dirty = True
    return data


def save(response: Any, slug: str) -> Any:
    """Write the cookie when the session is new or changed."""
    data = g.get("portal_session")
    if data is None or not g.get("portal_session_dirty"):
        return response
    response.set_cookie(
        COOKIE,
        _serializer().dumps(data),
        max_age=lifetime(),
        path=cookie_path(slug),
        httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        samesite="Lax",
    )
    return response


def csrf_token() -> str:
    """The CSRF token of the current portal session."""
    nonce = g.portal_session["n"]
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"portal-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def check_csrf() -> None:
    """Abort 400 unless the form carries the session's CSRF token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRFToken") or ""
    if not hmac.compare_digest(sent, csrf_token()):
        abort(400, description="The form expired: reload the page and send it again.")
