"""The Hello plugin, installed only through its entry point, for a tenant that switched it on.

Tenant "on" switches Hello on through the Modules page; tenant "off" never does and must see
no trace of it: no page, no navigation, no panel, no hooks run for its records.
"""

from __future__ import annotations

from typing import Any

import pytest
from crm_hello.models import Greeting
from crm_hello.plugin import WELCOME
from sqlalchemy import select

from crm_platform.sdk import Contact
from crm_platform.testing import in_tenant, login, post_with_csrf, run_jobs


@pytest.fixture
def world(app: Any, factory: Any, client: Any) -> dict[str, Any]:
    on = factory.tenant("hello-on", owner_email="owner@on.example")
    off = factory.tenant("hello-off", owner_email="owner@off.example")
    login(client, "owner@on.example")
    page = "/t/hello-on/settings/modules"
    response = post_with_csrf(client, page, page + "/hello/enable")
    assert response.status_code == 302
    return {"on": on, "off": off}


def _add_contact(app: Any, tenant: Any, email: str) -> str:
    from crm_platform.sdk import emit_event

    with in_tenant(app, tenant) as session:
        contact = Contact(first_name="Grace", last_name="Hopper", email=email)
        session.add(contact)
        session.flush()
        emit_event("contact.created", record_id=contact.id)
        session.commit()
        return str(contact.id)


def test_switching_on_runs_onboarding_and_shows_the_page(app: Any, client: Any, world) -> None:
    page = client.get("/t/hello-on/hello/")
    assert page.status_code == 200
    assert "Greetings" in page.text
    home = client.get("/t/hello-on/").text
    assert 'href="/t/hello-on/hello/"' in home
    with in_tenant(app, world["on"]) as session:
        templates = session.scalars(select(Greeting).where(Greeting.status == "template")).all()
        assert [t.message for t in templates] == [WELCOME]


def test_tenant_with_module_off_sees_nothing(app: Any, client: Any, world) -> None:
    client.post("/logout")
    login(client, "owner@off.example")
    assert client.get("/t/hello-off/hello/").status_code == 404
    home = client.get("/t/hello-off/").text
    assert "/hello/" not in home
    contact_id = _add_contact(app, world["off"], "ada@off.example")
    page = client.get(f"/t/hello-off/contacts/{contact_id}").text
    assert "Send greeting" not in page
    with in_tenant(app, world["off"]) as session:
        assert session.scalars(select(Greeting)).all() == []  # no hook ran for this tenant


def test_hook_crm_record_panels(app: Any, client: Any, world) -> None:
    contact_id = _add_contact(app, world["on"], "ada@on.example")
    page = client.get(f"/t/hello-on/contacts/{contact_id}").text
    assert "Greetings" in page and "Send greeting" in page
    assert WELCOME in page  # the draft made by crm_event on contact.created


def test_hook_crm_timeline_entries(app: Any, client: Any, world) -> None:
    """Queue a greeting from the panel, run the job: mail sent, timeline line shown."""
    contact_id = _add_contact(app, world["on"], "grace@on.example")
    record = f"/t/hello-on/contacts/{contact_id}"
    page = client.get(record).text
    assert "Send greeting" in page
    response = post_with_csrf(
        client, record, f"/t/hello-on/hello/contacts/{contact_id}/greetings", {"message": "Hi!"}
    )
    assert response.status_code == 302
    jobs = run_jobs(app)
    assert [j.return_value() for j in jobs] == ["sent"]
    outbox = client.get("/outbox").text
    assert "grace@on.example" in outbox
    assert "Greeting sent" in client.get(record).text


def test_empty_greeting_is_refused(app: Any, client: Any, world) -> None:
    contact_id = _add_contact(app, world["on"], "linus@on.example")
    record = f"/t/hello-on/contacts/{contact_id}"
    url = f"/t/hello-on/hello/contacts/{contact_id}/greetings"
    response = post_with_csrf(client, record, url, {"message": "  "})
    assert response.status_code == 302
    assert "Greeting not sent" in client.get(record).text
    with in_tenant(app, world["on"]) as session:
        queued = session.scalars(select(Greeting).where(Greeting.status == "queued")).all()
        assert queued == []


def test_switched_off_keeps_data_and_skips_queued_jobs(app: Any, client: Any, world) -> None:
    contact_id = _add_contact(app, world["on"], "mei@on.example")
    record = f"/t/hello-on/contacts/{contact_id}"
    post_with_csrf(
        client, record, f"/t/hello-on/hello/contacts/{contact_id}/greetings", {"message": "Yo"}
    )
    modules = "/t/hello-on/settings/modules"
    assert post_with_csrf(client, modules, modules + "/hello/disable").status_code == 302
    assert client.get("/t/hello-on/hello/").status_code == 404
    jobs = run_jobs(app)
    assert jobs[0].return_value() == {"skipped": "module hello is off for this tenant"}
    post_with_csrf(client, modules, modules + "/hello/enable")
    with in_tenant(app, world["on"]) as session:
        statuses = sorted(g.status for g in session.scalars(select(Greeting)))
    assert statuses == ["draft", "queued", "template"]  # nothing lost, onboarding not repeated


def test_hook_crm_schedules(app: Any, world) -> None:
    from crm_platform.schedules import enqueue_due_schedules

    queued = enqueue_due_schedules(app, force=True)
    assert queued["hello.send_queued"] == 1
    jobs = [j for j in run_jobs(app) if j.meta["module"] == "hello"]  # other plugins' too
    assert [j.meta["tenant_id"] for j in jobs] == [str(world["on"].id)]
