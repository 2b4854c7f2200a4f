"""Quotes: totals in integer cents from Decimal maths, lines priced from the deal's price book,
bad input refused with nothing written, the PDF, quote → won (the deal's amount, the won
stage, its history and ``deal.won``), the editor page with htmx, the API, and another tenant's
or an invisible deal's quotes answering 404."""

from __future__ import annotations

import re
import uuid
import zlib
from decimal import Decimal
from typing import Any

import pytest
from conftest import in_tenant
from helpers_api import assert_error, auth, make_key
from helpers_records import Recorder, app_with, dispose
from helpers_sfa import deal, get_deal, sales_tenant, signed_in, stages
from sqlalchemy import func, select

from crm_platform.identity import Tenant
from crm_platform.provisioning import ValidationFailed
from crm_platform.records.visibility import save_visibility_settings
from plugins.sfa import quote_pdf
from plugins.sfa.deals import history
from plugins.sfa.models import Deal
from plugins.sfa.products import create_price_book, create_product, set_entry
from plugins.sfa.quote_models import Quote, QuoteLine
from plugins.sfa.quote_pdf import render_quote_pdf
from plugins.sfa.quotes import (
    accept_quote,
    add_line,
    create_quote,
    line_amounts,
    lines_of,
    mark_sent,
    reject_quote,
    remove_line,
    update_line,
)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], recorder: Recorder) -> Any:
    application = app_with(app_config, recorder)
    yield application
    dispose(application)


def _deal(session: Any, deal_id: str) -> Deal:
    return session.scalars(select(Deal).where(Deal.id == uuid.UUID(deal_id))).unique().one()


def _count(session: Any, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def catalogue(app: Any, acme: Any) -> dict[str, str]:
    """Two products, a standard USD book (widget at 80) and a EUR book."""
    with in_tenant(app, acme) as session:
        widget = create_product(
            {"code": "W", "name": "Widget", "unit_price": "100", "tax_rate": "20"}
        )
        service = create_product(
            {"code": "S", "name": "Setup service", "unit_price": "333.33", "tax_rate": "0"}
        )
        book = create_price_book({"name": "Standard", "currency": "USD", "is_default": True})
        euro = create_price_book({"name": "Euro", "currency": "EUR"})
        set_entry(book, widget.id, "80")
        session.commit()
        return {
            "widget": str(widget.id),
            "service": str(service.id),
            "book": str(book.id),
            "euro": str(euro.id),
        }


def test_line_maths_in_cents() -> None:
    assert line_amounts(Decimal(3), Decimal("19.99"), Decimal(10), Decimal(20)) == {
        "subtotal": 5997,
        "discount": 600,  # 599.7 rounds half up
        "tax": 1079,  # 20 % of 5397 = 1079.4
        "total": 6476,
    }
    # 0.1 + 0.2 style sums stay exact: 3 × 0.10 is 30 cents, not 30.000000004
    assert line_amounts(Decimal(3), Decimal("0.10"), Decimal(0), Decimal(0))["total"] == 30
    assert line_amounts(Decimal("0.5"), Decimal("0.05"), Decimal(0), Decimal(0))["subtotal"] == 3
    full = line_amounts(Decimal(2), Decimal("50"), Decimal(100), Decimal(20))
    assert (full["discount"], full["tax"], full["total"]) == (10000, 0, 0)


def test_quote_lines_prices_and_totals(app: Any, acme: Any, catalogue: dict) -> None:
    deal_id = deal(app, acme, name="Widgets for Globex", amount="1")
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        first = create_quote(d)
        second = create_quote(d)
        assert (first.number + 1, first.status, first.currency) == (second.number, "draft", "USD")
        assert str(first.price_book_id) == catalogue["book"]  # the currency's default
        q = first
        add_line(q, {"product_id": catalogue["widget"], "quantity": "3", "discount_percent": "10"})
        add_line(q, {"product_id": catalogue["service"], "quantity": "1"})  # list price
        free = add_line(q, {"description": "Travel", "quantity": "2", "unit_price": "45.5"})
        session.commit()
        widget_line, service_line, _ = lines_of(q)
        assert (widget_line.unit_price, widget_line.tax_rate, widget_line.description) == (
            Decimal("80.00"),
            Decimal("20.00"),
            "Widget",
        )
        # widget: 24000 − 2400 = 21600, tax 4320; service 33333; travel 9100
        assert (q.subtotal_cents, q.discount_cents, q.tax_cents, q.total_cents) == (
            24000 + 33333 + 9100,
            2400,
            4320,
            21600 + 4320 + 33333 + 9100,
        )
        update_line(q, free, {"quantity": "1"})
        assert q.total_cents == 21600 + 4320 + 33333 + 4550
        remove_line(q, service_line)
        session.commit()
        assert q.total_cents == 21600 + 4320 + 4550 and len(lines_of(q)) == 2


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ({"product_id": "W", "quantity": "-1"}, {"quantity"}),
        ({"product_id": "W", "quantity": "0"}, {"quantity"}),
        ({"product_id": "W", "quantity": "1", "unit_price": "-5"}, {"unit_price"}),
        ({"product_id": "W", "quantity": "1", "discount_percent": "101"}, {"discount_percent"}),
        ({"product_id": "W", "quantity": "1", "tax_rate": "-1"}, {"tax_rate"}),
        ({"quantity": "1", "unit_price": "5"}, {"description"}),
        ({"description": "Free", "quantity": "1"}, {"unit_price"}),
        ({"product_id": str(uuid.uuid4()), "quantity": "1"}, {"product_id"}),
    ],
)
def test_bad_lines_write_nothing(
    app: Any, acme: Any, catalogue: dict, line: dict, fields: set
) -> None:
    deal_id = deal(app, acme, name="Strict deal")
    with in_tenant(app, acme) as session:
        q = create_quote(_deal(session, deal_id))
        session.commit()
        data = {**line}
        if data.get("product_id") == "W":
            data["product_id"] = catalogue["widget"]
        with pytest.raises(ValidationFailed) as caught:
            add_line(q, data)
        assert set(caught.value.errors) == fields
        session.rollback()
        assert _count(session, QuoteLine) == 0 and q.total_cents == 0


