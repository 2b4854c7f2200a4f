"""A marketing e-mail as bytes on the wire: headers, a text and an HTML part.

Built by hand rather than with ``email.message`` (whose header parsing costs more than
everything else of a send): the values that go into headers are single lines already
(subjects are whitespace-collapsed, addresses validated), non-ASCII ones are RFC 2047
encoded, and both parts are base64 in 76-character lines, so no line is ever too long.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr

CRLF = b"\r\n"


def header_value(value: str) -> str:
    """A header value: as it is when ASCII, else RFC 2047-encoded (``=?utf-8?...?=``)."""
    one_line = " ".join(value.split())
    if one_line.isascii():
        return one_line
    return Header(one_line, "utf-8").encode()


def address(name: str | None, email: str) -> str:
    """``Name <email>`` with the name encoded when needed."""
    return formataddr((" ".join(name.split()), email), charset="utf-8") if name else email


def _part(content_type: str, body: str) -> bytes:
    encoded = base64.encodebytes(body.encode("utf-8")).replace(b"\n", CRLF)
    head = (
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\nMIME-Version: 1.0\r\n\r\n"
    )
    return head.encode() + encoded


def message_bytes(
    headers: Sequence[tuple[str, str]], text: str, html: str, *, date: datetime
) -> bytes:
    """The whole message: ``headers`` (name, value) first, then ``multipart/alternative``."""
    boundary = f"=={uuid.uuid4().hex}=="
    lines = [f"{name}: {header_value(value)}" for name, value in headers]
    lines += [
        f"Date: {format_datetime(date)}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    out = [("\r\n".join(lines) + "\r\n\r\n").encode()]
    for content_type, body in (("text/plain", text), ("text/html", html)):
        out.append(f"--{boundary}\r\n".encode())
        out.append(_part(content_type, body))
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)
