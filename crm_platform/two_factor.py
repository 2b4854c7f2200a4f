"""Optional two-factor sign-in with time-based one-time codes (TOTP, RFC 6238).

Any user (members of tenants and platform staff alike) may turn it on from their own menu:

* the shared secret is stored **sealed** (:mod:`crm_platform.sealing`, purpose ``"totp"``), so
  a database dump alone does not give it away;
* codes are 6 digits, 30-second steps, one step of clock drift accepted either way; a code is
  refused once it (or a later one) was used: ``last_step`` moves forward in one conditional
  ``UPDATE``, so two requests racing with the same code cannot both win;
* ten one-time recovery codes are shown once when two-factor is turned on; only their
  SHA-256 digests are stored (each has 80 random bits, so a digest cannot be guessed back),
  and each is used up in one conditional ``UPDATE``.

The sign-in views call :func:`verify_second_factor` after the password; the tenant setting
``require_2fa`` and the ``CRM_STAFF_REQUIRE_2FA`` config send users without it to enrolment
(:func:`required_for_staff`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from datetime import datetime
from typing import Any

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, Uuid, delete, update
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Base, db
from .ids import uuid7
from .sealing import seal, unseal
from .tenancy import utcnow

STEP = 30
WINDOW = 1
DIGITS = 6
RECOVERY_CODES = 10
#: A secret shown for enrolment stays usable this long before a new one is made.
PENDING_MAX_AGE = 15 * 60
SEAL_PURPOSE = "totp"
_CODE_RE = re.compile(r"^\d{6}$")


def now() -> float:
    """The current time (a function so that tests can move the clock)."""
    return time.time()


class UserTwoFactor(Base):
    """One user's TOTP secret (platform table): pending until ``enabled_at`` is set."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The newest time step whose code was accepted (codes of this step or older are refused).
    last_step: Mapped[int | None] = mapped_column(Integer)

    @property
    def enabled(self) -> bool:
        """True once the user confirmed the secret with a valid code."""
        return self.enabled_at is not None


