"""Day planning: the "my day" agenda (due today, overdue, the coming week, key contacts'
occasions, the quarter's target), the calendar, and the reminder job (once per activity)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant, run_jobs
from helpers_sfa import deal, stages, user_uuid
from sqlalchemy import select

from crm_platform.identity import User
from crm_platform.mail import OutboxMessage
from crm_platform.records.activities import Activity
from crm_platform.records.activity_service import create_activity
from crm_platform.records.custom_fields import fields_of
from crm_platform.records.service import create_record
from crm_platform.schedules import enqueue_due_schedules
from crm_platform.tenancy import utcnow
from plugins.sfa.forecast import current_quarter
from plugins.sfa.models import Deal, Quota
from plugins.sfa.settings import save_sales_settings

AGENDA = "/t/acme/sales/agenda"
REP = "rep@acme.example"


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'id="{section_id}"(.*?)</section>', html, re.S)
    assert match, section_id
    return match.group(1)


def _record(app: Any, acme: Any, kind: str, **data: Any) -> str:
    with in_tenant(app, acme) as session:
        owner = session.scalars(select(User).where(User.email == REP)).one()
        row = create_record(kind, data, actor=owner)
        session.commit()
        return str(row.id)


def _activity(app: Any, acme: Any, subject: str, due: Any, **data: Any) -> str:
    with in_tenant(app, acme) as session:
        rep = session.scalars(select(User).where(User.email == REP)).one()
        data.setdefault("owner_id", str(rep.id))
        row = create_activity(
            {"kind": "task", "subject": subject, "due_date": due.isoformat(), **data}, actor=rep
        )
        session.commit()
        return str(row.id)


@pytest.fixture
def planned(app: Any, acme: Any, rep: Any) -> dict[str, Any]:
    """An account of the rep with activities today, overdue, next week, done, another's,
    and one on an account in the trash."""
    today = utcnow().date()
    account = _record(app, acme, "account", name="Globex")
    trashed = _record(app, acme, "account", name="Gone Ltd")
    owner_id = user_uuid(app, "owner@acme.example")
    ids = {
        "today": _activity(app, acme, "Call Globex today", today, account_id=account, kind="call"),
        "overdue": _activity(
            app, acme, "Send the overdue offer", today - timedelta(days=3), account_id=account
        ),
        "later": _activity(
            app,
            acme,
            "Meet Globex board",
            today + timedelta(days=4),
            account_id=account,
            kind="meeting",
        ),
        "done": _activity(app, acme, "Already done today", today, account_id=account, done="1"),
        "other": _activity(
            app, acme, "The owner's own task", today, account_id=account, owner_id=str(owner_id)
        ),
        "trash": _activity(app, acme, "Task on a trashed account", today, account_id=trashed),
    }
    with in_tenant(app, acme) as session:
        from crm_platform.customers import Account

        gone = session.get(Account, (acme.id, uuid.UUID(trashed)))
        gone.deleted_at = utcnow()
        session.commit()
    return {"account": account, "ids": ids, "today": today}


def test_my_day_lists_today_overdue_and_the_week(app: Any, rep: Any, planned: dict) -> None:
    page = rep.get(AGENDA)
    assert page.status_code == 200
    today = _section(page.text, "agenda-today")
    assert "Call Globex today" in today
    assert "Already done today" not in today  # done
    assert "The owner&#39;s own task" not in page.text  # someone else's
    assert "Task on a trashed account" not in page.text  # its account is in the trash
    assert "Send the overdue offer" not in today
    overdue = _section(page.text, "agenda-overdue")
    assert "Send the overdue offer" in overdue
    assert "Call Globex today" not in overdue
    week = _section(page.text, "agenda-week")
    assert "Meet Globex board" in week and "Call Globex today" in week
    assert "Already done today" in week  # the week shows done ones too, struck through
    assert 'href="/t/acme/sales/agenda"' in page.text  # the sales tabs link to it


def test_the_agenda_is_in_the_navigation_and_needs_sales(app: Any, rep: Any, acme: Any) -> None:
    home = rep.get("/t/acme/")
    assert "/t/acme/sales/agenda" in home.text
    assert rep.get("/t/acme/sales/calendar?date=not-a-date").status_code == 400


def test_the_calendar_shows_a_week_and_a_month(app: Any, rep: Any, planned: dict) -> None:
    later = planned["today"] + timedelta(days=4)
    week = rep.get(f"/t/acme/sales/calendar?date={later.isoformat()}")
    assert week.status_code == 200
    cell = re.search(rf'data-date="{later.isoformat()}"[^>]*>(.*?)</td>', week.text, re.S)
    assert cell and "Meet Globex board" in cell.group(1)
    assert week.text.count("<td data-date=") == 7
    month = rep.get(f"/t/acme/sales/calendar?view=month&date={later.isoformat()}")
    assert month.status_code == 200
    cells = month.text.count("<td data-date=")
    assert cells % 7 == 0 and cells >= 28
    cell = re.search(rf'data-date="{later.isoformat()}"[^>]*>(.*?)</td>', month.text, re.S)
    assert cell and "Meet Globex board" in cell.group(1)


def _outbox(app: Any, to: str) -> list[OutboxMessage]:
    from crm_platform.extensions import db

    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == to)).all()
        db.session.expunge_all()
        return list(rows)


def _tick(app: Any) -> None:
    """What the worker's scheduler does when the reminder schedule is due, then the jobs."""
    queued = enqueue_due_schedules(app, force=True)
    assert queued.get("sfa.reminders", 0) >= 1
    run_jobs(app)


