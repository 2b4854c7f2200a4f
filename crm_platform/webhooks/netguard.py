"""The SSRF guard of outbound webhooks: which URLs the platform may send to.

A URL must be ``http`` or ``https`` with a host name, no user name or password, and every
address its host resolves to must be a public one: private, loopback, link-local,
multicast, reserved, unspecified and other non-global addresses are refused (IPv4-mapped
IPv6 addresses are judged by their IPv4 address). The check runs when a webhook is saved
and again before every delivery, and the delivery connects to the address that was checked
(never resolving the name a second time), so a DNS answer that changes in between cannot
point the request at an internal service. ``CRM_WEBHOOKS_ALLOW_PRIVATE`` lifts the address
rule (for development and tests); the scheme rule always holds.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from flask_babel import lazy_gettext as _l

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """A webhook URL the platform refuses to send to; ``message`` says why (translated)."""

    def __init__(self, message: Any) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, at least "/"
    address: str  # the checked IP address to connect to
    host_header: str  # the Host header: the URL's host (and port when not the default)


def _getaddrinfo(host: str, port: int) -> list[Any]:
    """``socket.getaddrinfo`` (a seam for tests that fake DNS answers)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


#: Kinds of refused addresses, as :func:`address_problem` names them.
ADDRESS_KINDS = {
    "unspecified": _l("unspecified"),
    "loopback": _l("loopback"),
    "link-local": _l("link-local"),
    "multicast": _l("multicast"),
    "private": _l("private"),
    "reserved": _l("reserved"),
    "not global": _l("non-public"),
}


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (a key of :data:`ADDRESS_KINDS`), or ``None``."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not global", not ip.is_global),
    )
    for name, bad in checks:
        if bad:
            return name
    return None


def parse_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path)`` of a webhook URL; raises :class:`UnsafeURL`."""
    url = (url or "").strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UnsafeURL(_l("The URL must not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(_l("This is not a valid URL.")) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(_l("Only http:// and https:// URLs can receive webhooks."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(_l("Put no user name or password in the URL."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(_l("The URL needs a host name."))
    if not host.isascii():  # an internationalised name: send and resolve its ASCII form
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UnsafeURL(_l("The host name is not valid.")) from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    path = quote(path, safe="/?&=%:@!$'()*+,;~-._[]")  # non-ASCII characters, escaped
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in resolver order; raises :class:`UnsafeURL`."""
    try:
        infos = _getaddrinfo(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(_l("The host name could not be resolved.")) from exc
    out: list[IPAddress] = []
    for info in infos:
        try:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if ip not in out:
            out.append(ip)
    if not out:
        raise UnsafeURL(_l("The host name could not be resolved."))
    return out


def check_url(url: str, *, allow_private: bool = False) -> Target:
    """Check ``url`` and resolve its host; raises :class:`UnsafeURL` when it is refused.

    Every resolved address must be public (unless ``allow_private``); the first one is the
    address to connect to.
    """
    scheme, host, port, path = parse_url(url)
    addresses = resolve(host, port)
    if not allow_private:
        for ip in addresses:
            problem = address_problem(ip)
            if problem:
                raise UnsafeURL(
                    _l(
                        "%(host)s resolves to %(address)s, a %(kind)s address: webhooks can "
                        "only go to public internet addresses.",
                        host=host,
                        address=str(ip),
                        kind=ADDRESS_KINDS[problem],
                    )
                )
    default_port = 443 if scheme == "https" else 80
    literal = host if ":" not in host else f"[{host}]"
    host_header = literal if port == default_port else f"{literal}:{port}"
    return Target(scheme, host, port, path, str(addresses[0]), host_header)
