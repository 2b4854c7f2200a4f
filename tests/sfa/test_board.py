"""The kanban board and the deal pages: cards per stage, moves posted by the board's script
(200 moved, 409 a stale card, 400 a bad stage, each answering the refreshed board), the
win/loss reason, rotting cards, the list's filters and pages, the deal form."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from conftest import in_tenant
from helpers_sfa import deal, get_deal, stages
from helpers_web import csrf, field_error, flashes, post_form
from sqlalchemy import select

from crm_platform.tenancy import utcnow
from plugins.sfa.models import Deal
from plugins.sfa.pipelines import create_pipeline, default_stages

BOARD = "/t/acme/sales/"
HX = {"HX-Request": "true"}


def _move(client: Any, deal_id: str, stage_id: str, version: Any, reason: str = "") -> Any:
    """What board.js posts when a card is dropped on a column."""
    return client.post(
        f"/t/acme/sales/deals/{deal_id}/move",
        data={"stage_id": stage_id, "version": str(version), "close_reason": reason},
        headers={**HX, "X-CSRFToken": csrf(client, BOARD)},
    )


def _column_of(board_html: str, deal_name: str) -> str:
    """The name of the column whose list holds the card ``deal_name``."""
    for match in re.finditer(r'data-stage-name="([^"]+)"[^>]*>(.*?)</ol>', board_html, re.S):
        if f'data-name="{deal_name}"' in match.group(2):
            return match.group(1)
    raise AssertionError(f"no card {deal_name}")


def test_the_board_shows_cards_in_their_stages(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    deal(app, acme, name="Alpha", amount="1000")
    deal(app, acme, name="Beta", amount="2500", stage_id=s["Negotiation"])
    page = owner.get(BOARD)
    assert page.status_code == 200
    assert _column_of(page.text, "Alpha") == "Qualification"
    assert _column_of(page.text, "Beta") == "Negotiation"
    assert "Sortable.min.js" in page.text and "board.js" in page.text
    assert "$2,500.00" in page.text
    partial = owner.get(BOARD, headers=HX)
    assert partial.text.lstrip().startswith('<div id="sfa-board"')
    assert owner.get("/assets/sfa/vendor/Sortable.min.js").status_code == 200


def test_a_drop_moves_the_card_and_answers_the_board(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Dragged")
    moved = _move(owner, deal_id, s["Proposal"], 1)
    assert moved.status_code == 200
    assert "“Dragged” is now in Proposal." in moved.text
    assert _column_of(moved.text, "Dragged") == "Proposal"
    assert 'data-version="2"' in moved.text
    assert get_deal(app, acme, deal_id).stage == "Proposal"


def test_a_stale_card_is_refused_with_409_and_the_board_refreshes(
    app: Any, owner: Any, rep: Any, acme: Any
) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Contested")
    assert _move(owner, deal_id, s["Proposal"], 1).status_code == 200
    late = _move(rep, deal_id, s["Negotiation"], 1)  # the rep's board still said version 1
    assert late.status_code == 409
    assert "Someone else changed “Contested” a moment ago (now in Proposal)" in late.text
    assert _column_of(late.text, "Contested") == "Proposal"  # the refreshed board
    row = get_deal(app, acme, deal_id)
    assert (row.stage, row.version) == ("Proposal", 2)


def test_bad_drops_answer_400_with_the_reason(app: Any, owner: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        create_pipeline("Partners", default_stages())
        session.commit()
    theirs = stages(app, acme, "Partners")
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Careful")
    other = _move(owner, deal_id, theirs["Proposal"], 1)
    assert other.status_code == 400
    assert "is a stage of the pipeline “Partners”" in other.text
    unknown = _move(owner, deal_id, str(uuid.uuid4()), 1)
    assert unknown.status_code == 400 and "There is no such stage." in unknown.text
    lost = _move(owner, deal_id, s.lost, 1)
    assert lost.status_code == 400 and "Say why the deal was lost." in lost.text
    assert get_deal(app, acme, deal_id).stage == "Qualification"
    won = _move(owner, deal_id, s.won, 1, reason="Signed today")
    assert won.status_code == 200
    assert (get_deal(app, acme, deal_id).status, get_deal(app, acme, deal_id).close_reason) == (
        "won",
        "Signed today",
    )


def test_moving_without_script_redirects_back(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Keyboard")
    response = post_form(
        owner,
        f"/t/acme/sales/deals/{deal_id}/move",
        {"stage_id": s["Negotiation"], "version": "1", "next": BOARD},
        page=BOARD,
    )
    assert response.status_code == 302 and response.headers["Location"] == BOARD
    assert flashes(owner.get(BOARD).text, "success") == ["“Keyboard” is now in Negotiation."]


def test_rotting_cards_are_marked(app: Any, owner: Any, acme: Any) -> None:
    deal_id = deal(app, acme, name="Forgotten deal")
    deal(app, acme, name="Fresh deal")
    with in_tenant(app, acme) as session:
        row = session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()
        row.stage_entered_at = utcnow() - timedelta(days=30)  # Qualification rots after 14
        session.commit()
    page = owner.get(BOARD).text
    card = re.search(r'<li class="sfa-card([^"]*)"[^>]*data-name="Forgotten deal"', page)
    fresh = re.search(r'<li class="sfa-card([^"]*)"[^>]*data-name="Fresh deal"', page)
    assert card.group(1) == " rotting" and fresh.group(1) == ""
    assert "Rotting" in owner.get(f"/t/acme/sales/deals/{deal_id}").text


def test_the_list_filters_sorts_and_pages(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    for i in range(55):
        deal(app, acme, name=f"Deal {i:02d}", amount=str(i * 100), expected_close="2031-01-15")
    deal(app, acme, name="Negotiated", stage_id=s["Negotiation"], amount="1")
    first = owner.get("/t/acme/sales/deals?sort=amount&dir=desc")
    names = re.findall(r'/deals/[0-9a-f-]{36}">([^<]+)</a>', first.text)
    assert names[:2] == ["Deal 54", "Deal 53"] and len(names) == 50
    after = re.search(r'href="([^"]*after=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = owner.get(after)
    rest = re.findall(r'/deals/[0-9a-f-]{36}">([^<]+)</a>', second.text)
    assert len(rest) == 6 and "Next page" not in second.text
    assert set(names) | set(rest) == {f"Deal {i:02d}" for i in range(55)} | {"Negotiated"}
    only = owner.get(f"/t/acme/sales/deals?stage={s['Negotiation']}")
    assert re.findall(r'/deals/[0-9a-f-]{36}">([^<]+)</a>', only.text) == ["Negotiated"]
    search = owner.get("/t/acme/sales/deals?q=deal+0", headers=HX)
    assert search.text.startswith('<div id="deal-rows">') and "Deal 07" in search.text
    assert owner.get("/t/acme/sales/deals?after=garbage").status_code == 400
    assert owner.get("/t/acme/sales/deals?close_from=someday").status_code == 400


def test_create_and_edit_a_deal_with_the_form(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    new = "/t/acme/sales/deals/new"
    bad = post_form(
        owner,
        new,
        {
            "name": "Minus",
            "amount": "-10",
            "stage_id": s["Proposal"],
            "currency": "USD",
            "forecast_category": "pipeline",
        },
    )
    assert bad.status_code == 400
    assert field_error(bad.text, "amount") == "The amount cannot be negative."
    created = post_form(
        owner,
        new,
        {
            "name": "Plus",
            "amount": "10",
            "stage_id": s["Proposal"],
            "currency": "eur",
            "forecast_category": "commit",
            "competitors": "Globex, Initech",
        },
    )
    assert created.status_code == 303
    url = created.headers["Location"]
    page = owner.get(url).text
    assert "€10.00" in page and "Globex, Initech" in page and "Commit" in page
    edit = f"{url}/edit"
    form = owner.get(edit).text
    assert 'name="version" type="hidden" value="1"' in form
    saved = post_form(
        owner,
        edit,
        {
            "name": "Plus more",
            "amount": "20",
            "stage_id": s["Proposal"],
            "currency": "EUR",
            "forecast_category": "commit",
            "version": "1",
        },
    )
    assert saved.status_code == 303
    stale = post_form(
        owner,
        edit,
        {
            "name": "Plus stale",
            "amount": "30",
            "stage_id": s["Proposal"],
            "currency": "EUR",
            "forecast_category": "commit",
            "version": "1",
        },
    )
    assert stale.status_code == 409
    assert "Someone else changed “Plus more”" in stale.text
    deal_id = url.rsplit("/", 1)[1]
    assert get_deal(app, acme, deal_id).name == "Plus more"
