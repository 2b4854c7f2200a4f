"""Sample saved reports and a dashboard for the demo workspace (``crm demo``)."""

from __future__ import annotations

from typing import Any

from crm_platform.sdk import db

from .builtin import BY_KEY
from .engine import Definition
from .models import Dashboard, DashboardWidget, SavedReport


def create_demo_data(members: list[Any]) -> None:
    """The owner's dashboard: a saved report of accounts by industry, a shared one of deals
    by stage (when Sales is there), and the pipeline funnel."""
    owner = members[0]
    by_industry = SavedReport(
        name="Accounts by industry and lifecycle",
        owner_id=owner.user_id,
        sharing="workspace",
        definition=Definition(
            source="accounts", groups=["industry", "lifecycle_stage"], chart="bar"
        ).to_dict(),
        schedule="weekly",
        schedule_format="xlsx",
    )
    by_owner = SavedReport(
        name="Won deals by owner",
        owner_id=owner.user_id,
        sharing="workspace",
        definition=BY_KEY["sales-by-owner"].definition.to_dict(),
    )
    db.session.add_all([by_industry, by_owner])
    db.session.flush()
    board = Dashboard(name="My dashboard", owner_id=owner.user_id)
    db.session.add(board)
    db.session.flush()
    db.session.add_all(
        [
            DashboardWidget(dashboard_id=board.id, report_id=by_owner.id, position=1),
            DashboardWidget(dashboard_id=board.id, builtin="funnel", position=2),
            DashboardWidget(
                dashboard_id=board.id, report_id=by_industry.id, position=3, size="full"
            ),
        ]
    )
    db.session.flush()  # inside the demo's tenant context
