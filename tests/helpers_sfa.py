"""Helpers of the Sales module's tests: a tenant with Sales on, its stages, deals and leads
made through the module's services, and snapshots safe outside an app context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from conftest import in_tenant, login
from sqlalchemy import select

from crm_platform.identity import Tenant
from crm_platform.modules import enable_module
from crm_platform.provisioning import create_tenant, create_user, find_user
from crm_platform.testing import PASSWORD, TenantInfo
from plugins.sfa.deals import create_deal
from plugins.sfa.leads import create_lead
from plugins.sfa.models import Deal, Lead, Pipeline, Stage


def sales_tenant(app: Any, slug: str, owner_email: str, industry: str = "generic") -> TenantInfo:
    """A tenant of ``industry`` with its owner and Sales switched on (its onboarding run)."""
    from crm_platform.extensions import db

    with app.app_context():
        owner = find_user(owner_email) or create_user(owner_email, f"Owner of {slug}", PASSWORD)
        tenant = create_tenant(slug.title(), slug, owner, industry=industry)
        db.session.commit()
        info = TenantInfo(tenant.id, tenant.slug, tenant.name, owner_email)
    enable(app, info)
    return info


def enable(app: Any, tenant: Any, key: str = "sfa") -> None:
    """Switch a module on for ``tenant`` (runs its onboarding)."""
    with in_tenant(app, tenant) as session:
        enable_module(session.get(Tenant, tenant.id), key)
        session.commit()


@dataclass(frozen=True)
class Stages:
    """The stages of a tenant's default pipeline, by name, and the pipeline's id."""

    pipeline: str
    by_name: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.by_name[name]

    @property
    def won(self) -> str:
        return self.by_name["Won"]

    @property
    def lost(self) -> str:
        return self.by_name["Lost"]


def stages(app: Any, tenant: Any, pipeline_name: str | None = None) -> Stages:
    """The stages of the default pipeline (or of the pipeline named ``pipeline_name``)."""
    with in_tenant(app, tenant) as session:
        stmt = select(Pipeline).order_by(Pipeline.is_default.desc())
        if pipeline_name:
            stmt = stmt.where(Pipeline.name == pipeline_name)
        pipeline = session.scalars(stmt).first()
        rows = session.scalars(
            select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
        ).all()
        return Stages(str(pipeline.id), {s.name: str(s.id) for s in rows})


def deal(app: Any, tenant: Any, **values: Any) -> str:
    """A deal made through the service (the id)."""
    values.setdefault("name", "Big deal")
    with in_tenant(app, tenant) as session:
        row = create_deal(values)
        session.commit()
        return str(row.id)


def lead(app: Any, tenant: Any, via: str = "form", **values: Any) -> str:
    """A lead made through the service, assigned by the rules (the id)."""
    values.setdefault("name", "Ada Lovelace")
    with in_tenant(app, tenant) as session:
        row = create_lead(values, via=via)
        session.commit()
        return str(row.id)


@dataclass(frozen=True)
class DealRow:
    """A deal snapshot."""

    id: str
    name: str
    stage: str
    status: str
    amount: Any
    version: int
    close_reason: str | None
    owner_id: uuid.UUID | None


def get_deal(app: Any, tenant: Any, deal_id: str) -> DealRow:
    """A snapshot of one deal."""
    with in_tenant(app, tenant) as session:
        d = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        return DealRow(
            str(d.id),
            d.name,
            d.stage.name,
            d.status,
            d.amount,
            d.version,
            d.close_reason,
            d.owner_id,
        )


def get_lead(app: Any, tenant: Any, lead_id: str) -> dict[str, Any]:
    """A snapshot of one lead's columns."""
    with in_tenant(app, tenant) as session:
        row = session.scalars(select(Lead).where(Lead.id == uuid.UUID(lead_id))).unique().one()
        return {c.key: getattr(row, c.key) for c in Lead.__table__.columns}


def user_uuid(app: Any, email: str) -> uuid.UUID:
    """The id of the user ``email``."""
    with app.app_context():
        return find_user(email).id


def signed_in(app: Any, email: str) -> Any:
    """A test client signed in as ``email``."""
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client