def test_currency_mismatch_and_other_tenants_product(app: Any, acme: Any, catalogue: dict) -> None:
    bravo = sales_tenant(app, "bravo", "owner@bravo.example")
    with in_tenant(app, bravo) as session:
        theirs = create_product({"code": "B", "name": "Bravo secret", "unit_price": "1"})
        session.commit()
        their_id = str(theirs.id)
    deal_id = deal(app, acme, name="Dollar deal")
    euro_deal = deal(app, acme, name="Euro deal", currency="EUR")
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        with pytest.raises(ValidationFailed) as caught:
            create_quote(d, {"price_book_id": catalogue["euro"]})
        assert "is in EUR but the deal is in USD" in caught.value.errors["price_book_id"]
        session.rollback()
        assert _count(session, Quote) == 0
        q = create_quote(d)
        with pytest.raises(ValidationFailed) as caught:
            add_line(q, {"product_id": their_id, "quantity": "1"})
        assert caught.value.errors == {"product_id": "There is no such product."}
        e = create_quote(_deal(session, euro_deal))
        assert str(e.price_book_id) == catalogue["euro"]  # the only EUR book
        with pytest.raises(ValidationFailed) as caught:  # a USD product with no EUR price
            add_line(e, {"product_id": catalogue["service"], "quantity": "1"})
        assert "has no price in EUR" in caught.value.errors["product_id"]
        session.rollback()
        assert _count(session, QuoteLine) == 0


