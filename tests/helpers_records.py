"""Helpers of the customer database tests: a recording test plugin, records, page parsing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pluggy
from conftest import in_tenant
from sqlalchemy import select

from crm_platform import create_app
from crm_platform.customers import RECORD_MODELS
from crm_platform.extensions import db
from crm_platform.plugin_types import Panel, SearchResult, TimelineEntry, Widget
from crm_platform.records.custom_fields import CustomField
from crm_platform.records.service import create_record

hookimpl = pluggy.HookimplMarker("crm")


class Recorder:
    """A test plugin: records domain events and contributes to every record hook."""

    crm_plugin_name = "test-recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, uuid.UUID | None, dict[str, Any]]] = []

    def names(self) -> list[str]:
        return [name for name, _, _ in self.events]

    def of(self, name: str) -> list[tuple[uuid.UUID | None, dict[str, Any]]]:
        return [(rid, data) for n, rid, data in self.events if n == name]

    @hookimpl
    def crm_event(self, event: Any) -> None:
        self.events.append((event.name, event.record_id, dict(event.data)))

    @hookimpl
    def crm_record_panels(self, record: Any, kind: str, membership: Any) -> list[Panel]:
        return [
            Panel(title="Test panel", html=f"<p class='tp'>panel of {kind} {record.id}</p>"),
            Panel(title="Lazy panel", url="/lazy/panel", key="lazy", order=200),
        ]

    @hookimpl
    def crm_timeline_entries(self, record: Any, kind: str) -> list[TimelineEntry]:
        return [
            TimelineEntry(at=datetime(2999, 1, 1, tzinfo=UTC), title="Future plugin entry"),
            TimelineEntry(at=datetime(2000, 1, 1), title="Old plugin entry"),  # naive
        ]

    @hookimpl
    def crm_dashboard_widgets(self, membership: Any) -> list[Widget]:
        return [Widget(title="Test widget", html="<p>widget body</p>")]

    @hookimpl
    def crm_search(self, query: str, membership: Any, limit: int) -> list[SearchResult]:
        return [SearchResult(title=f"Deal about {query}", url="/t/x/deals/1", kind="deal")]


def app_with(app_config: dict[str, Any], *plugins: Any) -> Any:
    """An app built with extra test ``plugins`` (on the database the ``app`` fixture wiped)."""
    return create_app(app_config, plugins=list(plugins))


def dispose(app: Any) -> None:
    with app.app_context():
        db.engine.dispose()


def add(app: Any, tenant: Any, kind: str, **values: Any) -> str:
    """Create a record through the service (events fire); its id as a string."""
    with in_tenant(app, tenant) as session:
        record = create_record(kind, values)
        session.commit()
        return str(record.id)


def add_field(app: Any, tenant: Any, entity: str, key: str, type_: str, **kw: Any) -> None:
    """Define a custom field directly."""
    with in_tenant(app, tenant) as session:
        session.add(
            CustomField(
                entity=entity,
                key=key,
                label=kw.pop("label", key.title()),
                type=type_,
                choices=kw.pop("choices", []),
                position=kw.pop("position", 1),
                **kw,
            )
        )
        session.commit()


def record(app: Any, tenant: Any, kind: str, record_id: str) -> Any:
    """A detached snapshot (dict of column values) of one record, deleted or not."""
    model = RECORD_MODELS[kind]
    with in_tenant(app, tenant) as session:
        row = session.execute(select(model).where(model.id == uuid.UUID(record_id))).unique()
        obj = row.scalar_one()
        return {c.key: getattr(obj, c.key) for c in model.__table__.columns}


def user_id(app: Any, email: str) -> str:
    from crm_platform.provisioning import find_user

    with app.app_context():
        return str(find_user(email).id)


LINK_RE = re.compile(r'href="/t/[a-z0-9-]+/(accounts|contacts)/([0-9a-f-]{36})"')


def listed(page_html: str, kind: str = "accounts") -> list[str]:
    """Ids of the records a list page links to, in order (each once)."""
    ids: list[str] = []
    for found_kind, rid in LINK_RE.findall(page_html):
        if found_kind == kind and rid not in ids:
            ids.append(rid)
    return ids