def test_the_reminder_job_mails_each_activity_once(app: Any, acme: Any, rep: Any) -> None:
    today = utcnow().date()
    account = _record(app, acme, "account", name="Initech")
    soon = _activity(app, acme, "Call Initech back", today + timedelta(days=1), account_id=account)
    _activity(app, acme, "Far away meeting", today + timedelta(days=9), account_id=account)
    _activity(app, acme, "Done already", today, account_id=account, done="1")
    _tick(app)
    mails = _outbox(app, REP)
    assert len(mails) == 1
    assert "Call Initech back" in mails[0].body and "Initech" in mails[0].body
    assert "Far away meeting" not in mails[0].body and "Done already" not in mails[0].body
    _tick(app)
    assert len(_outbox(app, REP)) == 1  # sent once
    with in_tenant(app, acme) as session:  # moved to another day: reminded again for it
        row = session.get(Activity, (acme.id, uuid.UUID(soon)))
        row.due_date = today
        session.commit()
    _tick(app)
    mails = _outbox(app, REP)
    assert len(mails) == 2 and "Call Initech back" in mails[1].body


def test_switching_sales_on_adds_the_contact_date_fields(app: Any, acme: Any) -> None:
    with in_tenant(app, acme):
        fields = {f.key: f.type for f in fields_of("contact")}
    assert fields["birthday"] == "date" and fields["anniversary"] == "date"
    assert fields["key_contact"] == "checkbox"


def test_birthdays_of_key_contacts(app: Any, acme: Any, rep: Any) -> None:
    soon = utcnow().date() + timedelta(days=2)
    born = soon.replace(year=1980) if not (soon.month == 2 and soon.day == 29) else soon
    _record(
        app,
        acme,
        "contact",
        first_name="Kim",
        last_name="Key",
        custom={"birthday": born.isoformat(), "key_contact": "y"},
    )
    _record(
        app,
        acme,
        "contact",
        first_name="Nora",
        last_name="Notkey",
        custom={"birthday": born.isoformat()},
    )
    page = rep.get(AGENDA)
    occasions = _section(page.text, "agenda-occasions")
    assert "Kim Key" in occasions and "Nora Notkey" not in occasions
    assert f"({soon.year - born.year} years)" in occasions
    calendar = rep.get(f"/t/acme/sales/calendar?date={soon.isoformat()}")
    cell = re.search(rf'data-date="{soon.isoformat()}"[^>]*>(.*?)</td>', calendar.text, re.S)
    assert cell and "Kim Key" in cell.group(1)
    _tick(app)
    assert _outbox(app, REP) == []  # two days ahead, reminders go one day ahead by default
    with in_tenant(app, acme) as session:
        save_sales_settings({"reminder_days": 3})
        session.commit()
    _tick(app)
    mails = _outbox(app, REP)
    assert len(mails) == 1 and "Kim Key" in mails[0].body and "Nora" not in mails[0].body
    _tick(app)
    assert len(_outbox(app, REP)) == 1


def test_the_sales_target_with_attainment(app: Any, acme: Any, rep: Any) -> None:
    rep_id = user_uuid(app, REP)
    s = stages(app, acme)
    won = deal(
        app,
        acme,
        name="Won one",
        amount="2500",
        owner_id=str(rep_id),
        stage_id=s.won,
        close_reason="Best offer",
    )
    deal(
        app,
        acme,
        name="Other currency",
        amount="9000",
        owner_id=str(rep_id),
        stage_id=s.won,
        currency="EUR",
        close_reason="Price",
    )
    year, quarter = current_quarter()
    with in_tenant(app, acme) as session:
        row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(won))).unique().one()
        assert row.status == "won"
        row.closed_at = datetime.now(UTC)
        session.add(
            Quota(
                user_id=rep_id, year=year, quarter=quarter, amount=Decimal("10000"), currency="USD"
            )
        )
        session.commit()
    page = rep.get(AGENDA)
    target = re.search(r'id="agenda-target"(.*?)</div>\s*</div>', page.text, re.S).group(1)
    assert "$2,500.00" in target and "$10,000.00" in target
    assert re.search(r'id="agenda-attainment">25%<', page.text)
