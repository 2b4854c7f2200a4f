"""The analytics pages through the test client: builder with chart and drill-down, errors,
saved and shared reports, exports, large reports as jobs, scheduled e-mails, dashboards."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import in_tenant
from helpers_analytics import seed
from helpers_web import hrefs, last_mail, post_form
from sqlalchemy import select

from crm_platform.identity import Tenant
from crm_platform.sdk import Membership
from plugins.analytics.jobs import send_scheduled_reports
from plugins.analytics.models import Dashboard, DashboardWidget, SavedReport

BASE = "/t/acme/analytics"
WON_BY_REGION = [
    ("source", "deals"),
    ("group", "account_region"),
    ("agg", "sum:amount"),
    ("f0_field", "status"),
    ("f0_op", "eq"),
    ("f0_value", "won"),
    ("chart", "bar"),
]


def builder_url(pairs: list[tuple[str, str]]) -> str:
    return f"{BASE}/builder?{urlencode(pairs)}"


def chart_links(page: str) -> list[str]:
    """The drill-down links of the chart's bars, dots or slices."""
    return [html.unescape(h) for h in re.findall(r'<a href="([^"]+)" class="chart-link">', page)]


def test_builder_draws_a_chart_whose_bars_drill_down(owner: Any, app: Any, acme: Any) -> None:
    seed(app, acme)
    page = owner.get(builder_url(WON_BY_REGION))
    assert page.status_code == 200
    text = page.text
    assert "<svg" in text and "North" in text and "South" in text
    assert "5,000" in text and "2,000" in text  # the table: won North 1000+4000, South 2000
    links = chart_links(text)
    assert len(links) == 2
    records = owner.get(links[0])  # North, the largest first
    assert records.status_code == 200
    assert "Won A" in records.text and "Won C" in records.text
    assert "Won B" not in records.text and "Open E" not in records.text


def test_drill_down_to_the_modules_own_list(owner: Any, app: Any, acme: Any) -> None:
    seed(app, acme)
    page = owner.get(builder_url([("source", "deals"), ("group", "status"), ("run", "1")]))
    links = chart_links(page.text)
    assert links and all(link.startswith("/t/acme/sales/deals?") for link in links)
    won = next(link for link in links if "status=won" in link)
    assert "Won A" in owner.get(won).text


def test_choosing_a_record_type_starts_a_report(owner: Any, app: Any, acme: Any) -> None:
    page = owner.get(f"{BASE}/builder?source=accounts")
    assert page.status_code == 200
    assert 'name="group"' in page.text and "Run report" in page.text


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("source", "deals"), ("group", "name")], "Name cannot be grouped by."),
        ([("source", "deals"), ("agg", "sum:name")], "cannot be summed"),
        ([("source", "deals"), ("filter", "amount:gt:many")], "Enter a number."),
        ([("source", "tickets")], "Choose one of the listed record types."),
    ],
)
def test_bad_reports_answer_400_with_the_reason(
    owner: Any, acme: Any, pairs: list, message: str
) -> None:
    page = owner.get(builder_url(pairs))
    assert page.status_code == 400
    assert message in html.unescape(page.text)


def test_builtin_reports_are_listed_and_open(owner: Any, app: Any, acme: Any) -> None:
    seed(app, acme)
    home = owner.get(f"{BASE}/")
    assert "Sales by month" in home.text and "Pipeline funnel" in home.text
    assert "Tickets by channel" not in home.text  # Service is off
    for link in [h for h in hrefs(home.text) if "/analytics/builtin/" in h]:
        assert owner.get(link).status_code == 200, link
    funnel = owner.get(f"{BASE}/builtin/funnel")
    assert "chart-funnel" in funnel.text
    assert owner.get(f"{BASE}/builtin/tickets-by-channel").status_code == 404
    assert owner.get(f"{BASE}/builtin/nope").status_code == 404


