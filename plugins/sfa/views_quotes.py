"""Pages of products, price books and quotes.

Products and price books: everyone with ``sfa.read`` sees them, ``sfa.manage`` (admins)
changes them. Quotes live on a deal: whoever sees the deal sees its quotes, ``sfa.write``
drafts and decides them. The quote editor adds and removes lines with htmx (the lines and
totals are swapped in place); without script the same forms post and come back to the page.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from crm_platform.sdk import ValidationFailed, db, require_permission

from .blueprint import bp, is_htmx, membership, money
from .deals import StaleDeal
from .forms import ButtonForm, apply_errors, options
from .models import Deal
from .products import (
    all_price_books,
    all_products,
    create_price_book,
    create_product,
    entries,
    find_price_book,
    find_product,
    margin_percent,
    product_lines,
    remove_entry,
    set_entry,
    update_price_book,
    update_product,
)
from .quote_forms import EntryForm, PriceBookForm, ProductForm, QuoteForm, QuoteLineForm
from .quote_models import Quote
from .quote_pdf import render_quote_pdf
from .quotes import (
    STATUS_LABELS,
    accept_quote,
    add_line,
    cents_to_decimal,
    create_quote,
    find_line,
    lines_of,
    mark_sent,
    quote_summary,
    quotes_of,
    reject_quote,
    remove_line,
    update_quote,
    visible_quote,
)
from .settings import sales_settings
from .visibility import get_visible_or_404


@bp.app_template_global("sfa_deal_quotes")
def deal_quotes(deal: Deal) -> list[Quote]:
    """The deal's quotes (for the deal page's panel)."""
    return quotes_of(deal)


@bp.app_template_filter("sfa_cents")
def cents_money(cents: int, currency: str) -> str:
    """Integer cents in their currency, in the reader's language."""
    return money(cents_to_decimal(cents), currency)


@bp.app_template_filter("sfa_number")
def plain_number(value: Decimal | int | None) -> str:
    """A quantity or percent without trailing zeros (``2.500`` → ``2.5``)."""
    number = Decimal(value or 0).normalize()
    return f"{number:f}"


@bp.app_template_global("sfa_margin")
def margin(price: Decimal | None, cost: Decimal | None) -> str:
    """The margin in percent of the price (``40.0%``), empty when the cost is not known."""
    value = margin_percent(price, cost)
    return "" if value is None else f"{value:f}%"


@bp.app_template_global("sfa_quote_status")
def quote_status(status: str) -> str:
    """A quote status in the reader's language."""
    return str(STATUS_LABELS.get(status, status))


# --------------------------------------------------------------------------- products


@bp.get("/products")
@require_permission("sfa.read")
def products() -> Any:
    """The product catalogue (``?q=`` filters by code or name, ``?line=`` by product line,
    ``?line=none`` the products without one)."""
    q = (request.args.get("q") or "").strip()[:100]
    line = (request.args.get("line") or "").strip()[:60]
    wanted = "" if line == "none" else (line or None)
    return render_template(
        "sfa/products.html",
        products=all_products(q=q or None, product_line=wanted),
        q=q,
        line=line,
        lines=product_lines(),
        can_manage=membership().can("sfa.manage"),
    )


def _product_data(form: ProductForm) -> dict[str, Any]:
    names = (
        "code",
        "name",
        "description",
        "unit_price",
        "currency",
        "tax_rate",
        "cost",
        "product_line",
        "active",
    )
    return {name: form[name].data for name in names}


@bp.route("/products/new", methods=["GET", "POST"])
@require_permission("sfa.manage")
def product_new() -> Any:
    """Add a product to the catalogue."""
    form = ProductForm()
    if request.method == "GET":
        form.currency.data = sales_settings().currency
        form.tax_rate.data = "0"
    elif form.validate_on_submit():
        try:
            row = create_product(_product_data(form), default_currency=sales_settings().currency)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc.errors, "name")
        else:
            db.session.commit()
            flash(_("Product “%(name)s” added.", name=row.name), "success")
            return redirect(url_for("sfa.products")), 303
    status = 400 if request.method == "POST" else 200
    return render_template("sfa/product_form.html", form=form, product=None), status


