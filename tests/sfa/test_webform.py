"""The public web-to-lead form: a submission becomes a lead; bots (honeypot, too quick, no or
a forged token) and floods (rate limit) are turned away; off or wrong key → 404."""

from __future__ import annotations

import re
import time
from typing import Any

from conftest import in_tenant
from helpers_web import post_form
from sqlalchemy import select

from plugins.sfa.models import Lead
from plugins.sfa.settings import sales_settings
from plugins.sfa.webform import form_token


def _key(app: Any, tenant: Any) -> str:
    with in_tenant(app, tenant):
        return sales_settings().webform_key


def _old_token(app: Any, tenant: Any, seconds: float = 30) -> str:
    """A token as if the form had been shown ``seconds`` ago."""
    key = _key(app, tenant)
    with app.test_request_context():
        return form_token(key, now=time.time() - seconds)


def _leads(app: Any, tenant: Any) -> list[Any]:
    with in_tenant(app, tenant) as session:
        return [(r.name, r.email, r.captured_via, r.source) for r in session.scalars(select(Lead))]


FORM = {
    "name": "Visitor Vic",
    "company": "Vic Ltd",
    "email": "vic@vic.example",
    "message": "Call me about pricing",
}


def test_a_visitor_sends_the_form_and_a_lead_appears(app: Any, acme: Any) -> None:
    url = f"/t/acme/sales/web-to-lead/{_key(app, acme)}"
    visitor = app.test_client()  # signed out, no session, no CSRF token: another site's page
    page = visitor.get(url)
    assert page.status_code == 200 and 'name="token"' in page.text and 'name="website"' in page.text
    assert "base.html" not in page.text and "Sign in" not in page.text
    sent = visitor.post(url, data={**FORM, "token": _old_token(app, acme)})
    assert sent.status_code == 200 and "Thank you" in sent.text
    assert _leads(app, acme) == [("Visitor Vic", "vic@vic.example", "web", "Website")]


def test_the_honeypot_looks_like_success_but_stores_nothing(app: Any, acme: Any) -> None:
    url = f"/t/acme/sales/web-to-lead/{_key(app, acme)}"
    bot = app.test_client()
    sent = bot.post(
        url, data={**FORM, "website": "http://spam.example", "token": _old_token(app, acme)}
    )
    assert sent.status_code == 200 and "Thank you" in sent.text
    assert _leads(app, acme) == []


def test_too_quick_or_missing_or_forged_tokens_are_refused(app: Any, acme: Any) -> None:
    url = f"/t/acme/sales/web-to-lead/{_key(app, acme)}"
    visitor = app.test_client()
    fresh = re.search(r'name="token" value="([^"]+)"', visitor.get(url).text).group(1)
    quick = visitor.post(url, data={**FORM, "token": fresh})  # sent at once: a bot
    assert quick.status_code == 400 and "That was very quick" in quick.text
    assert 'value="Visitor Vic"' in quick.text  # what was typed is kept
    missing = visitor.post(url, data=FORM)
    assert missing.status_code == 400 and "This form has expired" in missing.text
    forged = visitor.post(url, data={**FORM, "token": fresh[:-3] + "abc"})
    assert forged.status_code == 400
    other_key = visitor.post(url, data={**FORM, "token": _other_tenant_token(app)})
    assert other_key.status_code == 400
    assert _leads(app, acme) == []


def _other_tenant_token(app: Any) -> str:
    with app.test_request_context():
        return form_token("someone-elses-key", now=time.time() - 60)


def test_bad_details_are_shown_and_nothing_stored(app: Any, acme: Any) -> None:
    url = f"/t/acme/sales/web-to-lead/{_key(app, acme)}"
    visitor = app.test_client()
    bad = visitor.post(url, data={"name": "", "email": "nope", "token": _old_token(app, acme)})
    assert bad.status_code == 400
    assert "This field is required." in bad.text
    none = visitor.post(url, data={"name": "Quiet", "token": _old_token(app, acme)})
    assert none.status_code == 400 and "Give an e-mail address or a phone number." in none.text
    assert _leads(app, acme) == []


def test_too_many_submissions_from_one_visitor_answer_429(app: Any, acme: Any) -> None:
    app.config["SFA_WEBFORM_RATELIMIT"] = "3 per minute"
    url = f"/t/acme/sales/web-to-lead/{_key(app, acme)}"
    visitor = app.test_client()
    for i in range(3):
        data = {**FORM, "email": f"v{i}@vic.example", "token": _old_token(app, acme)}
        assert visitor.post(url, data=data).status_code == 200
    flood = visitor.post(url, data={**FORM, "token": _old_token(app, acme)})
    assert flood.status_code == 429 and "Retry-After" in flood.headers
    assert "Too many messages" in flood.text
    assert len(_leads(app, acme)) == 3


def test_wrong_key_disabled_form_or_module_off_answer_404(app: Any, owner: Any, acme: Any) -> None:
    visitor = app.test_client()
    key = _key(app, acme)
    assert visitor.get("/t/acme/sales/web-to-lead/guessing").status_code == 404
    settings = "/t/acme/sales/settings"
    page = owner.get(settings).text
    assert f"/t/acme/sales/web-to-lead/{key}" in page and "&lt;iframe" in page  # the snippet
    post_form(owner, settings, {"currency": "USD", "pool_days": "14", "lead_sources": "Website"})
    assert visitor.get(f"/t/acme/sales/web-to-lead/{key}").status_code == 404  # switched off
    post_form(
        owner,
        settings,
        {"currency": "USD", "pool_days": "14", "lead_sources": "Website", "webform_enabled": "y"},
    )
    assert visitor.get(f"/t/acme/sales/web-to-lead/{key}").status_code == 200
    rotated = post_form(owner, "/t/acme/sales/settings/webform/rotate", page=settings)
    assert rotated.status_code == 303
    assert visitor.get(f"/t/acme/sales/web-to-lead/{key}").status_code == 404  # old address
    new_key = _key(app, acme)
    assert new_key != key
    modules = "/t/acme/settings/modules"
    assert post_form(owner, modules + "/sfa/disable", page=modules).status_code == 302
    assert visitor.get(f"/t/acme/sales/web-to-lead/{new_key}").status_code == 404
