"""Signatures of outbound webhooks: HMAC-SHA256 over ``"<timestamp>.<body>"``.

The header is ``X-CRM-Signature: t=<unix seconds>,v1=<hex digest>``. This module uses only
the standard library, so a receiver can copy it as it is (``docs/webhooks.md`` shows how).
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["compute_signature", "signature_header", "verify_signature"]


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def compute_signature(secret: str | bytes, timestamp: int, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = str(int(timestamp)).encode("ascii") + b"." + _bytes(body)
    return hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, body: str | bytes, timestamp: int | None = None) -> str:
    """The value of ``X-CRM-Signature`` for ``body`` sent at ``timestamp`` (default: now)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(secret, ts, body)}"


def verify_signature(
    secret: str | bytes,
    header: str | None,
    body: str | bytes,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """True when ``header`` (``X-CRM-Signature``) signs ``body`` with ``secret``.

    ``body`` must be the raw request body, byte for byte. The timestamp must be within
    ``tolerance`` seconds of ``now`` (replayed old requests fail); ``tolerance=0`` skips that
    check. Several ``v1=`` values (sent while a secret is being rotated) are all tried.
    """
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if tolerance > 0:
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance:
            return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
