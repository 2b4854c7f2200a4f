"""A small CalDAV client (RFC 4791) over ``requests``: discover a user's calendars, list the
objects of one with their ETags, fetch some (``calendar-multiget``), and put or delete one
with ``If-Match`` / ``If-None-Match`` so that nothing is overwritten behind our back.

Every failure is a :class:`CalDAVError` with a message a member can act on; ``transient``
says whether trying again later may help (server down, timeout, 5xx) or not (401, 403).
"""

from __future__ import annotations

import ipaddress
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlparse

import requests
from flask_babel import gettext as _

NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav", "cs": "http://calendarserver.org/ns/"}
TIMEOUT = 15.0
#: How many objects one ``calendar-multiget`` asks for.
MULTIGET_BATCH = 100


class CalDAVError(Exception):
    """The server could not be used: ``message`` for the member, ``status`` (HTTP) if any."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.transient = transient


class PreconditionFailed(CalDAVError):
    """``If-Match`` / ``If-None-Match`` failed: the object changed (or exists) on the server."""


@dataclass(frozen=True)
class RemoteCalendar:
    """A calendar collection on the server."""

    url: str
    name: str
    components: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """For storing in a JSON column."""
        return {"url": self.url, "name": self.name, "components": list(self.components)}


def check_url(url: str, *, allow_private: bool = False) -> str:
    """The server URL, cleaned; ``CalDAVError`` when it is not http(s) or (unless
    ``allow_private``) points at a loopback, private or link-local address."""
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise CalDAVError(_("Enter the server address, starting with https://."))
    if allow_private:
        return url
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CalDAVError(_("The server name could not be found."), transient=True) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise CalDAVError(_("That address is on a private network: it cannot be used."))
    return url


def _propfind_body(*props: str) -> str:
    inner = "".join(f"<{p}/>" for p in props)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" '
        f'xmlns:cs="http://calendarserver.org/ns/"><d:prop>{inner}</d:prop></d:propfind>'
    )


def _parse(content: bytes) -> ET.Element:
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise CalDAVError(
            _("The server's answer could not be read (not CalDAV?)."), transient=True
        ) from exc


def _responses(root: ET.Element) -> list[tuple[str, ET.Element]]:
    """(href, merged prop element of the 200 propstats) of a multistatus."""
    out = []
    for response in root.findall("d:response", NS):
        href = response.findtext("d:href", default="", namespaces=NS).strip()
        merged = ET.Element("prop")
        for propstat in response.findall("d:propstat", NS):
            status = propstat.findtext("d:status", default="", namespaces=NS)
            if " 200 " in f"{status} ":
                prop = propstat.find("d:prop", NS)
                if prop is not None:
                    merged.extend(list(prop))
        out.append((href, merged))
    return out


class CalDAVClient:
    """One account on one CalDAV server."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float = TIMEOUT):
        self.url = url if url.endswith("/") else url + "/"
        self.session = requests.Session()
        self.session.auth = (username, password)
        self.session.headers["User-Agent"] = "CRM calendar sync"
        self.timeout = timeout

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __enter__(self) -> CalDAVClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def absolute(self, href: str) -> str:
        """A server href (usually a path) as a full URL."""
        return urljoin(self.url, href)

    def item_url(self, path: str) -> str:
        """The full URL of an object from its (unquoted) path."""
        return urljoin(self.url, quote(path))

    @staticmethod
    def path(href_or_url: str) -> str:
        """The unquoted path of an href or URL: how objects are keyed."""
        return unquote(urlparse(href_or_url).path)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 204, 207),
    ) -> requests.Response:
        """Send one request; ``CalDAVError`` on any answer not in ``ok``."""
        try:
            response = self.session.request(
                method,
                url,
                data=body.encode() if isinstance(body, str) else body,
                headers=headers or {},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise CalDAVError(
                _(
                    "The calendar server did not answer within %(s)s seconds.",
                    s=f"{self.timeout:g}",
                ),
                transient=True,
            ) from exc
        except requests.RequestException as exc:
            raise CalDAVError(
                _(
                    "The calendar server could not be reached (%(reason)s).",
                    reason=type(exc).__name__,
                ),
                transient=True,
            ) from exc
        status = response.status_code
        if status in ok:
            return response
        if status == 401:
            raise CalDAVError(
                _("The server refused the user name or password (401)."), status=status
            )
        if status == 403:
            raise CalDAVError(
                _("The server does not allow this account to do that (403)."), status=status
            )
        if status == 412:
            raise PreconditionFailed(_("The object changed on the server."), status=status)
        if status == 404:
            raise CalDAVError(_("The calendar was not found on the server (404)."), status=status)
        if 300 <= status < 400:
            raise CalDAVError(
                _(
                    "The server redirects elsewhere (%(status)d): enter the final address.",
                    status=status,
                ),
                status=status,
            )
        raise CalDAVError(
            _("The calendar server answered with an error (%(status)d).", status=status),
            status=status,
            transient=status >= 500 or status == 429,
        )

    def propfind(self, url: str, depth: str, *props: str) -> list[tuple[str, ET.Element]]:
        """PROPFIND ``props`` at ``url``: (href, props) per resource."""
        response = self.request(
            "PROPFIND",
            url,
            body=_propfind_body(*props),
            headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
            ok=(207,),
        )
        return _responses(_parse(response.content))

    # ------------------------------------------------------------------ discovery

    def calendars(self) -> list[RemoteCalendar]:
        """The account's calendars that hold events or to-dos (the URL itself when it is one)."""
        rows = self.propfind(
            self.url,
            "0",
            "d:resourcetype",
            "d:displayname",
            "d:current-user-principal",
            "c:supported-calendar-component-set",
        )
        if not rows:
            raise CalDAVError(_("The server's answer could not be read (not CalDAV?)."))
        href, prop = rows[0]
        if prop.find("d:resourcetype/c:calendar", NS) is not None:
            return [self._calendar(self.url, prop)]
        principal = prop.findtext("d:current-user-principal/d:href", default="", namespaces=NS)
        home = None
        if principal:
            rows = self.propfind(self.absolute(principal.strip()), "0", "c:calendar-home-set")
            if rows:
                home = rows[0][1].findtext("c:calendar-home-set/d:href", default="", namespaces=NS)
        home_url = self.absolute(home.strip()) if home else self.url
        found = []
        for href, prop in self.propfind(
            home_url, "1", "d:resourcetype", "d:displayname", "c:supported-calendar-component-set"
        ):
            if prop.find("d:resourcetype/c:calendar", NS) is not None:
                found.append(self._calendar(self.absolute(href), prop))
        return found

    @staticmethod
    def _calendar(url: str, prop: ET.Element) -> RemoteCalendar:
        comps = tuple(
            c.get("name", "") for c in prop.findall("c:supported-calendar-component-set/c:comp", NS)
        ) or ("VEVENT", "VTODO")
        name = (prop.findtext("d:displayname", default="", namespaces=NS) or "").strip()
        return RemoteCalendar(
            url, name or unquote(urlparse(url).path.rstrip("/").split("/")[-1]), comps
        )

    # ------------------------------------------------------------------ objects

    def ctag(self, calendar_url: str) -> str | None:
        """The collection's sync-token or ctag (changes whenever an object does), if any."""
        rows = self.propfind(calendar_url, "0", "d:sync-token", "cs:getctag")
        if not rows:
            return None
        prop = rows[0][1]
        value = prop.findtext("d:sync-token", namespaces=NS) or prop.findtext(
            "cs:getctag", namespaces=NS
        )
        return value.strip() if value else None

    def etags(self, calendar_url: str) -> dict[str, str]:
        """Path -> ETag of every object in the calendar."""
        base = self.path(calendar_url)
        out = {}
        for href, prop in self.propfind(calendar_url, "1", "d:getetag", "d:resourcetype"):
            path = self.path(href)
            if (
                path.rstrip("/") == base.rstrip("/")
                or prop.find("d:resourcetype/d:collection", NS) is not None
            ):
                continue
            out[path] = (prop.findtext("d:getetag", default="", namespaces=NS) or "").strip()
        return out

    def multiget(self, calendar_url: str, paths: list[str]) -> dict[str, tuple[str, str]]:
        """Path -> (ETag, iCalendar text) of ``paths``; missing ones are left out."""
        out: dict[str, tuple[str, str]] = {}
        for start in range(0, len(paths), MULTIGET_BATCH):
            chunk = paths[start : start + MULTIGET_BATCH]
            hrefs = "".join(f"<d:href>{_xml_escape(quote(p))}</d:href>" for p in chunk)
            body = (
                '<?xml version="1.0" encoding="utf-8"?>'
                '<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                f"<d:prop><d:getetag/><c:calendar-data/></d:prop>{hrefs}</c:calendar-multiget>"
            )
            response = self.request(
                "REPORT",
                calendar_url,
                body=body,
                headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
                ok=(207,),
            )
            for href, prop in _responses(_parse(response.content)):
                data = prop.findtext("c:calendar-data", namespaces=NS)
                if data:
                    etag = (prop.findtext("d:getetag", default="", namespaces=NS) or "").strip()
                    out[self.path(href)] = (etag, data)
        return out

    def put(
        self, path: str, ical: str, *, etag: str | None = None, create: bool = False
    ) -> str | None:
        """Write one object: ``create`` only if absent, else only if it still has ``etag``.
        The new ETag (when the server tells it)."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if create:
            headers["If-None-Match"] = "*"
        elif etag:
            headers["If-Match"] = etag
        response = self.request(
            "PUT", self.item_url(path), body=ical, headers=headers, ok=(200, 201, 204)
        )
        return response.headers.get("ETag")

    def get(self, path: str) -> tuple[str, str]:
        """(ETag, iCalendar text) of one object."""
        response = self.request("GET", self.item_url(path), ok=(200,))
        return response.headers.get("ETag", ""), response.text

    def delete(self, path: str, *, etag: str | None = None) -> None:
        """Delete one object (already gone is fine)."""
        headers = {"If-Match": etag} if etag else {}
        try:
            self.request("DELETE", self.item_url(path), headers=headers, ok=(200, 204))
        except PreconditionFailed:
            # Changed on the server since: delete it anyway, the CRM side is gone.
            self.request("DELETE", self.item_url(path), ok=(200, 204, 404))
        except CalDAVError as exc:
            if exc.status != 404:
                raise


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
