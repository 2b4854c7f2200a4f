"""Who is platform staff, and the decorator that keeps the console staff-only.

The console does not reveal itself: anyone who is not staff (signed out, a tenant owner, a
user whose staff role was removed) gets the same 404 as for a page that does not exist.
Staff without the role an action needs get 403.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, overload

from flask import abort, g, has_request_context
from flask_login import current_user

from ..extensions import db
from .models import PlatformStaff

F = TypeVar("F", bound=Callable[..., Any])
_CACHE = "crm_staff"
_MISSING = object()


def staff_record(user_id: uuid.UUID | None) -> PlatformStaff | None:
    """The ``platform_staff`` row of ``user_id``, or ``None``."""
    if user_id is None:
        return None
    return db.session.get(PlatformStaff, user_id)


def signed_in_user_id() -> uuid.UUID | None:
    """The id of the user this browser session signed in as (never an impersonated member)."""
    real = g.get("crm_real_user") if has_request_context() else None
    if real is not None:
        return real.id
    if current_user and current_user.is_authenticated:
        return current_user.id
    return None


def current_staff() -> PlatformStaff | None:
    """The staff record of the signed-in user (cached per request), or ``None``."""
    cached = g.get(_CACHE, _MISSING) if has_request_context() else _MISSING
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    staff = staff_record(signed_in_user_id())
    if has_request_context():
        setattr(g, _CACHE, staff)
    return staff


def forget_staff() -> None:
    """Drop the cached staff record (after the role changed in this request)."""
    if has_request_context():
        g.pop(_CACHE, None)


def is_staff(role: str | None = None) -> bool:
    """True when the signed-in user is staff (holding ``role``, when given)."""
    staff = current_staff()
    return staff is not None and staff.can(role)


@overload
def require_staff(view: F) -> F: ...
@overload
def require_staff(view: str | None = None) -> Callable[[F], F]: ...


def require_staff(view: Any = None) -> Any:
    """Make a view staff-only: ``@require_staff`` or ``@require_staff("admin")``.

    Non-staff get 404 (the console is not revealed); staff without the role get 403.
    """
    role = None if callable(view) else view

    def decorator(func: F) -> F:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                abort(404)
            if not staff.can(role):
                abort(403)
            from ..auth.security_views import staff_gate  # CRM_STAFF_REQUIRE_2FA

            enrol = staff_gate()
            if enrol is not None:
                return enrol
            g.staff = staff
            return func(*args, **kwargs)

        wrapped.crm_staff_role = role or "staff"  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator(view) if callable(view) else decorator
