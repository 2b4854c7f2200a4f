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
from helpers_sql import counted
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


# --------------------------------------------------------------------------- at scale


def _cards_in(html: str) -> list[str]:
    return re.findall(r'<li class="sfa-card[^"]*"[^>]*data-name="([^"]+)"', html)


def _more_link(html: str, stage: str) -> str | None:
    """The "show more" URL of the column ``stage`` (``None`` when it has none)."""
    for match in re.finditer(r'data-stage-name="([^"]+)"[^>]*>(.*?)</ol>', html, re.S):
        if match.group(1) == stage:
            more = re.search(r'class="sfa-more"[^>]*hx-get="([^"]+)"', match.group(2))
            return more.group(1).replace("&amp;", "&") if more else None
    raise AssertionError(f"no column {stage}")


def test_columns_show_their_first_cards_and_show_more_pages_the_rest(
    app: Any, owner: Any, acme: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("plugins.sfa.board.CARDS", 3)
    s = stages(app, acme)
    for i in range(7):  # closing soonest first; same day: by id
        deal(app, acme, name=f"Q{i}", amount="100", expected_close=f"2031-0{1 + i // 2}-01")
    deal(app, acme, name="Undated", amount="100")
    deal(app, acme, name="Euro", amount="999", currency="EUR")
    deal(app, acme, name="Proposed", stage_id=s["Proposal"], amount="50")
    page = owner.get(BOARD).text
    qualification = re.search(r'data-stage-name="Qualification"[^>]*>(.*?)</ol>', page, re.S)
    shown = _cards_in(qualification.group(1))
    assert len(shown) == 3
    # the column's count and total still cover every deal (the total: USD ones only)
    header = re.search(r'id="stage-[^"]+">Qualification</h2>\s*<p[^>]*>(.*?)</p>', page, re.S)
    assert '<span class="sfa-count" title="Deals">9</span>' in header.group(1)
    assert "$800.00" in header.group(1)
    assert "Show more (6 left)" in qualification.group(1)
    assert _more_link(page, "Proposal") is None and _cards_in(page).count("Proposed") == 1
    seen = list(shown)
    url = _more_link(page, "Qualification")
    while url:
        more = owner.get(url, headers=HX)
        assert more.status_code == 200
        assert not more.text.lstrip().startswith("<div")  # only items for the list
        seen += _cards_in(more.text)
        url = re.search(r'hx-get="([^"]+)"', more.text)
        url = url.group(1).replace("&amp;", "&") if url else None
    expected = {f"Q{i}" for i in range(7)} | {"Undated", "Euro"}
    assert len(seen) == len(set(seen)) == 9 and set(seen) == expected
    assert set(seen[:2]) == {"Q0", "Q1"} and seen[6] == "Q6"
    assert set(seen[-2:]) == {"Undated", "Euro"}  # no close date: last
    base = _more_link(page, "Qualification").split("&after=")[0]
    assert owner.get(base + "&after=garbage", headers=HX).status_code == 400
    assert owner.get(f"/t/acme/sales/board/stages/{uuid.uuid4()}/cards").status_code == 404


def test_show_more_keeps_the_board_scope_and_visibility(
    app: Any, owner: Any, rep: Any, acme: Any, monkeypatch: Any
) -> None:
    from helpers_sfa import user_uuid

    monkeypatch.setattr("plugins.sfa.board.CARDS", 1)
    rep_id = str(user_uuid(app, "rep@acme.example"))
    owner_id = str(user_uuid(app, "owner@acme.example"))
    with in_tenant(app, acme) as session:
        from plugins.sfa.settings import save_sales_settings

        save_sales_settings({"record_visibility": {"member": "own"}})
        session.commit()
    for i in range(3):
        deal(app, acme, name=f"Mine {i}", owner_id=rep_id, expected_close=f"2031-01-0{i + 1}")
        deal(app, acme, name=f"Theirs {i}", owner_id=owner_id, expected_close=f"2031-01-0{i + 1}")
    seen, url = [], None
    page = rep.get(BOARD + "?owner=all").text
    seen += _cards_in(page)
    url = _more_link(page, "Qualification")
    while url:
        more = rep.get(url, headers=HX).text
        seen += _cards_in(more)
        found = re.search(r'hx-get="([^"]+)"', more)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == ["Mine 0", "Mine 1", "Mine 2"]
    mine = owner.get(BOARD + "?owner=me").text  # the owner's own deals: the "Theirs" ones
    assert _cards_in(mine) == ["Theirs 0"] and "Show more (2 left)" in mine


def test_the_board_runs_the_same_queries_with_many_deals(
    app: Any, owner: Any, acme: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("plugins.sfa.board.CARDS", 2)
    s = stages(app, acme)
    for stage in ("Qualification", "Proposal", "Negotiation", "Won"):  # a card in each column
        deal(app, acme, name=f"First {stage}", stage_id=s[stage] if stage != "Won" else s.won)
    owner.get(BOARD)  # warm: first-use work of the app is not the board's
    with counted(app) as few:
        assert owner.get(BOARD).status_code == 200
    for i in range(12):
        stage = ("Qualification", "Proposal", "Negotiation")[i % 3]
        deal(app, acme, name=f"More {i}", stage_id=s[stage], account_id=None)
    for i in range(3):
        deal(app, acme, name=f"Won {i}", stage_id=s.won)
    with counted(app) as many:
        page = owner.get(BOARD)
    assert len(_cards_in(page.text)) == 8  # 2 a column
    assert len(many) == len(few), many
    more = _more_link(page.text, "Qualification")
    with counted(app) as paged:
        owner.get(more, headers=HX)
    assert len(paged) <= len(few)


def test_the_move_link_opens_the_shared_move_form(app: Any, owner: Any, acme: Any) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Keyed")
    page = owner.get(BOARD).text
    assert (
        page.count('<dialog id="sfa-move" class="sfa-dialog" aria-labelledby="sfa-move-title">')
        == 1
    )
    assert '<details class="sfa-move"' not in page  # no form a card
    link = re.search(r'<a class="sfa-move" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert f"move={deal_id}" in link
    opened = owner.get(link).text  # without the script: the board with the form open
    form = re.search(
        r'<dialog id="sfa-move"[^>]*open>\s*<form method="post" action="([^"]+)"', opened
    )
    assert form and f"/deals/{deal_id}/move" in form.group(1)
    assert 'name="version" value="1"' in opened and "Keyed" in opened
    action = form.group(1).replace("&amp;", "&")
    next_url = re.search(r'name="next" value="([^"]+)"', opened).group(1).replace("&amp;", "&")
    moved = post_form(
        owner, action, {"stage_id": s["Proposal"], "version": "1", "next": next_url}, page=BOARD
    )
    assert moved.status_code == 302 and moved.headers["Location"] == next_url
    assert get_deal(app, acme, deal_id).stage == "Proposal"


def test_card_amounts_read_as_babel_writes_them() -> None:
    from decimal import Decimal

    from babel import Locale
    from babel.numbers import format_currency

    from plugins.sfa.board import format_money

    for name in ("en", "zh_Hans_CN", "de", "fr", "hi_IN", "ar", "de_CH"):
        locale = Locale.parse(name)
        for currency in ("USD", "EUR", "JPY", "CNY", "BHD"):
            for raw in ("0", "0.005", "0.015", "12.345", "999.995", "1234.5", "123456789.99"):
                amount = Decimal(raw)
                expected = format_currency(amount, currency, locale=locale)
                assert format_money(amount, currency, locale) == expected, (name, currency, raw)
