"""A small JSON-RPC client for a Tryton server (``trytond``), on the standard library only.

Tryton answers JSON-RPC at ``<url>/<database>/rpc/``: ``common.db.login`` returns a user id
and a session key, which later calls send as ``Authorization: Session base64(login:id:key)``.
Model methods are called as ``model.<model name>.<method>`` with the context as the last
positional argument. Dates, datetimes and decimals travel as ``{"__class__": ...}`` objects,
which :func:`encode` and :func:`decode` translate.

Every failure becomes a :class:`~plugins.erp.connector.ConnectorError`: an unreachable, slow,
overloaded or locked server is *retryable*; a refused login, a missing database, an access or
validation error is not (retrying would fail the same way).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

from plugins.erp.connector import ConnectorError

__all__ = ["TrytonClient", "decode", "encode"]

DEFAULT_TIMEOUT = 15.0
#: Server-side errors that go away when tried again (lock waits, serialisation failures).
_TRANSIENT_MARKERS = ("database is locked", "could not serialize", "deadlock", "OperationalError")


def _encode_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def encode(payload: Any) -> bytes:
    """The JSON body of a request, with Tryton's encoding of dates and decimals."""
    return json.dumps(payload, default=_encode_default, separators=(",", ":")).encode("utf-8")


def _decode_object(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "datetime":
        return dt.datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj["hour"],
            obj["minute"],
            obj["second"],
            obj["microsecond"],
        )
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "time":
        return dt.time(obj["hour"], obj["minute"], obj["second"], obj["microsecond"])
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def decode(body: bytes) -> Any:
    """A response body decoded, with Tryton's dates and decimals as Python objects."""
    return json.loads(body.decode("utf-8"), object_hook=_decode_object)


def _server_error(method: str, error: Any) -> ConnectorError:
    """A ConnectorError for the ``error`` member of a JSON-RPC answer."""
    if isinstance(error, list) and len(error) == 2 and isinstance(error[0], str):
        kind, detail = error
        if kind in ("UserError", "UserWarning"):
            parts = detail if isinstance(detail, list) else [detail]
            if kind == "UserWarning":
                parts = parts[1:]
            text = " - ".join(str(p) for p in parts[:2] if p)
            return ConnectorError(f"Tryton refused {method}: {text}", retryable=False)
        if kind == "LoginException":
            return ConnectorError(f"Tryton asks for a login step on {method}", retryable=False)
        if kind == "ConcurrencyException":
            return ConnectorError(f"Tryton reports a concurrent change: {detail}", retryable=True)
        transient = any(marker in kind for marker in _TRANSIENT_MARKERS)
        return ConnectorError(f"Tryton failed on {method}: {kind}", retryable=transient)
    return ConnectorError(f"Tryton failed on {method}: {error!r}", retryable=False)