@bp.route("/products/<product_id>/edit", methods=["GET", "POST"])
@require_permission("sfa.manage")
def product_edit(product_id: str) -> Any:
    """Change a product (prices already on quotes stay as they were)."""
    row = find_product(product_id) or abort(404)
    form = ProductForm(obj=row) if request.method == "GET" else ProductForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                update_product(row, _product_data(form))
            except ValidationFailed as exc:
                db.session.rollback()
                apply_errors(form, exc.errors, "name")
            else:
                db.session.commit()
                flash(_("Product “%(name)s” saved.", name=row.name), "success")
                return redirect(url_for("sfa.products")), 303
        return render_template("sfa/product_form.html", form=form, product=row), 400
    return render_template("sfa/product_form.html", form=form, product=row)


# --------------------------------------------------------------------------- price books


def _book_data(form: PriceBookForm) -> dict[str, Any]:
    names = ("name", "currency", "customer_group", "channel", "is_default", "active")
    return {name: form[name].data for name in names}


@bp.route("/price-books", methods=["GET", "POST"])
@require_permission("sfa.read")
def price_books() -> Any:
    """Price books, and (admins) a form for a new one."""
    form = PriceBookForm()
    status = 200
    if request.method == "POST":
        if not membership().can("sfa.manage"):
            abort(403)
        if form.validate_on_submit():
            try:
                book = create_price_book(_book_data(form))
            except ValidationFailed as exc:
                db.session.rollback()
                apply_errors(form, exc.errors, "name")
            else:
                db.session.commit()
                flash(_("Price book “%(name)s” created.", name=book.name), "success")
                return redirect(url_for("sfa.price_book", book_id=book.id)), 303
        status = 400
    else:
        form.currency.data = sales_settings().currency
    return render_template(
        "sfa/pricebooks.html",
        books=all_price_books(),
        form=form,
        can_manage=membership().can("sfa.manage"),
    ), status


def _entry_form() -> EntryForm:
    form = EntryForm()
    form.product_id.choices = options(
        [("", "—"), *((p.id, f"{p.code} · {p.name}") for p in all_products(active_only=True))]
    )
    return form


def _book_page(book: Any, form: Any = None, entry_form: Any = None, status: int = 200) -> Any:
    if form is None:
        form = PriceBookForm(obj=book)
    return render_template(
        "sfa/pricebook.html",
        book=book,
        entries=entries(book),
        form=form,
        entry_form=entry_form or _entry_form(),
        button=ButtonForm(),
        can_manage=membership().can("sfa.manage"),
    ), status


@bp.get("/price-books/<book_id>")
@require_permission("sfa.read")
def price_book(book_id: str) -> Any:
    """A price book: its settings and its prices."""
    return _book_page(find_price_book(book_id) or abort(404))


@bp.post("/price-books/<book_id>/edit")
@require_permission("sfa.manage")
def price_book_edit(book_id: str) -> Any:
    """Save a price book's name, currency, customer group, channel and flags."""
    book = find_price_book(book_id) or abort(404)
    form = PriceBookForm()
    if form.validate_on_submit():
        try:
            update_price_book(book, _book_data(form))
        except ValidationFailed as exc:
            db.session.rollback()
            book = find_price_book(book_id)
            apply_errors(form, exc.errors, "name")
        else:
            db.session.commit()
            flash(_("Price book “%(name)s” saved.", name=book.name), "success")
            return redirect(url_for("sfa.price_book", book_id=book.id)), 303
    return _book_page(book, form=form, status=400)


