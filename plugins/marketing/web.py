"""The module's blueprint (``/t/<slug>/marketing/...``) and what its pages share."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from crm_platform.sdk import get_or_404

bp = Blueprint(
    "marketing", __name__, url_prefix="/t/<tenant_slug>/marketing", template_folder="templates"
)


def is_htmx() -> bool:
    """An htmx request that swaps part of the page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request"
    )


def fetch(model: Any, record_id: str) -> Any:
    """The tenant's row or 404 (another tenant's id answers exactly like a missing one)."""
    return get_or_404(model, record_id)


def require_button(form: Any) -> None:
    """400 unless the posted form's CSRF token checks out."""
    if not form.validate_on_submit():
        abort(400)


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site (no open redirects), else ``default``."""
    if not target or any(ord(c) < 0x20 for c in target) or "\\" in target:
        return default
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default


def register_views() -> Blueprint:
    """Import every view module (they add their routes to ``bp``) and return ``bp``."""
    from . import (  # noqa: F401
        views_campaigns,
        views_content,
        views_customers,
        views_public,
        views_segments,
        views_suppression,
    )

    return bp