class RecoveryCode(Base):
    """One single-use recovery code of a user, stored as a SHA-256 digest."""

    __tablename__ = "user_recovery_codes"
    __table_args__ = (Index("ix_user_recovery_codes_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------- state


def record_of(user_id: uuid.UUID) -> UserTwoFactor | None:
    """The two-factor row of ``user_id`` (pending or enabled), or ``None``."""
    return db.session.get(UserTwoFactor, user_id)


def is_enabled(user: Any) -> bool:
    """True when ``user`` (a User or ``None``) has two-factor sign-in turned on."""
    if user is None or getattr(user, "id", None) is None:
        return False
    row = record_of(user.id)
    return row is not None and row.enabled


def required_for_staff() -> bool:
    """``CRM_STAFF_REQUIRE_2FA``: platform staff must have two-factor to use the console."""
    return bool(current_app.config.get("STAFF_REQUIRE_2FA"))


def required_by_tenant(tenant: Any) -> bool:
    """The tenant setting ``require_2fa``: every member must have two-factor."""
    return bool((getattr(tenant, "settings", None) or {}).get("require_2fa"))


# --------------------------------------------------------------------------- TOTP


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP)


def current_step(at: float | None = None) -> int:
    """The TOTP time step of ``at`` (default: now)."""
    return int((now() if at is None else at) // STEP)


def code_for(secret: str, step: int) -> str:
    """The code of ``secret`` in time step ``step`` (what an authenticator app shows)."""
    return _totp(secret).generate_otp(step)


def _matching_step(secret: str, code: str) -> int | None:
    code = (code or "").replace(" ", "").strip()
    if not _CODE_RE.match(code):
        return None
    step = current_step()
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if hmac.compare_digest(code_for(secret, candidate), code):
            return candidate
    return None


def secret_of(row: UserTwoFactor) -> str | None:
    """The plain secret of ``row`` (``None`` when it cannot be unsealed)."""
    return unseal(row.secret_sealed, purpose=SEAL_PURPOSE)


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    issuer = current_app.config.get("TOTP_ISSUER") or "CRM"
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(data: str) -> Markup:
    """``data`` as a QR code in inline SVG (made here: no outside service sees the secret)."""
    svg = segno.make(data, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")
    return Markup(svg)  # noqa: S704 - segno's own markup, data is escaped by segno


# --------------------------------------------------------------------------- enrolment


def start_enrolment(user: Any) -> UserTwoFactor:
    """A pending secret for ``user`` (reused while recent); caller commits.

    Refuses nothing: the views only offer it while two-factor is off.
    """
    row = record_of(user.id)
    if row is not None and row.enabled:
        return row
    fresh = row is not None and (utcnow() - _aware(row.created_at)).total_seconds() < (
        PENDING_MAX_AGE
    )
    if row is not None and fresh and secret_of(row):
        return row
    secret = pyotp.random_base32()  # 160 bits
    if row is None:
        row = UserTwoFactor(user_id=user.id, secret_sealed=seal(secret, purpose=SEAL_PURPOSE))
        db.session.add(row)
    else:
        row.secret_sealed = seal(secret, purpose=SEAL_PURPOSE)
        row.created_at = utcnow()
        row.last_step = None
    db.session.flush()
    return row


def confirm_enrolment(user: Any, code: str) -> list[str] | None:
    """Turn two-factor on when ``code`` matches the pending secret; returns the new recovery
    codes (shown once), or ``None`` for a wrong code. Caller commits."""
    row = record_of(user.id)
    if row is None or row.enabled:
        return None
    secret = secret_of(row)
    step = _matching_step(secret, code) if secret else None
    if step is None:
        return None
    row.enabled_at = utcnow()
    row.last_step = step
    db.session.flush()
    return new_recovery_codes(user)


def disable(user: Any) -> None:
    """Turn two-factor off: forget the secret and the recovery codes. Caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(UserTwoFactor).where(UserTwoFactor.user_id == user.id))
    db.session.expire_all()


# --------------------------------------------------------------------------- recovery codes


def _digest(code: str) -> str:
    normal = re.sub(r"[^a-z0-9]", "", (code or "").lower())
    return hashlib.sha256(f"crm-recovery:{normal}".encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def new_recovery_codes(user: Any) -> list[str]:
    """Replace ``user``'s recovery codes with :data:`RECOVERY_CODES` new ones (returned once,
    stored hashed). Caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_digest(code)))
    db.session.flush()
    return codes


def recovery_codes_left(user: Any) -> int:
    """How many unused recovery codes ``user`` has."""
    from sqlalchemy import func, select

    stmt = select(func.count()).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
    )
    return int(db.session.scalar(stmt) or 0)


# --------------------------------------------------------------------------- verification


def verify_totp(user: Any, code: str) -> bool:
    """True when ``code`` is a current code of ``user`` not used before (it is used up now)."""
    row = record_of(user.id)
    if row is None or not row.enabled:
        return False
    secret = secret_of(row)
    step = _matching_step(secret, code) if secret else None
    if step is None:
        return False
    result = db.session.execute(
        update(UserTwoFactor)
        .where(
            UserTwoFactor.user_id == user.id,
            (UserTwoFactor.last_step.is_(None)) | (UserTwoFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(row)
    return result.rowcount == 1


def use_recovery_code(user: Any, code: str) -> bool:
    """True when ``code`` is an unused recovery code of ``user`` (it is used up now)."""
    if not re.search(r"[a-z]", (code or "").lower()):
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def verify_second_factor(user: Any, code: str) -> str | None:
    """Check a code typed on a second-factor form: ``"totp"``, ``"recovery"`` or ``None``."""
    if verify_totp(user, code):
        return "totp"
    if use_recovery_code(user, code):
        return "recovery"
    return None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:  # SQLite returns naive datetimes
        return value.replace(tzinfo=utcnow().tzinfo)
    return value
