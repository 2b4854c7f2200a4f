"""A live HTTP server for browser tests: the test app in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serving(app: Flask, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host``; yield the base URL, shut down on exit.

    The app's ``BASE_URL`` is pointed at the server, so links in mail (sign-up confirmation,
    invitations) lead back to it, as they would in production.
    """
    server = make_server(host, 0, app, threaded=True)
    url = f"http://{host}:{server.server_port}"
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