@bp.post("/price-books/<book_id>/entries")
@require_permission("sfa.manage")
def price_book_entry(book_id: str) -> Any:
    """Set a product's price in the book."""
    book = find_price_book(book_id) or abort(404)
    form = _entry_form()
    if form.validate_on_submit():
        try:
            set_entry(book, form.product_id.data, form.unit_price.data)
        except ValidationFailed as exc:
            db.session.rollback()
            book = find_price_book(book_id)
            apply_errors(form, exc.errors, "product_id")
        else:
            db.session.commit()
            flash(_("Price saved."), "success")
            return redirect(url_for("sfa.price_book", book_id=book.id)), 303
    return _book_page(book, entry_form=form, status=400)


@bp.post("/price-books/<book_id>/entries/<entry_id>/delete")
@require_permission("sfa.manage")
def price_book_entry_delete(book_id: str, entry_id: str) -> Any:
    """Take a price out of the book."""
    book = find_price_book(book_id) or abort(404)
    if not ButtonForm().validate_on_submit() or not remove_entry(book, entry_id):
        abort(404)
    db.session.commit()
    flash(_("Price removed."), "success")
    return redirect(url_for("sfa.price_book", book_id=book.id)), 303


# --------------------------------------------------------------------------- quotes


def _quote_or_404(quote_id: str) -> Quote:
    return visible_quote(quote_id, membership()) or abort(404)


def _line_form(quote: Quote) -> QuoteLineForm:
    form = QuoteLineForm()
    form.product_id.choices = options(
        [
            ("", _("— free text line —")),
            *((p.id, f"{p.code} · {p.name}") for p in all_products(active_only=True)),
        ]
    )
    return form


def _quote_form(quote: Quote) -> QuoteForm:
    form = QuoteForm(obj=quote) if request.method == "GET" else QuoteForm()
    books = all_price_books(currency=quote.currency, active_only=True)
    form.price_book_id.choices = options(
        [("", _("— list prices —")), *((b.id, b.name) for b in books)]
    )
    if request.method == "GET":
        form.price_book_id.data = str(quote.price_book_id or "")
    return form


def _lines_context(quote: Quote, line_form: QuoteLineForm | None = None) -> dict[str, Any]:
    return {
        "quote": quote,
        "lines": lines_of(quote),
        "totals": quote_summary(quote),
        "line_form": line_form or _line_form(quote),
        "can_write": membership().can("sfa.write"),
        "button": ButtonForm(),
    }


def _quote_page(quote: Quote, *, form: Any = None, line_form: Any = None, status: int = 200):
    return render_template(
        "sfa/quote.html",
        deal=quote.deal,
        form=form or _quote_form(quote),
        status_labels=STATUS_LABELS,
        **_lines_context(quote, line_form),
    ), status


@bp.post("/deals/<deal_id>/quotes")
@require_permission("sfa.write")
def quote_new(deal_id: str) -> Any:
    """Draft a new quote on a deal (priced from the deal's price book)."""
    deal = get_visible_or_404(Deal, deal_id, membership())
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        quote = create_quote(
            deal, {"price_book_id": request.form.get("price_book_id")}, actor=current_user
        )
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("sfa.deal", deal_id=deal_id)), 303
    db.session.commit()
    flash(_("Quote %(number)s drafted.", number=quote.label), "success")
    return redirect(url_for("sfa.quote", quote_id=quote.id)), 303


@bp.get("/quotes/<quote_id>")
@require_permission("sfa.read")
def quote(quote_id: str) -> Any:
    """The quote editor: its settings, lines and totals, and what can be done with it."""
    return _quote_page(_quote_or_404(quote_id))


@bp.post("/quotes/<quote_id>")
@require_permission("sfa.write")
def quote_edit(quote_id: str) -> Any:
    """Save a draft's price book, validity and notes."""
    row = _quote_or_404(quote_id)
    form = _quote_form(row)
    if form.validate_on_submit():
        try:
            update_quote(
                row,
                {
                    "price_book_id": form.price_book_id.data,
                    "valid_until": form.valid_until.data,
                    "notes": form.notes.data,
                },
            )
        except ValidationFailed as exc:
            db.session.rollback()
            row = _quote_or_404(quote_id)
            apply_errors(form, exc.errors, "notes")
        else:
            db.session.commit()
            flash(_("Quote %(number)s saved.", number=row.label), "success")
            return redirect(url_for("sfa.quote", quote_id=row.id)), 303
    return _quote_page(row, form=form, status=400)


