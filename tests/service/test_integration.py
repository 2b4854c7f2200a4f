"""How the module fits the rest of the CRM: webhook subscriptions to its events, merged
customers, the PostgreSQL full-text index, and the demo workspace."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import post_form
from sqlalchemy import create_engine, select, text

from crm_platform.records.merge import merge_records
from crm_platform.sdk import Contact
from crm_platform.tenancy import provider_scope
from plugins.service import kb
from plugins.service.models import Article, Call, Ticket

from .helpers import open_ticket


def test_webhooks_can_subscribe_to_service_events(app: Any, owner: Any, acme: Any) -> None:
    page = owner.get("/t/acme/settings/webhooks/new").text
    for name in ("ticket.created", "ticket.solved", "sla.breached"):
        assert f'value="{name}"' in page, name
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    response = post_form(
        owner,
        "/t/acme/settings/webhooks/new",
        {
            "url": "http://127.0.0.1:9/hook",
            "events": ["ticket.created", "sla.breached"],
            "active": "y",
        },
    )
    assert response.status_code in (302, 303), response.text
    from crm_platform.webhooks.models import Webhook, WebhookDelivery

    open_ticket(app, acme)
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Webhook)).one().events == ["ticket.created", "sla.breached"]
        deliveries = session.scalars(select(WebhookDelivery)).all()
        assert [d.event for d in deliveries] == ["ticket.created"]


def test_tickets_and_calls_follow_merged_contacts(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        keep = Contact(first_name="Carol", email="carol@customer.example")
        twin = Contact(first_name="Carol", email="carol2@customer.example", phone="+861055501")
        session.add_all([keep, twin])
        session.commit()
        keep_id, twin_id = keep.id, twin.id
    open_ticket(app, acme, contact_id=str(twin_id))
    with in_tenant(app, acme) as session:
        from plugins.service import calls

        calls.log_call({"number": "+861055501", "contact_id": str(twin_id)})
        session.commit()
        survivor = session.get(Contact, (acme.id, keep_id))
        other = session.get(Contact, (acme.id, twin_id))
        merge_records(survivor, other, {"email": "survivor", "phone": "other"})
        session.commit()
        assert session.scalars(select(Ticket)).one().contact_id == keep_id
        assert session.scalars(select(Call)).one().contact_id == keep_id


@pytest.mark.postgres
def test_article_search_expression_is_the_indexed_one(app: Any, acme: Any) -> None:
    """The query's ``to_tsvector`` is the GIN index's expression, so PostgreSQL can answer it
    from the index (shown on the provider role, which row-level security does not bind: for
    the app role RLS evaluates its tenant check before the non-leakproof ``@@``)."""
    with in_tenant(app, acme) as session:
        for n in range(400):
            word = "zebra" if n == 7 else "router"
            session.add(
                Article(
                    title=f"Article {n}", body=f"{word} number {n}", status="published", version=1
                )
            )
        session.commit()
        assert [a.title for a in kb.search("zebra")] == ["Article 7"]
        query = select(Article.id).where(
            kb.document().op("@@")(kb.func.websearch_to_tsquery(kb.TS_CONFIG, "zebra"))
        )
        compiled = str(
            query.compile(
                dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
            )
        )
    owner = create_engine(app.config["MIGRATION_DATABASE_URL"])  # the table owner
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("analyze service_kb_articles"))
    owner.dispose()
    with app.app_context(), provider_scope("explain article search", "tests") as session:
        session.execute(text("set local enable_seqscan = off"))
        plan = "\n".join(r[0] for r in session.execute(text(f"explain {compiled}")))
    assert "ix_service_kb_articles_fts" in plan, plan


def test_the_demo_workspace_has_a_service_desk(app: Any) -> None:
    from crm_platform.demo import create_demo
    from crm_platform.extensions import db
    from crm_platform.identity import Tenant

    with app.app_context():
        assert create_demo(
            slug="demo", email="owner@demo.example", password="demo-crm-2026", accounts=6
        )
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "demo")).one()
    with in_tenant(app, tenant) as session:
        statuses = {t.status for t in session.scalars(select(Ticket)).unique()}
        assert {"pending", "solved"} <= statuses
        assert session.scalars(select(Article)).all()
