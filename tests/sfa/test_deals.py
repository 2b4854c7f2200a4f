"""Deals through the service: creating, moving (history, events, won and lost), bad input
(negative amounts, unknown stages, another pipeline's stage, stale versions) refused with
nothing written."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_records import Recorder, app_with, dispose
from helpers_sfa import deal, get_deal, stages
from sqlalchemy import func, select

from crm_platform.provisioning import ValidationFailed
from plugins.sfa.deals import StaleDeal, create_deal, history, move_deal, update_deal
from plugins.sfa.models import Deal, DealStageChange
from plugins.sfa.pipelines import create_pipeline, default_stages


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], recorder: Recorder) -> Any:
    application = app_with(app_config, recorder)
    yield application
    dispose(application)


def _deal(session: Any, deal_id: str) -> Deal:
    return session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()


def _count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_new_deal_starts_in_the_first_open_stage(app: Any, acme: Any, recorder: Any) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Globex renewal", amount="12000.50")
    row = get_deal(app, acme, deal_id)
    assert (row.stage, row.status, row.amount, row.version) == (
        "Qualification",
        "open",
        Decimal("12000.50"),
        1,
    )
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        assert d.currency == "USD" and str(d.pipeline_id) == s.pipeline
        (first,) = history(d)
        assert (first.from_name, first.to_name) == (None, "Qualification")
    assert [n for n in recorder.names() if n.startswith("deal.")] == ["deal.created"]


def test_moves_keep_a_history_and_emit_events(app: Any, acme: Any, recorder: Any) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Initech", amount="5000")
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        move_deal(d, s["Proposal"], version=1)
        session.commit()
        move_deal(d, s.won, version=d.version, reason="Best offer")
        session.commit()
        assert (d.status, d.close_reason, d.closed_at is not None) == ("won", "Best offer", True)
        moves = [(h.from_name, h.to_name) for h in history(d)]
    assert moves == [("Proposal", "Won"), ("Qualification", "Proposal"), (None, "Qualification")]
    names = [n for n in recorder.names() if n.startswith("deal.")]
    assert names == ["deal.created", "deal.stage_changed", "deal.stage_changed", "deal.won"]
    ((record_id, data),) = recorder.of("deal.won")
    assert data["from_stage"] == "Proposal" and data["amount"] == "5000.00"
    assert data["reason"] == "Best offer" and record_id == uuid.UUID(deal_id)


def test_a_lost_deal_needs_a_reason_and_reopening_clears_closed_at(
    app: Any, acme: Any, recorder: Any
) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme)
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        with pytest.raises(ValidationFailed) as refused:
            move_deal(d, s.lost, version=1, reason="  ")
        assert set(refused.value.errors) == {"close_reason"}
        session.rollback()
        move_deal(d, s.lost, version=1, reason="Too expensive")
        session.commit()
        assert d.status == "lost"
        move_deal(d, s["Negotiation"], version=d.version)
        session.commit()
        assert (d.status, d.closed_at) == ("open", None)
    assert recorder.names().count("deal.lost") == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"currency": "dollars"}, "currency"),
        ({"name": "  "}, "name"),
        ({"stage_id": str(uuid.uuid4())}, "stage_id"),
        ({"stage_id": "not-an-id"}, "stage_id"),
        ({"pipeline_id": str(uuid.uuid4())}, "pipeline_id"),
        ({"account_id": str(uuid.uuid4())}, "account_id"),
        ({"owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"forecast_category": "maybe"}, "forecast_category"),
        ({"expected_close": "next week"}, "expected_close"),
    ],
)
def test_bad_deals_are_refused_with_nothing_written(
    app: Any, acme: Any, values: dict[str, Any], field: str
) -> None:
    with in_tenant(app, acme) as session:
        with pytest.raises(ValidationFailed) as refused:
            create_deal({"name": "Bad", **values})
        assert field in refused.value.errors, refused.value.errors
        session.rollback()
        assert _count(session, Deal) == 0 and _count(session, DealStageChange) == 0


def test_another_pipelines_stage_and_unknown_stages_are_refused(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        other = create_pipeline("Partners", default_stages())
        session.commit()
        other_id = other.id
    theirs = stages(app, acme, "Partners")
    deal_id = deal(app, acme, name="Stays put")
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        with pytest.raises(ValidationFailed) as refused:
            move_deal(d, theirs["Proposal"], version=1)
        assert "pipeline “Partners”" in refused.value.errors["stage_id"]
        with pytest.raises(ValidationFailed) as unknown:
            move_deal(d, str(uuid.uuid4()), version=1)
        assert unknown.value.errors == {"stage_id": "There is no such stage."}
        session.rollback()
        # Naming the other pipeline too moves it there on purpose.
        update_deal(d, {"pipeline_id": str(other_id), "stage_id": theirs["Proposal"]})
        session.commit()
        assert d.pipeline_id == other_id
    assert get_deal(app, acme, deal_id).stage == "Proposal"


def test_a_stale_version_is_refused_and_nothing_is_lost(app: Any, acme: Any) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Contested")
    with in_tenant(app, acme) as session:
        move_deal(_deal(session, deal_id), s["Proposal"], version=1)  # Alice's drag
        session.commit()
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        with pytest.raises(StaleDeal) as stale:  # Bob's drag, from the board he loaded before
            move_deal(d, s["Negotiation"], version=1)
        assert "Someone else changed “Contested”" in str(stale.value)
        with pytest.raises(StaleDeal):
            update_deal(d, {"amount": "1"}, version="1")
        session.rollback()
    row = get_deal(app, acme, deal_id)
    assert (row.stage, row.version, row.amount) == ("Proposal", 2, Decimal("0.00"))


def test_two_sessions_writing_the_same_version_conflict(app: Any, acme: Any) -> None:
    """The version column guards the write itself, not only the check before it."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    s = stages(app, acme)
    deal_id = deal(app, acme)
    with in_tenant(app, acme) as session:
        first = _deal(session, deal_id)
        engine = session.get_bind()
        with Session(engine) as other:
            from crm_platform.tenancy import current_tenant

            assert current_tenant() is not None
            second = other.get(Deal, (acme.id, uuid.UUID(deal_id)))
            second.amount = Decimal("99")
            other.commit()
        with pytest.raises(StaleDataError):  # loaded as version 1, stored is 2 now
            move_deal(first, s["Proposal"], version=1)
            session.commit()
        session.rollback()
    assert get_deal(app, acme, deal_id).stage == "Qualification"
