"""The tenant audit log: the page (newest first, filter, pages) and append-only storage."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_web import events, hrefs
from sqlalchemy import delete, select, update

from crm_platform import audit
from crm_platform.audit import AuditEvent, AuditLogIsAppendOnly

ROW_RE = re.compile(
    r"<tr><td>[^<]*</td><td><code>([^<]+)</code></td><td>([^<]*)</td><td>([^<]*)</td>"
)


@pytest.fixture
def acme(factory: Any) -> Any:
    tenant = factory.tenant("acme", owner_email="owner@acme.example")
    factory.member(tenant, "admin@acme.example", "admin")
    return tenant


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    client = app.test_client()
    assert login(client, "owner@acme.example").status_code == 302
    return client


def rows(page_html: str) -> list[tuple[str, str, str]]:
    """(action, actor, target) of each row of the audit table, top to bottom."""
    return [tuple(html.unescape(c) for c in m) for m in ROW_RE.findall(page_html)]


def older_link(page_html: str) -> str | None:
    links = [h for h in hrefs(page_html) if "before=" in h]
    return links[0] if links else None


def record_many(app: Any, tenant: Any, count: int, action: str = "test.event") -> None:
    """``count`` events in one transaction, as fast as they come (same millisecond)."""
    with in_tenant(app, tenant) as session:
        for i in range(count):
            audit.record(action, target=f"t{i:03d}", actor_label="tests")
        session.commit()


def test_audit_page_lists_events_newest_first(app: Any, owner: Any, acme: Any) -> None:
    record_many(app, acme, 20)
    page = owner.get("/t/acme/audit")
    assert page.status_code == 200
    shown = rows(page.text)
    targets = [target for action, _, target in shown if action == "test.event"]
    assert targets == [f"t{i:03d}" for i in reversed(range(20))]
    # Older events come after newer ones: the tenant's creation is at the bottom.
    actions = [action for action, _, _ in shown]
    assert actions[-1] == "tenant.created"
    assert actions.index("auth.login") < actions.index("tenant.created")
    assert older_link(page.text) is None


def test_audit_page_filter_by_action(app: Any, owner: Any, acme: Any) -> None:
    record_many(app, acme, 3, "test.alpha")
    record_many(app, acme, 2, "test.beta")
    page = owner.get("/t/acme/audit?action=test.beta")
    assert page.status_code == 200
    assert rows(page.text) == [("test.beta", "tests", "t001"), ("test.beta", "tests", "t000")]
    # The filter offers every action of this tenant, with the chosen one selected.
    assert "<option selected>test.beta</option>" in page.text
    for action in ("test.alpha", "tenant.created", "auth.login"):
        assert f"<option>{action}</option>" in page.text
    assert rows(owner.get("/t/acme/audit?action=no.such").text) == []
    assert "No events." in owner.get("/t/acme/audit?action=no.such").text


def test_audit_page_paginates_with_a_cursor(app: Any, owner: Any, acme: Any) -> None:
    record_many(app, acme, 60)
    expected = [e.target or "" for e in reversed(events(app, acme))]
    assert len(expected) == 62  # tenant.created, auth.login of the owner, 60 test events

    first = owner.get("/t/acme/audit")
    page1 = [target for _, _, target in rows(first.text)]
    assert len(page1) == 50
    link = older_link(first.text)
    assert link is not None and link.startswith("/t/acme/audit?before=")

    second = owner.get(link)
    assert second.status_code == 200
    page2 = [target for _, _, target in rows(second.text)]
    assert page1 + page2 == expected  # no gap, no repeat, newest first throughout
    assert older_link(second.text) is None


def test_audit_pagination_keeps_the_filter(app: Any, owner: Any, acme: Any) -> None:
    record_many(app, acme, 55, "test.many")
    record_many(app, acme, 5, "test.other")
    first = owner.get("/t/acme/audit?action=test.many")
    assert len(rows(first.text)) == 50
    link = older_link(first.text)
    assert link is not None and "action=test.many" in link
    second = rows(owner.get(link).text)
    assert [target for _, _, target in second] == [f"t{i:03d}" for i in reversed(range(5))]
    assert {action for action, _, _ in second} == {"test.many"}


@pytest.mark.parametrize("cursor", ["garbage", "1", "'; drop table audit_events; --", "%00"])
def test_audit_bad_cursor_is_400(app: Any, owner: Any, cursor: str) -> None:
    page = owner.get("/t/acme/audit", query_string={"before": cursor})
    assert page.status_code == 400
    assert "Bad page cursor." in page.text


def test_audit_page_shows_only_this_tenants_events(app: Any, factory: Any, owner: Any) -> None:
    other = factory.tenant("bravo", owner_email="owner@bravo.example")
    record_many(app, other, 3, "bravo.secret")
    page = owner.get("/t/acme/audit")
    assert "bravo.secret" not in page.text and "owner@bravo.example" not in page.text


def test_audit_events_cannot_be_changed_through_the_orm(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "tenant.created"))
        event.action = "tenant.nothing_happened"
        with pytest.raises(AuditLogIsAppendOnly):
            session.flush()
        session.rollback()
    assert [e.action for e in events(app, acme)] == ["tenant.created"]


def test_audit_events_cannot_be_deleted_through_the_orm(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        event = session.scalar(select(AuditEvent))
        session.delete(event)
        with pytest.raises(AuditLogIsAppendOnly):
            session.commit()
        session.rollback()
    assert [e.action for e in events(app, acme)] == ["tenant.created"]


def test_new_audit_events_can_be_added(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        audit.record("test.added", target="x", details={"k": 1})
        session.commit()
    added = events(app, acme, "test.added")
    assert len(added) == 1 and added[0].details == {"k": 1}


@pytest.mark.postgres
@pytest.mark.parametrize("statement", ["update", "delete"])
def test_database_refuses_bulk_changes_to_audit_events(app: Any, acme: Any, statement: str) -> None:
    """Bulk statements skip the ORM guard; the app role's missing privileges stop them."""
    from sqlalchemy.exc import ProgrammingError

    with in_tenant(app, acme) as session:
        stmt = (
            update(AuditEvent).values(action="rewritten")
            if statement == "update"
            else delete(AuditEvent)
        )
        with pytest.raises(ProgrammingError, match="permission denied"):
            session.execute(stmt)
        session.rollback()
    assert [e.action for e in events(app, acme)] == ["tenant.created"]