def test_accepting_a_quote_wins_the_deal(
    app: Any, acme: Any, catalogue: dict, recorder: Recorder
) -> None:
    s = stages(app, acme)
    deal_id = deal(app, acme, name="Quote to cash", amount="10", stage_id=s["Proposal"])
    with in_tenant(app, acme) as session:
        d = _deal(session, deal_id)
        q = create_quote(d)
        with pytest.raises(ValidationFailed):  # no lines yet
            accept_quote(q)
        add_line(q, {"product_id": catalogue["widget"], "quantity": "2"})  # 160 + 32 tax
        mark_sent(q)
        session.commit()
        with pytest.raises(ValidationFailed):  # sent quotes do not change
            add_line(q, {"description": "More", "quantity": "1", "unit_price": "1"})
        session.rollback()
        q = session.get(Quote, (q.tenant_id, q.id))
        accept_quote(q, version=_deal(session, deal_id).version)
        session.commit()
        assert q.status == "accepted" and q.decided_at is not None
        d = _deal(session, deal_id)
        moves = [(h.from_name, h.to_name, h.amount) for h in history(d)]
        label = q.label
    row = get_deal(app, acme, deal_id)
    assert (row.status, row.stage, row.amount) == ("won", "Won", Decimal("192.00"))
    assert row.close_reason == f"Quote {label} accepted."
    assert moves[0] == ("Proposal", "Won", Decimal("192.00"))
    ((record_id, data),) = recorder.of("deal.won")
    assert record_id == uuid.UUID(deal_id) and data["amount"] == "192.00"
    quote_events = [
        (n, d["number"], d["status"], d["total"])
        for n, _r, d in recorder.events
        if n.startswith("quote.")
    ]
    assert quote_events == [
        ("quote.sent", label, "sent", "192.00"),
        ("quote.accepted", label, "accepted", "192.00"),
    ]
    with in_tenant(app, acme) as session:
        q = session.scalars(select(Quote)).one()
        with pytest.raises(ValidationFailed):  # decided already
            accept_quote(q)
        with pytest.raises(ValidationFailed):
            reject_quote(q)
        with pytest.raises(ValidationFailed) as caught:  # the deal is closed
            create_quote(_deal(session, deal_id))
        assert set(caught.value.errors) == {"deal_id"}


def test_the_pdf_is_a_pdf_with_the_number(app: Any, acme: Any, catalogue: dict) -> None:
    deal_id = deal(app, acme, name="Ünïcödé Ωmega 北京 deal")
    with in_tenant(app, acme) as session:
        q = create_quote(_deal(session, deal_id), {"notes": "Thank you — спасибо"})
        add_line(q, {"product_id": catalogue["widget"], "quantity": "1.5", "discount_percent": "5"})
        add_line(q, {"description": "Ω" * 300, "quantity": "1", "unit_price": "1"})
        session.commit()
        body = render_quote_pdf(q, "Acme Ünïcödé")
        label = q.label
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert _pdf_text_has(body, label)
    assert b"DejaVuSans" in body  # Debian's Unicode font is embedded (fonts-dejavu-core)
    # ... and for 北京, which DejaVu lacks, the CJK fallback (fonts-droid-fallback)
    assert b"DroidSansFallback" in body


def test_the_pdf_embeds_only_the_glyphs_it_uses(app: Any, acme: Any, catalogue: dict) -> None:
    deal_id = deal(app, acme, name="Plain deal")
    with in_tenant(app, acme) as session:
        q = create_quote(_deal(session, deal_id))
        add_line(q, {"description": "Widget", "quantity": "1", "unit_price": "10"})
        session.commit()
        body = render_quote_pdf(q, "Acme")
    assert b"DejaVuSans" in body and len(body) < 60_000, len(body)  # glyphs used only


def test_the_pdf_falls_back_to_a_core_font(
    app: Any, acme: Any, catalogue: dict, monkeypatch: Any
) -> None:
    monkeypatch.setattr(quote_pdf, "FONT_CANDIDATES", ())
    deal_id = deal(app, acme, name="Без шрифта 北京")
    with in_tenant(app, acme) as session:
        q = create_quote(_deal(session, deal_id))
        add_line(q, {"description": "Ω line", "quantity": "1", "unit_price": "10"})
        body = render_quote_pdf(q, "Acme")
        label = q.label
    assert body.startswith(b"%PDF-") and b"Helvetica" in body and b"DejaVu" not in body
    assert _pdf_text_has(body, label)


def _pdf_text_has(body: bytes, text: str) -> bool:
    """``text`` in the PDF: its metadata (title) or an uncompressed content stream."""
    forms = [text.encode(), b"\xfe\xff" + text.encode("utf-16-be")]
    hexed = [f.hex().upper().encode() for f in forms]
    if any(f in body for f in forms) or any(h in body.upper() for h in hexed):
        return True
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            continue
        if any(f in data for f in forms):
            return True
    return False


