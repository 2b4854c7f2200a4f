"""Time-ordered identifiers (UUIDv7) generated in Python.

Ids are made by the application, not by a database sequence: they work the same on SQLite
and PostgreSQL, sort by creation time (good B-tree locality) and leak no record counts.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = -1
_last_counter = 0


def uuid7() -> uuid.UUID:
    """Return a new RFC 9562 version-7 UUID, strictly increasing within this process.

    48-bit millisecond timestamp, a 42-bit counter (random at each new millisecond, plus one
    for each further id in the same millisecond: RFC 9562 section 6.2, method 1, as Python
    3.14's ``uuid.uuid7``) and 32 random bits. Ids made in one burst (one request, one
    transaction) therefore sort in the order they were made, as newest-first pages need.
    """
    global _last_ms, _last_counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            counter = int.from_bytes(os.urandom(6), "big") & 0x1FF_FFFF_FFFF  # top bit 0
        else:
            ms = _last_ms  # same millisecond, or the clock went back
            counter = _last_counter + 1
            if counter > 0x3FF_FFFF_FFFF:  # counter overflow: borrow the next millisecond
                ms += 1
                counter = int.from_bytes(os.urandom(6), "big") & 0x1FF_FFFF_FFFF
        _last_ms, _last_counter = ms, counter
    tail = int.from_bytes(os.urandom(4), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((counter >> 30) & 0xFFF) << 64  # rand_a: the counter's top 12 bits
    value |= 0b10 << 62  # variant
    value |= (counter & 0x3FFF_FFFF) << 32  # rand_b: the counter's low 30 bits ...
    value |= tail  # ... and 32 random bits
    return uuid.UUID(int=value)


def uuid7s(count: int) -> list[uuid.UUID]:
    """``count`` new ids, as ``count`` calls of :func:`uuid7` would make them, at once.

    One clock read, one lock and one batch of random bytes: bulk writers (imports) need
    thousands of ids, and :func:`uuid7` costs microseconds each.
    """
    global _last_ms, _last_counter
    if count <= 0:
        return []
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            first = int.from_bytes(os.urandom(6), "big") & 0x1FF_FFFF_FFFF
        else:
            ms, first = _last_ms, _last_counter + 1
        overflow = first + count - 1 > 0x3FF_FFFF_FFFF
        if not overflow:
            _last_ms, _last_counter = ms, first + count - 1
    if overflow:  # the counter would overflow: rare, make them one at a time
        return [uuid7() for _ in range(count)]
    tails = os.urandom(4 * count)
    high = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | 0b10 << 62
    new, setattr_, cls = object.__new__, object.__setattr__, uuid.UUID
    unknown = uuid.SafeUUID.unknown
    out = []
    for i in range(count):
        counter = first + i
        tail = int.from_bytes(tails[4 * i : 4 * i + 4], "big")
        value = high | ((counter >> 30) & 0xFFF) << 64 | (counter & 0x3FFF_FFFF) << 32 | tail
        # uuid.UUID(int=value) without its argument checks (the value is a valid UUIDv7).
        made = new(cls)
        setattr_(made, "int", value)
        setattr_(made, "is_safe", unknown)
        out.append(made)
    return out


def parse_uuid(value: object) -> uuid.UUID | None:
    """Parse ``value`` as a UUID, returning ``None`` for anything malformed (never raises)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