def _save(client: Any, name: str, **extra: str) -> Any:
    data: dict[str, Any] = {}
    for key, value in WON_BY_REGION:
        data.setdefault(key, []).append(value)
    data.update({"name": name, "sharing": "private", **extra})
    return post_form(client, f"{BASE}/reports", data, page=builder_url(WON_BY_REGION))


def test_save_share_and_export_a_report(owner: Any, rep: Any, app: Any, acme: Any) -> None:
    seed(app, acme)
    saved = _save(owner, "Won by region")
    assert saved.status_code == 303
    url = saved.headers["Location"]
    page = owner.get(url)
    assert "Won by region" in page.text and "<svg" in page.text
    assert rep.get(url).status_code == 404  # private: the rep does not see it
    changed = post_form(owner, url, {"name": "Won by region", "sharing": "workspace"})
    assert changed.status_code == 303
    assert rep.get(url).status_code == 200
    assert post_form(rep, url + "/delete", {}, page=url).status_code == 403  # not the owner
    exported = owner.get(url + "/export/csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0] == ["Region", "Sum of Amount"]
    assert sorted(rows[1:]) == [["North", "5000.0"], ["South", "2000.0"]]
    xlsx = owner.get(url + "/export/xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    pdf = owner.get(url + "/export/pdf")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
    assert owner.get(url + "/export/doc").status_code == 404


def test_saving_checks_the_form(owner: Any, app: Any, acme: Any) -> None:
    assert _save(owner, "").status_code == 400
    # only analytics managers share with the whole workspace; a rep cannot


def test_rep_cannot_share_with_everyone(rep: Any, app: Any, acme: Any) -> None:
    response = _save(rep, "Mine", sharing="workspace")
    assert response.status_code == 400
    assert "Only analytics managers" in html.unescape(response.text)


def test_reports_respect_record_visibility(owner: Any, rep: Any, app: Any, acme: Any) -> None:
    """A rep under the "own records" rule sees only their deals in every report."""
    seed(app, acme, owner_email="rep@acme.example")
    seed(app, acme)  # the same deals again, owned by nobody
    with in_tenant(app, acme) as session:
        tenant = session.get(Tenant, acme.id)
        tenant.settings = {**(tenant.settings or {}), "record_visibility": {"member": "own"}}
        session.commit()
    total = [("source", "deals"), ("agg", "sum:amount"), ("run", "1")]
    assert "16,400" in owner.get(builder_url(total)).text
    rep_page = owner_page = rep.get(builder_url(total)).text
    assert "8,200" in rep_page and "16,400" not in owner_page


def test_large_reports_run_as_a_job(app: Any, acme: Any, owner: Any) -> None:
    from crm_platform.testing import run_jobs

    seed(app, acme)
    app.config["ANALYTICS_ASYNC_ROWS"] = 2
    page = owner.get(builder_url(WON_BY_REGION))
    assert page.status_code == 200
    match = re.search(r'hx-get="([^"]+/runs/[^"]+)" hx-trigger="every 1s"', page.text)
    assert match, page.text
    status = owner.get(match.group(1))
    assert "runs in the background" in status.text
    run_jobs(app)
    done = owner.get(match.group(1))
    assert "every 1s" not in done.text and "North" in done.text and "<svg" in done.text


def test_scheduled_reports_are_mailed_once_per_period(app: Any, acme: Any, owner: Any) -> None:
    seed(app, acme)
    url = _save(owner, "Weekly sales").headers["Location"]
    post_form(
        owner,
        url,
        {
            "name": "Weekly sales",
            "sharing": "private",
            "schedule": "weekly",
            "schedule_format": "xlsx",
            "recipients": "boss@acme.example",
        },
    )
    with in_tenant(app, acme):
        assert send_scheduled_reports() == {"sent": 1, "failed": 0}
        assert send_scheduled_reports() == {"sent": 0, "failed": 0}  # not due again yet
    mail = last_mail(app, "boss@acme.example")
    assert "Weekly sales" in mail.subject
    download = owner.get(mail.link)
    assert download.status_code == 200 and download.data[:2] == b"PK"


def _dashboard(client: Any, name: str = "Mine") -> str:
    response = post_form(client, f"{BASE}/dashboards", {"name": name}, page=f"{BASE}/dashboards")
    assert response.status_code == 303
    return response.headers["Location"]


def test_dashboard_widgets_add_move_remove(owner: Any, app: Any, acme: Any) -> None:
    seed(app, acme)
    report_url = _save(owner, "Won by region").headers["Location"]
    report_id = report_url.rsplit("/", 1)[1]
    board = _dashboard(owner)
    for widget in (f"report:{report_id}", "builtin:funnel", "module:Pipeline by stage"):
        response = post_form(owner, board + "/widgets", {"widget": widget}, page=board)
        assert response.status_code == 303
    page = owner.get(board).text
    titles = re.findall(r'data-widget="([^"]+)"', page)
    assert titles == ["Won by region", "Pipeline funnel", "Pipeline by stage"]
    assert len(chart_links(page)) >= 3  # the charts drill down
    with in_tenant(app, acme) as session:
        widgets = session.scalars(select(DashboardWidget).order_by(DashboardWidget.position)).all()
        first, last = str(widgets[0].id), str(widgets[2].id)
    post_form(owner, f"{board}/widgets/{last}/move", {"direction": "up"}, page=board)
    titles = re.findall(r'data-widget="([^"]+)"', owner.get(board).text)
    assert titles == ["Won by region", "Pipeline by stage", "Pipeline funnel"]
    post_form(owner, f"{board}/widgets/{first}/delete", {}, page=board)
    titles = re.findall(r'data-widget="([^"]+)"', owner.get(board).text)
    assert titles == ["Pipeline by stage", "Pipeline funnel"]
    bad = post_form(owner, board + "/widgets", {"widget": "builtin:nope"}, page=board)
    assert bad.status_code == 303


def test_team_dashboards(owner: Any, rep: Any, app: Any, acme: Any, factory: Any) -> None:
    from crm_platform.sdk import Team, TeamMember, User

    with in_tenant(app, acme) as session:
        team = Team(name="East")
        session.add(team)
        session.flush()
        rep_id = session.scalars(select(User.id).where(User.email == "rep@acme.example")).one()
        session.add(TeamMember(team_id=team.id, user_id=rep_id))
        session.commit()
        team_id = str(team.id)
    created = post_form(
        owner,
        f"{BASE}/dashboards",
        {"name": "East board", "team_id": team_id},
        page=f"{BASE}/dashboards",
    )
    board = created.headers["Location"]
    assert rep.get(board).status_code == 200  # a member of the team sees it
    assert (
        post_form(rep, board + "/widgets", {"widget": "builtin:funnel"}, page=board).status_code
        == 403
    )
    mine = _dashboard(rep, "Rep's own")
    assert owner.get(mine).status_code == 404  # one's own dashboard is one's own
    refused = post_form(
        rep, f"{BASE}/dashboards", {"name": "X", "team_id": team_id}, page=f"{BASE}/dashboards"
    )
    assert refused.status_code == 400


def test_pages_answer_404_while_the_module_is_off(app: Any, factory: Any) -> None:
    from helpers_sfa import sales_tenant, signed_in

    sales_tenant(app, "solo", "owner@solo.example")
    client = signed_in(app, "owner@solo.example")
    assert client.get("/t/solo/analytics/").status_code == 404
    assert client.get("/t/solo/analytics/builder?source=deals").status_code == 404


def test_demo_data(app: Any, acme: Any) -> None:
    from plugins.analytics.demo import create_demo_data

    with in_tenant(app, acme) as session:
        create_demo_data(session.scalars(select(Membership)).all())
        session.commit()
        assert session.scalar(select(Dashboard.name)) == "My dashboard"
        assert len(session.scalars(select(SavedReport)).all()) == 2
