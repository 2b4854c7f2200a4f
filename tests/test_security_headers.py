"""Security headers on every response: a CSP with no inline scripts and no framing, nosniff,
a same-origin referrer policy, HSTS over HTTPS; an embeddable view may be framed."""

from __future__ import annotations

import re
from typing import Any

from conftest import login


def test_pages_carry_the_security_headers(app: Any, client: Any, factory: Any) -> None:
    acme = factory.tenant("acme", owner_email="owner@acme.example")
    page = client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in page.headers  # plain HTTP
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    login(client, acme.owner_email)
    home = client.get(f"/t/{acme.slug}/")
    assert (
        home.status_code == 200
        and "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]
    )
    api = client.get("/api/v1/openapi.json")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_no_page_has_an_inline_script(app: Any, client: Any, factory: Any) -> None:
    """The CSP forbids inline scripts: the pages must not need any."""
    acme = factory.tenant("acme", owner_email="owner@acme.example")
    login(client, acme.owner_email)
    for path in ("/", f"/t/{acme.slug}/", f"/t/{acme.slug}/accounts", f"/t/{acme.slug}/settings"):
        html = client.get(path, follow_redirects=True).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son(click|submit|change|load)=", html), path


def test_an_embeddable_view_may_be_framed(app: Any) -> None:
    from crm_platform.sdk import embeddable

    @embeddable
    def widget() -> str:
        return "<p>embed me</p>"

    app.add_url_rule("/embed-test", "embed_test", widget)
    page = app.test_client().get("/embed-test")
    assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
