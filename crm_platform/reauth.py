"""Re-authentication before sensitive actions (``require_recent_auth``, in ``crm_platform.sdk``).

Every full sign-in (password, and the code when two-factor is on) stamps the session with
its time (``crm_auth_at``); a session restored from a "keep me signed in" cookie has no stamp.
A view decorated with :func:`require_recent_auth` runs only when that stamp is younger than
``max_age`` seconds (default ``CRM_REAUTH_SECONDS``, 600). Otherwise:

* **GET** (and HEAD): a redirect to the "confirm it's you" page, which comes back to the
  same URL afterwards;
* **any other method**: nothing is done and nothing of the request is kept (no form data is
  stored in the session or replayed); the user confirms, goes back to the page the form was
  on (the same-site ``Referer``, else the home page) and submits again. htmx requests get an
  ``HX-Redirect`` to the confirm page instead of a redirect the page would swallow.

Only same-site paths are ever used as the way back (:func:`crm_platform.web.safe_next`).
Put the decorator *below* the route's permission decorator, so a member without the
permission still gets 403 rather than a password prompt::

    @bp.post("/keys")
    @require_permission("settings.manage")
    @require_recent_auth
    def create_key(): ...
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from flask import current_app, flash, make_response, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "crm_auth_at"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def mark_authenticated() -> None:
    """Stamp this session as fully authenticated now (after a password, and code if any)."""
    session[SESSION_KEY] = int(time.time())


def auth_age() -> float:
    """Seconds since this session last authenticated fully (infinite when never)."""
    stamp = session.get(SESSION_KEY)
    if not isinstance(stamp, int | float):
        return float("inf")
    return max(0.0, time.time() - stamp)


def reauth_seconds() -> int:
    """How recent a sign-in must be for sensitive actions (``CRM_REAUTH_SECONDS``)."""
    return int(current_app.config.get("REAUTH_SECONDS") or 600)


def is_recent(max_age: int | None = None) -> bool:
    """True when this session authenticated within ``max_age`` seconds (default: config)."""
    return auth_age() <= (reauth_seconds() if max_age is None else max_age)


def _same_site_referrer() -> str | None:
    from .web import safe_next

    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path)


def _way_back() -> str:
    from .web import safe_next

    if request.method in SAFE_METHODS:
        return safe_next(request.full_path.rstrip("?")) or url_for("web.index")
    return _same_site_referrer() or url_for("web.index")


def confirm_redirect() -> Any:
    """The response sending this request to the confirm page (see the module docs)."""
    if request.method in SAFE_METHODS:
        flash(_("Please confirm it's you to continue."), "info")
    else:
        flash(_("Please confirm it's you, then submit the form again."), "info")
    target = url_for("auth.reauth", next=_way_back())
    if request.headers.get("HX-Request"):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@overload
def require_recent_auth(view: F) -> F: ...
@overload
def require_recent_auth(view: None = None, *, max_age: int | None = None) -> Callable[[F], F]: ...


def require_recent_auth(view: Any = None, *, max_age: int | None = None) -> Any:
    """Run the view only after a recent full sign-in: ``@require_recent_auth`` or
    ``@require_recent_auth(max_age=300)`` (seconds; default ``CRM_REAUTH_SECONDS``).

    Signed-out requests pass through untouched (the view's own guards answer them).
    """

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or is_recent(max_age):
                return func(*args, **kwargs)
            return confirm_redirect()

        wrapped.crm_recent_auth = max_age or "default"  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator(view) if callable(view) else decorator
