"""Helpers of the Analytics tests: a tenant with Sales and Analytics on, accounts and deals
with known amounts, and running a report definition as a member."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from conftest import in_tenant
from helpers_sfa import enable, sales_tenant, stages
from sqlalchemy import select, update

from crm_platform.customers import Account
from crm_platform.identity import Membership, User
from plugins.analytics.engine import Definition, run
from plugins.sfa.deals import create_deal
from plugins.sfa.models import Deal


def analytics_tenant(app: Any, slug: str, owner_email: str) -> Any:
    """A tenant with Sales and Analytics on."""
    tenant = sales_tenant(app, slug, owner_email)
    enable(app, tenant, "analytics")
    return tenant


def seed(app: Any, tenant: Any, *, owner_email: str | None = None) -> dict[str, Any]:
    """Two accounts (banking/North, retail/South) and five deals: three won (1000, 2000 in
    2026-01, 4000 in 2026-02), one lost (500, reason "price", competitor "Globex"), one open
    (700). Returns the stage ids."""
    st = stages(app, tenant)
    with in_tenant(app, tenant) as session:
        owner = None
        if owner_email:
            owner = session.scalars(select(User).where(User.email == owner_email)).one().id
        bank = Account(name="Bank", industry="banking", region="North", size="51-200")
        shop = Account(name="Shop", industry="retail", region="South", size="1-10")
        session.add_all([bank, shop])
        session.flush()
        rows = [
            ("Won A", bank, "1000", st.won, datetime(2026, 1, 10, tzinfo=UTC), None, []),
            ("Won B", shop, "2000", st.won, datetime(2026, 1, 20, tzinfo=UTC), None, []),
            ("Won C", bank, "4000", st.won, datetime(2026, 2, 5, tzinfo=UTC), None, []),
            ("Lost D", shop, "500", st.lost, datetime(2026, 2, 7, tzinfo=UTC), "price", ["Globex"]),
            ("Open E", bank, "700", None, None, None, []),
        ]
        for name, account, amount, stage, closed, reason, competitors in rows:
            values = {"name": name, "account_id": str(account.id), "amount": amount}
            if owner:
                values["owner_id"] = str(owner)
            deal = create_deal(values)
            session.flush()
            changes: dict[str, Any] = {"competitors": competitors}
            if stage:
                status = "won" if stage == st.won else "lost"
                changes.update(
                    stage_id=uuid.UUID(stage), status=status, closed_at=closed, close_reason=reason
                )
            session.execute(
                update(Deal)
                .where(Deal.id == deal.id)
                .values(**changes)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    return {"stages": st}


def run_as(app: Any, tenant: Any, email: str, defn: Definition) -> Any:
    """Run ``defn`` in ``tenant`` as the member ``email``: the result."""
    with in_tenant(app, tenant) as session:
        member = session.scalars(
            select(Membership).join(User, User.id == Membership.user_id).where(User.email == email)
        ).one()
        return run(defn, member)


def amounts(result: Any) -> dict[tuple[str, ...], float | None]:
    """A result as ``{group labels: first value}``."""
    return {tuple(r.labels): r.values[0] for r in result.rows}


def dec(value: str) -> Decimal:
    return Decimal(value)