class TrytonClient:
    """One user's session on one Tryton database.

    ``url`` is the server's base address (``http://host:8000``). The client logs in on first
    use, keeps the user's context (company, language) and sends it with every model call,
    and logs in again once when the server has expired the session.
    """

    def __init__(
        self,
        url: str,
        database: str,
        username: str,
        password: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        language: str = "en",
    ) -> None:
        url = (url or "").strip().rstrip("/")
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConnectorError(
                f"the Tryton URL {url!r} is not an http(s) address", retryable=False
            )
        if not database:
            raise ConnectorError("no Tryton database is set", retryable=False)
        if not username:
            raise ConnectorError("no Tryton user name is set", retryable=False)
        self.url = url
        self.database = database
        self.username = username
        self.password = password
        self.timeout = timeout
        self.language = language
        self.user_id: int | None = None
        self._session: str | None = None
        self.context: dict[str, Any] = {}
        self._ids = 0

    # -- transport -------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The database's JSON-RPC address."""
        return f"{self.url}/{urllib.parse.quote(self.database, safe='')}/rpc/"

    def _post(self, method: str, params: list[Any], *, auth: bool) -> Any:
        self._ids += 1
        request = urllib.request.Request(
            self.endpoint,
            data=encode({"id": self._ids, "method": method, "params": params}),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        if auth and self._session is not None:
            token = f"{self.username}:{self.user_id}:{self._session}".encode()
            request.add_header("Authorization", "Session " + base64.b64encode(token).decode())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(method, exc.code) from exc
        except TimeoutError as exc:
            raise ConnectorError(
                f"Tryton at {self.url} did not answer {method} within {self.timeout:g} s",
                retryable=True,
            ) from exc
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise ConnectorError(
                    f"Tryton at {self.url} did not answer {method} within {self.timeout:g} s",
                    retryable=True,
                ) from exc
            raise ConnectorError(
                f"Tryton at {self.url} is unreachable: {reason}", retryable=True
            ) from exc
        try:
            answer = decode(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConnectorError(
                f"Tryton at {self.url} sent an answer that is not JSON", retryable=True
            ) from exc
        if not isinstance(answer, dict):
            raise ConnectorError(f"Tryton sent an unexpected answer to {method}", retryable=True)
        if answer.get("error") is not None:
            raise _server_error(method, answer["error"])
        return answer.get("result")

    def _http_error(self, method: str, status: int) -> ConnectorError:
        if status == 401:
            return ConnectorError(
                f"Tryton rejected the user {self.username!r} (wrong user name or password)",
                retryable=False,
            )
        if status == 403:
            return ConnectorError(f"Tryton forbids {method} to {self.username!r}", retryable=False)
        if status == 404:
            return ConnectorError(
                f"Tryton at {self.url} has no database {self.database!r}", retryable=False
            )
        if status == 429:
            return ConnectorError("Tryton asks to slow down (too many requests)", retryable=True)
        retryable = status >= 500
        return ConnectorError(f"Tryton answered HTTP {status} to {method}", retryable=retryable)

    # -- session ---------------------------------------------------------------------------

    def login(self) -> None:
        """Open a session and load the user's context (company, language, ...)."""
        self._session = self.user_id = None
        result = self._post(
            "common.db.login",
            [self.username, {"password": self.password}, self.language],
            auth=False,
        )
        if not isinstance(result, list) or len(result) < 2:
            raise ConnectorError("Tryton sent an unexpected login answer", retryable=False)
        self.user_id, self._session = int(result[0]), str(result[1])
        self.context = self._post("model.res.user.get_preferences", [True, {}], auth=True) or {}

    @property
    def session(self) -> tuple[int, str, dict[str, Any]] | None:
        """``(user id, session key, context)`` of the open session, or ``None``."""
        if self._session is None or self.user_id is None:
            return None
        return self.user_id, self._session, dict(self.context)

    def resume(self, session: tuple[int, str, dict[str, Any]]) -> None:
        """Use a session opened earlier (by another client with the same credentials).

        An expired one costs nothing: the first call that Tryton refuses logs in again.
        """
        self.user_id, self._session, context = session
        self.context = dict(context)

    def logout(self) -> None:
        """Close the session (errors are ignored: the session expires anyway)."""
        if self._session is None:
            return
        with contextlib.suppress(ConnectorError):
            self._post("common.db.logout", [], auth=True)
        self._session = None

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` with ``params`` as they are; log in first, and again once on 401."""
        if self._session is None:
            self.login()
        try:
            return self._post(method, list(params), auth=True)
        except ConnectorError as exc:
            if exc.__cause__ is None or getattr(exc.__cause__, "code", None) != 401:
                raise
        self.login()
        return self._post(method, list(params), auth=True)

    # -- models ----------------------------------------------------------------------------

    def execute(
        self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None
    ) -> Any:
        """Call ``model.<model>.<method>(*args, context)`` with the user's context merged in."""
        if self._session is None:
            self.login()
        merged = {**self.context, **(context or {})}
        return self.call(f"model.{model}.{method}", *args, merged)

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: list[tuple[str, str]] | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Records of ``model`` matching ``domain``, as dicts with ``id`` and ``fields``."""
        order_arg = [list(item) for item in order] if order else None
        return self.execute(
            model, "search_read", domain, offset, limit, order_arg, fields, context=context
        )

    def read(
        self,
        model: str,
        ids: list[int],
        fields: list[str],
        *,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """``fields`` of the records ``ids``, in the order of ``ids``."""
        if not ids:
            return []
        return self.execute(model, "read", list(ids), fields, context=context)

    def create(
        self, model: str, values: list[dict[str, Any]], *, context: dict[str, Any] | None = None
    ) -> list[int]:
        """Create one record per dict of ``values``; their ids."""
        return [int(i) for i in self.execute(model, "create", values, context=context)]

    def write(
        self,
        model: str,
        ids: list[int],
        values: dict[str, Any],
        *,
        context: dict[str, Any] | None = None,
    ) -> None:
        """Write ``values`` on the records ``ids``."""
        if ids:
            self.execute(model, "write", list(ids), values, context=context)

    def button(
        self, model: str, name: str, ids: list[int], *, context: dict[str, Any] | None = None
    ) -> Any:
        """Press the workflow button ``name`` (``quote``, ``draft``, ``post`` ...) on ``ids``."""
        return self.execute(model, name, list(ids), context=context)
