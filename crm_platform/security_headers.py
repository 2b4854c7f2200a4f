"""Security headers on every response.

A Content Security Policy that allows scripts, styles, images and fonts from this origin only
(no inline scripts: the pages use vendored files and htmx attributes; inline ``style``
attributes are allowed), forbids framing (``frame-ancestors 'none'``) and plugins, and keeps
forms posting to this origin; ``nosniff``; a referrer policy that never sends a page's address
(which may hold a signed token) to another site; HSTS when the request came over HTTPS (or
``SESSION_COOKIE_SECURE`` says the deployment is HTTPS-only).

A view that must be framed by other sites (a web form a tenant embeds) marks itself with
:func:`embeddable`; headers a view set itself are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.wrappers import Response

F = TypeVar("F", bound=Callable[..., Any])

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"


def embeddable(view: F) -> F:
    """Mark a view that other sites may show in a frame (its CSP allows any ancestor)."""
    view.crm_embeddable = True  # type: ignore[attr-defined]
    return view


def _csp_for_view() -> str:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "crm_embeddable", False):
        return CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
    return CSP


def add_security_headers(response: Response) -> Response:
    """Set the security headers a response does not set itself."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _csp_for_view())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app``."""
    app.after_request(add_security_headers)
