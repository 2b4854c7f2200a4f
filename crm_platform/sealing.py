"""Credentials at rest: passwords and keys a tenant gives the CRM to reach other systems.

A CalDAV password or an ERP's API key must be readable again (the CRM signs in with it), so
it cannot be hashed; it is encrypted (Fernet: AES-128-CBC with an HMAC-SHA256) under a key
derived from ``CREDENTIALS_KEY`` (env ``CRM_CREDENTIALS_KEY``; by default ``SECRET_KEY``) and
a *purpose* (``"calendar"``, ``"erp"`` ...), so a value sealed for one use cannot be
unsealed for another. Sealed values start with ``sealed:`` so that code reading a setting
can tell them from plain values. A database dump alone does not give the credentials away.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

PREFIX = "sealed:"


def _fernet(purpose: str) -> Fernet:
    cfg = current_app.config
    secret = cfg.get("CREDENTIALS_KEY") or cfg["SECRET_KEY"]
    digest = hashlib.sha256(f"crm-credentials:{purpose}:{secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def is_sealed(value: object) -> bool:
    """Whether ``value`` is a sealed credential."""
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(value: str, *, purpose: str) -> str:
    """The stored form of the credential ``value`` (``sealed:...``)."""
    return PREFIX + _fernet(purpose).encrypt(value.encode("utf-8")).decode("ascii")


def unseal(value: str | None, *, purpose: str) -> str | None:
    """The credential back from :func:`seal`; ``None`` when it cannot be read (sealed under
    another key or purpose, or damaged: the user must enter it again). A value that is not
    sealed is returned as it is."""
    if value is None or not is_sealed(value):
        return value
    try:
        return _fernet(purpose).decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        return None
