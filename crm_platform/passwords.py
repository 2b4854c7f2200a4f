"""Password hashing (scrypt) and the strength rule every password form uses."""

from __future__ import annotations

import hashlib
from functools import cache

from flask import current_app, has_app_context
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 128
_COMMON = frozenset(
    (
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "qwerty1234",
        "letmein123",
        "iloveyou12",
        "welcome123",
        "admin12345",
        "abc1234567",
        "1q2w3e4r5t",
        "changeme12",
        "football12",
        "monkey1234",
        "dragon1234",
        "sunshine12",
        "princess12",
        "trustno1234",
        "0987654321",
        "1111111111",
        "aaaaaaaaaa",
        "zaq12wsxcde",
        "qazwsxedc1",
    )
)
DEFAULT_METHOD = "scrypt"


def _method() -> str:
    """The configured hash method (``PASSWORD_HASH_METHOD``; tests use a cheaper scrypt cost)."""
    if has_app_context():
        return str(current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_METHOD)
    return DEFAULT_METHOD


@cache
def _dummy_hash(method: str) -> str:
    """A hash of nothing, checked when an account has none so both paths cost the same."""
    return generate_password_hash("not-a-real-password", method=method)


def hash_password(password: str) -> str:
    """Hash ``password`` with scrypt (the configured cost) and a random salt."""
    return generate_password_hash(password, method=_method())


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash, still spend the same time (no account enumeration)."""
    if not password_hash:
        check_password_hash(_dummy_hash(_method()), password)
        return False
    return check_password_hash(password_hash, password)


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why ``password`` is too weak, or ``None`` when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _("Use at least %(num)d characters.", num=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Use at most %(num)d characters.", num=MAX_LENGTH)
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 4:
        return _("This password is too common or too simple.")
    local = email.split("@", 1)[0].lower()
    if (len(local) >= 4 and local in lowered) or (name and name.lower() == lowered):
        return _("Do not use your e-mail address or name as a password.")
    return None


def fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: tokens bound to it die when the password changes."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]
