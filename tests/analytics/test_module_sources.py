"""Service's tickets and Marketing's campaigns reach the report builder through the core hook
once those modules are on, and their built-in reports run (on both databases)."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant
from helpers_analytics import amounts, run_as
from helpers_sfa import enable
from sqlalchemy import select

from crm_platform.sdk import Membership
from plugins.analytics.builtin import BY_KEY
from plugins.analytics.engine import Definition, sources

OWNER = "owner@acme.example"


def test_tickets_and_campaigns(app: Any, acme: Any, owner: Any) -> None:
    enable(app, acme, "service")
    enable(app, acme, "marketing")
    from plugins.marketing.campaigns import create_campaign
    from plugins.service.tickets import create_ticket

    with in_tenant(app, acme) as session:
        for subject, priority in (("Broken", "high"), ("Slow", "normal"), ("Down", "high")):
            create_ticket(
                {"subject": subject, "priority": priority, "requester_email": "c@x.example"},
                channel="email",
            )
        create_campaign({"name": "Spring", "channel": "email", "subject": "Hi", "cost": "120"})
        session.commit()
        member = session.scalars(select(Membership)).first()
        assert {"tickets", "campaigns"} <= set(sources(member))
    by_priority = Definition(source="tickets", groups=["priority"])
    assert amounts(run_as(app, acme, OWNER, by_priority)) == {("High",): 2.0, ("Normal",): 1.0}
    for key in ("tickets-by-month", "resolution-by-queue", "tickets-by-channel"):
        assert run_as(app, acme, OWNER, BY_KEY[key].definition).rows, key
    campaigns = run_as(app, acme, OWNER, BY_KEY["campaigns-by-channel"].definition)
    assert campaigns.rows[0].labels == ["E-mail"] and campaigns.rows[0].values[0] == 120.0
    home = owner.get("/t/acme/analytics/").text
    assert "Tickets by channel" in home and "Campaign cost and responses by channel" in home
    page = owner.get("/t/acme/analytics/builtin/tickets-by-channel")
    assert page.status_code == 200 and "/t/acme/service/tickets/" not in page.text
    records = owner.get("/t/acme/analytics/records?source=tickets&filter=priority:eq:high")
    assert "Broken" in records.text and "Down" in records.text and "Slow" not in records.text
