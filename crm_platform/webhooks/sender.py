"""One HTTP POST of a webhook: to the checked address, with a total time limit.

Standard library only (``http.client``): the connection goes to ``Target.address`` (the IP
the SSRF guard checked) with the URL's host in the ``Host`` header and, for https, in SNI and
the certificate check. Redirects are never followed; at most ``READ_LIMIT`` bytes of the
answer are read.
"""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from typing import Any

from .netguard import Target

#: Bytes of a response body read at most; the rest is never downloaded.
READ_LIMIT = 4096
#: Characters of the response body kept with a delivery attempt.
EXCERPT_CHARS = 1000
#: Characters of an error message kept with a delivery attempt.
ERROR_CHARS = 500


@dataclass(frozen=True)
class SendResult:
    """What one attempt gave: the status code (``None`` when none came), time, error."""

    status: int | None
    duration_ms: int
    error: str | None
    excerpt: str

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP address, with SNI and certificate checks for the URL's host."""

    def __init__(self, address: str, port: int, server_hostname: str, **kwargs: object) -> None:
        super().__init__(address, port, **kwargs)  # type: ignore[arg-type]
        self._crm_server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self._crm_server_hostname
        )


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(
            target.address,
            target.port,
            target.host,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    return http.client.HTTPConnection(target.address, target.port, timeout=timeout)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_excerpt(sock: Any, response: http.client.HTTPResponse, deadline: _Deadline) -> str:
    """The start of the response body; a body that is slow or broken counts as empty."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < READ_LIMIT:
            sock.settimeout(deadline.left())
            chunk = response.read1(READ_LIMIT - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, http.client.HTTPException):
        pass  # the status line already answered; the body is only kept as an excerpt
    return _clip(b"".join(chunks).decode("utf-8", errors="replace"), EXCERPT_CHARS)


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
    """POST ``body`` to ``target``; never raises for network trouble (it is in the result)."""
    deadline = _Deadline(timeout)
    started = time.monotonic()
    status: int | None = None
    excerpt = ""
    error: str | None = None
    conn = _connection(target, deadline.left())
    try:
        conn.connect()
        sock = conn.sock  # kept: http.client drops it once a response says "close"
        sock.settimeout(deadline.left())
        conn.request(
            "POST", target.path, body=body, headers={"Host": target.host_header, **headers}
        )
        sock.settimeout(deadline.left())
        response = conn.getresponse()
        status = response.status
        excerpt = _read_excerpt(sock, response, deadline)
    except TimeoutError:
        error = f"timed out after {deadline.seconds:g} s"
    except ssl.SSLError as exc:
        error = f"TLS error: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        conn.close()
    duration_ms = int((time.monotonic() - started) * 1000)
    if error is None and status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
        if 300 <= status < 400:
            error += " (redirects are not followed)"
    return SendResult(status, duration_ms, _clip(error, ERROR_CHARS) if error else None, excerpt)
