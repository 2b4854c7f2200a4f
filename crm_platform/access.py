"""Access helpers: fetch one record of the current tenant or answer 404 / 403.

Like Zulip's ``access_*_by_id`` helpers: a missing row and another tenant's row give the
same "not found", so identifiers reveal nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g
from sqlalchemy import select

from .extensions import db
from .ids import parse_uuid
from .tenancy import is_tenant_scoped

M = TypeVar("M")
F = TypeVar("F", bound=Callable[..., Any])


def get_or_404(model: type[M], record_id: object) -> M:
    """The current tenant's ``model`` row with ``record_id``, else abort 404."""
    if not is_tenant_scoped(model):
        raise TypeError(f"{model.__name__} is not tenant-scoped")
    rid = parse_uuid(record_id)
    if rid is None:
        abort(404)
    row = db.session.execute(select(model).where(model.id == rid)).scalar_one_or_none()
    if row is None:
        abort(404)
    return row


def has_permission(permission: str) -> bool:
    """True when the signed-in member of the current tenant holds ``permission``."""
    membership = g.get("membership")
    return bool(membership and membership.can(permission))


def require_permission(permission: str) -> Callable[[F], F]:
    """Decorate a tenant view so members without ``permission`` get 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not has_permission(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.crm_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def csrf_exempt(view: F) -> F:
    """Exempt a view from the app-wide CSRF check: only for a public form posted from another
    site (an embedded form), which must protect itself (e.g. with a signed, timed token)."""
    from .extensions import csrf

    return csrf.exempt(view)


def public_tenant_view(view: F) -> F:
    """Mark a ``/t/<slug>/`` view that signed-out visitors may open (e.g. an invitation)."""
    view.crm_public = True  # type: ignore[attr-defined]
    return view