def _lines_answer(quote: Quote, line_form: Any = None, status: int = 200) -> Any:
    """After a line change: the lines and totals (htmx) or the page again."""
    if is_htmx():
        return render_template("sfa/quote_lines.html", **_lines_context(quote, line_form)), status
    if status >= 400:
        return _quote_page(quote, line_form=line_form, status=status)
    return redirect(url_for("sfa.quote", quote_id=quote.id) + "#quote-lines"), 303


@bp.post("/quotes/<quote_id>/lines")
@require_permission("sfa.write")
def quote_line_add(quote_id: str) -> Any:
    """Add a line (a product at its price book price, or a free text line)."""
    row = _quote_or_404(quote_id)
    form = _line_form(row)
    if not form.validate_on_submit():
        return _lines_answer(row, form, 400)
    data = {
        name: form[name].data
        for name in (
            "product_id",
            "description",
            "quantity",
            "unit_price",
            "discount_percent",
            "tax_rate",
        )
    }
    try:
        add_line(row, data)
    except ValidationFailed as exc:
        db.session.rollback()
        row = _quote_or_404(quote_id)
        apply_errors(form, exc.errors, "product_id")
        return _lines_answer(row, form, 400)
    db.session.commit()
    return _lines_answer(row)


@bp.post("/quotes/<quote_id>/lines/<line_id>/delete")
@require_permission("sfa.write")
def quote_line_delete(quote_id: str, line_id: str) -> Any:
    """Remove a line of a draft."""
    row = _quote_or_404(quote_id)
    line = find_line(row, line_id) or abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        remove_line(row, line)
    except ValidationFailed as exc:
        db.session.rollback()
        row = _quote_or_404(quote_id)
        form = _line_form(row)
        apply_errors(form, exc.errors, "product_id")
        return _lines_answer(row, form, 400)
    db.session.commit()
    return _lines_answer(row)


def _decide(quote_id: str, action: Any, done: str) -> Any:
    row = _quote_or_404(quote_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        action(row)
        db.session.commit()
    except (StaleDeal, StaleDataError):
        db.session.rollback()
        flash(_("Someone else changed the deal a moment ago. Nothing was saved."), "error")
        return redirect(url_for("sfa.quote", quote_id=quote_id)), 303
    except ValidationFailed as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for("sfa.quote", quote_id=quote_id)), 303
    flash(done, "success")
    return redirect(url_for("sfa.quote", quote_id=quote_id)), 303


@bp.post("/quotes/<quote_id>/send")
@require_permission("sfa.write")
def quote_send(quote_id: str) -> Any:
    """Mark a draft as sent to the customer."""
    return _decide(
        quote_id, lambda q: mark_sent(q, actor=current_user), _("The quote is marked as sent.")
    )


@bp.post("/quotes/<quote_id>/accept")
@require_permission("sfa.write")
def quote_accept(quote_id: str) -> Any:
    """The customer accepted: the deal is won at the quote's total."""
    return _decide(
        quote_id,
        lambda q: accept_quote(q, actor=current_user, version=request.form.get("version")),
        _("The quote is accepted and the deal is won."),
    )


@bp.post("/quotes/<quote_id>/reject")
@require_permission("sfa.write")
def quote_reject(quote_id: str) -> Any:
    """The customer said no."""
    return _decide(
        quote_id,
        lambda q: reject_quote(q, actor=current_user),
        _("The quote is marked as rejected."),
    )


@bp.get("/quotes/<quote_id>/pdf")
@require_permission("sfa.read")
def quote_pdf(quote_id: str) -> Any:
    """The quote as a PDF file."""
    row = _quote_or_404(quote_id)
    body = render_quote_pdf(row, g.tenant.name)
    name = f"{row.label}-{date.today().isoformat()}.pdf"
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
