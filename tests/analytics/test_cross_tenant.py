"""A report never counts another tenant's rows, and another tenant's saved reports,
dashboards, runs and files answer 404 (on SQLite the ORM's tenant filter alone keeps them
apart; on PostgreSQL row-level security as well)."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant
from helpers_analytics import analytics_tenant, run_as, seed
from helpers_sfa import signed_in
from sqlalchemy import select

from crm_platform.sdk import Account
from plugins.analytics.engine import Definition
from plugins.analytics.models import Dashboard, ReportFile, ReportRun, SavedReport


def test_reports_never_count_another_tenants_rows(app: Any, acme: Any) -> None:
    other = analytics_tenant(app, "globex", "owner@globex.example")
    seed(app, acme)
    seed(app, other)
    seed(app, other)
    with in_tenant(app, other) as session:
        session.add(Account(name="Only Globex", industry="secret-industry", region="Mars"))
        session.commit()
    for defn in (
        Definition(source="deals", aggregates=[("sum", "amount"), ("count", "")]),
        Definition(source="deals", groups=["account_region"], aggregates=[("count", "")]),
        Definition(source="accounts", groups=["industry"]),
        Definition(source="deals", groups=["owner_team"]),
    ):
        mine = run_as(app, acme, "owner@acme.example", defn)
        theirs = run_as(app, other, "owner@globex.example", defn)
        labels = {tuple(r.labels) for r in mine.rows}
        assert ("secret-industry",) not in labels and ("Mars",) not in labels
        if not defn.groups:
            assert mine.rows[0].values == [8200.0, 5.0]
            assert theirs.rows[0].values == [16400.0, 10.0]
    accounts = run_as(app, acme, "owner@acme.example", Definition(source="accounts"))
    assert accounts.rows[0].values == [2.0]


def test_another_tenants_reports_and_dashboards_answer_404(app: Any, acme: Any) -> None:
    other = analytics_tenant(app, "globex", "owner@globex.example")
    with in_tenant(app, other) as session:
        from crm_platform.sdk import User

        owner_id = session.scalars(
            select(User.id).where(User.email == "owner@globex.example")
        ).one()
        report = SavedReport(
            name="Globex secret report",
            owner_id=owner_id,
            sharing="workspace",
            definition=Definition(source="accounts").to_dict(),
        )
        board = Dashboard(name="Globex board", owner_id=owner_id)
        session.add_all([report, board])
        session.flush()
        run = ReportRun(owner_id=owner_id, definition=report.definition, status="done")
        stored = ReportFile(
            report_id=report.id, filename="x.csv", mimetype="text/csv", content=b"x"
        )
        session.add_all([run, stored])
        session.commit()
        ids = {"report": report.id, "board": board.id, "run": run.id, "file": stored.id}
    client = signed_in(app, "owner@acme.example")
    base = "/t/acme/analytics"
    for url in (
        f"{base}/reports/{ids['report']}",
        f"{base}/reports/{ids['report']}/export/csv",
        f"{base}/dashboards/{ids['board']}",
        f"{base}/runs/{ids['run']}",
        f"{base}/files/{ids['file']}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Globex" not in response.text
    assert "Globex secret report" not in client.get(f"{base}/").text
