"""The workspace home: counts, my open tasks, latest records, recent activity, widgets."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from ..audit import AuditEvent
from ..customers import Account, Contact
from ..extensions import db
from ..identity import Membership
from ..plugins import collect
from ..web import tenant_bp
from .activity_service import count_open_tasks, open_tasks
from .forms import ButtonForm
from .pages import membership
from .visibility import live_and_visible

HOME_TASKS = 8


@tenant_bp.get("/")
@login_required
def home() -> Any:
    """The workspace dashboard."""
    m = membership()
    reads = m.can("records.read")
    counts = {"members": db.session.scalar(select(func.count()).select_from(Membership))}
    recent: list[Any] = []
    tasks: list[Any] = []
    if reads:
        for key, model in (("accounts", Account), ("contacts", Contact)):
            stmt = select(func.count()).select_from(model).where(*live_and_visible(model, m))
            counts[key] = db.session.scalar(stmt)
        recent = list(
            db.session.scalars(
                select(Account)
                .where(*live_and_visible(Account, m))
                .order_by(Account.created_at.desc(), Account.id.desc())
                .limit(5)
            ).unique()
        )
        tasks = open_tasks(current_user.id, limit=HOME_TASKS)
        counts["tasks"] = count_open_tasks(current_user.id)
    activity = db.session.scalars(
        select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(5)
    ).all()
    widgets = sorted(collect("crm_dashboard_widgets", membership=m), key=lambda w: w.order)
    return render_template(
        "records/home.html",
        counts=counts,
        recent=recent,
        activity=activity,
        tasks=tasks,
        widgets=widgets,
        reads=reads,
        button_form=ButtonForm(),
    )