def test_quote_editor_pages(app: Any, acme: Any, owner: Any, catalogue: dict) -> None:
    deal_id = deal(app, acme, name="Page deal")
    base = "/t/acme/sales"
    deal_page = owner.get(f"{base}/deals/{deal_id}").text
    assert "No quotes yet." in deal_page and f'action="{base}/deals/{deal_id}/quotes"' in deal_page
    made = owner.post(f"{base}/deals/{deal_id}/quotes")
    assert made.status_code == 303
    quote_url = made.headers["Location"]
    page = owner.get(quote_url)
    assert page.status_code == 200 and "Add a line" in page.text and "Download PDF" in page.text
    htmx = {"HX-Request": "true"}
    added = owner.post(
        f"{quote_url}/lines",
        data={"product_id": catalogue["widget"], "quantity": "2", "discount_percent": "50"},
        headers=htmx,
    )
    assert added.status_code == 200 and added.text.lstrip().startswith(
        '<section class="card" id="quote-lines">'
    )
    assert "$96.00" in added.text  # 160 − 80 + 16 tax
    bad = owner.post(
        f"{quote_url}/lines",
        data={"product_id": catalogue["widget"], "quantity": "-2", "discount_percent": "150"},
        headers=htmx,
    )
    assert bad.status_code == 400 and "This cannot be negative." in bad.text
    assert "This is more than 100." in bad.text
    with in_tenant(app, acme) as session:
        (line,) = session.scalars(select(QuoteLine)).unique().all()
        line_id = line.id
    assert "Q-0" in owner.get(f"{base}/deals/{deal_id}").text  # listed on the deal page
    removed = owner.post(f"{quote_url}/lines/{line_id}/delete", headers=htmx)
    assert removed.status_code == 200 and "No lines yet." in removed.text
    owner.post(
        f"{quote_url}/lines",
        data={"description": "Consulting", "quantity": "1", "unit_price": "500"},
    )
    pdf = owner.get(f"{quote_url}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    wrong_book = owner.post(quote_url, data={"price_book_id": catalogue["euro"]})
    assert wrong_book.status_code == 400 and "is in EUR" in wrong_book.text
    with in_tenant(app, acme) as session:
        version = _deal(session, deal_id).version
    won = owner.post(f"{quote_url}/accept", data={"version": str(version)})
    assert won.status_code == 303
    assert get_deal(app, acme, deal_id).status == "won"
    assert get_deal(app, acme, deal_id).amount == Decimal("500.00")
    after = owner.get(quote_url).text
    assert "Accepted" in after and "Add a line" not in after


def test_quotes_api(client: Any, app: Any, acme: Any, catalogue: dict, recorder: Any) -> None:
    key = auth(make_key(app, acme, "owner@acme.example"))
    deal_id = deal(app, acme, name="Api quote deal")
    bad = client.post(
        "/api/v1/quotes",
        json={
            "deal_id": deal_id,
            "lines": [
                {"product_id": catalogue["widget"], "quantity": 1},
                {"product_id": catalogue["widget"], "quantity": -1, "discount_percent": "101"},
            ],
        },
        headers=key,
    )
    fields = assert_error(bad, 400, "validation_failed")["fields"]
    assert set(fields) == {"lines[1].quantity", "lines[1].discount_percent"}
    with in_tenant(app, acme) as session:
        assert _count(session, Quote) == 0 and _count(session, QuoteLine) == 0
    mismatch = client.post(
        "/api/v1/quotes", json={"deal_id": deal_id, "price_book_id": catalogue["euro"]}, headers=key
    )
    assert set(assert_error(mismatch, 400)["fields"]) == {"price_book_id"}
    created = client.post(
        "/api/v1/quotes",
        json={
            "deal_id": deal_id,
            "valid_until": "2031-01-31",
            "lines": [
                {"product_id": catalogue["widget"], "quantity": 1, "discount_percent": 12.5},
                {"description": "Install", "quantity": "1", "unit_price": "99.99"},
            ],
        },
        headers=key,
    )
    assert created.status_code == 201, created.json
    quote = created.json
    # widget 8000 − 1000 = 7000 + 1400 tax; install 9999
    assert (quote["subtotal_cents"], quote["discount_cents"], quote["tax_cents"]) == (
        17999,
        1000,
        1400,
    )
    assert quote["total_cents"] == 18399 and quote["valid_until"] == "2031-01-31"
    assert [line["total_cents"] for line in quote["lines"]] == [8400, 9999]
    url = f"/api/v1/quotes/{quote['id']}"
    assert (
        client.get(f"/api/v1/quotes?deal_id={deal_id}", headers=key).json["data"][0]["id"]
        == quote["id"]
    )
    added = client.post(
        f"{url}/lines",
        json={"description": "Extra", "quantity": "2", "unit_price": "0.5"},
        headers=key,
    )
    assert added.status_code == 201 and added.json["total_cents"] == 18499
    line_id = added.json["lines"][-1]["id"]
    assert client.delete(f"{url}/lines/{line_id}", headers=key).json["total_cents"] == 18399
    pdf = client.get(f"{url}/pdf", headers=key)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    stale = client.post(f"{url}/accept", json={"version": 99}, headers=key)
    assert_error(stale, 409, "conflict")
    accepted = client.post(f"{url}/accept", json={}, headers=key)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    deal_json = client.get(f"/api/v1/deals/{deal_id}", headers=key).json
    assert (deal_json["status"], deal_json["amount"]) == ("won", "183.99")
    assert [n for n in recorder.names() if n == "deal.won"] == ["deal.won"]
    assert [n for n in recorder.names() if n.startswith("quote.")] == ["quote.accepted"]


def test_another_tenants_and_invisible_quotes_are_404(
    app: Any, acme: Any, owner: Any, client: Any, catalogue: dict, factory: Any
) -> None:
    bravo = sales_tenant(app, "bravo", "owner@bravo.example")
    their_deal = deal(app, bravo, name="Bravo secret deal")
    with in_tenant(app, bravo) as session:
        theirs = create_quote(_deal(session, their_deal))
        add_line(theirs, {"description": "Bravo secret line", "quantity": "1", "unit_price": "7"})
        book = create_price_book({"name": "Bravo book", "currency": "USD"})
        product = create_product({"code": "BS", "name": "Bravo secret", "unit_price": "1"})
        session.commit()
        ids = {
            "quote": str(theirs.id),
            "line": str(lines_of(theirs)[0].id),
            "book": str(book.id),
            "product": str(product.id),
            "deal": their_deal,
        }
    base = "/t/acme/sales"
    for url in (
        f"{base}/quotes/{ids['quote']}",
        f"{base}/quotes/{ids['quote']}/pdf",
        f"{base}/price-books/{ids['book']}",
        f"{base}/products/{ids['product']}/edit",
    ):
        assert owner.get(url).status_code == 404, url
    for url in (
        f"{base}/quotes/{ids['quote']}/accept",
        f"{base}/quotes/{ids['quote']}/lines",
        f"{base}/quotes/{ids['quote']}/lines/{ids['line']}/delete",
        f"{base}/deals/{ids['deal']}/quotes",
        f"{base}/price-books/{ids['book']}/entries",
    ):
        assert owner.post(url, data={"description": "x", "quantity": "1"}).status_code == 404, url
    key = auth(make_key(app, acme, "owner@acme.example"))
    for url in (
        f"/api/v1/quotes/{ids['quote']}",
        f"/api/v1/products/{ids['product']}",
        f"/api/v1/price-books/{ids['book']}",
    ):
        assert client.get(url, headers=key).status_code == 404, url
    assert (
        client.post(f"/api/v1/quotes/{ids['quote']}/accept", json={}, headers=key).status_code
        == 404
    )
    made = client.post("/api/v1/quotes", json={"deal_id": ids["deal"]}, headers=key)
    assert made.status_code == 404
    mine = deal(app, acme, name="Mine")
    smuggled = client.post(
        "/api/v1/quotes",
        json={"deal_id": mine, "lines": [{"product_id": ids["product"], "quantity": 1}]},
        headers=key,
    )
    assert set(assert_error(smuggled, 400)["fields"]) == {"lines[0].product_id"}
    assert client.get("/api/v1/quotes", headers=key).json["data"] == []
    with in_tenant(app, bravo) as session:
        q = session.scalars(select(Quote)).one()
        assert (q.status, q.total_cents) == ("draft", 700)
    # under the "own" rule a rep sees neither the owner's deal nor its quotes
    with in_tenant(app, acme) as session:
        q = create_quote(_deal(session, mine))
        save_visibility_settings(session.get(Tenant, acme.id), {"member": "own"})
        session.commit()
        quote_id = str(q.id)
    factory.member(acme, "rep2@acme.example", "member")
    rep = signed_in(app, "rep2@acme.example")
    assert rep.get(f"{base}/deals/{mine}").status_code == 404
    assert rep.get(f"{base}/quotes/{quote_id}").status_code == 404
    assert rep.get(f"{base}/quotes/{quote_id}/pdf").status_code == 404
    assert owner.get(f"{base}/quotes/{quote_id}").status_code == 200
