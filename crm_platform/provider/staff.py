"""Granting and revoking the platform staff role (the CLI and the demo use these)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..identity import User
from ..provisioning import ValidationFailed
from .access import forget_staff, staff_record
from .actions import record_staff_action
from .models import STAFF_ROLES, PlatformStaff


def grant_staff(user: User, role: str, actor: Any = "cli") -> PlatformStaff:
    """Make ``user`` platform staff with ``role`` (or change the role); caller commits."""
    if role not in STAFF_ROLES:
        raise ValidationFailed(
            {"role": _("Choose one of: %(choices)s.", choices=", ".join(STAFF_ROLES))}
        )
    row = staff_record(user.id)
    if row is None:
        row = PlatformStaff(user_id=user.id, role=role)
        db.session.add(row)
        record_staff_action("staff.added", target=user.email, details={"role": role}, actor=actor)
    elif row.role != role:
        record_staff_action(
            "staff.role_changed",
            target=user.email,
            details={"from": row.role, "to": role},
            actor=actor,
        )
        row.role = role
    forget_staff()
    return row


def revoke_staff(user: User, actor: Any = "cli") -> bool:
    """Take the staff role from ``user``; False when they had none. Caller commits."""
    row = staff_record(user.id)
    if row is None:
        return False
    db.session.delete(row)
    record_staff_action("staff.removed", target=user.email, details={"role": row.role}, actor=actor)
    forget_staff()
    return True


def all_staff() -> list[tuple[PlatformStaff, User]]:
    """Every staff member with their user, by e-mail."""
    stmt = select(PlatformStaff, User).join(User, User.id == PlatformStaff.user_id)
    return [(s, u) for s, u in db.session.execute(stmt.order_by(User.email))]
