"""Forms of the product, price book and quote pages (Flask-WTF for CSRF and rendering; the
services in ``products.py`` and ``quotes.py`` check every value)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from .forms import Select


class ProductForm(FlaskForm):
    code = StringField(_l("Code (SKU)"), validators=[Length(max=60)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    unit_price = StringField(_l("List price"), render_kw={"inputmode": "decimal"})
    currency = StringField(_l("Currency"), validators=[Length(max=3)])
    tax_rate = StringField(_l("Tax rate (percent)"), render_kw={"inputmode": "decimal"})
    cost = StringField(_l("Unit cost"), render_kw={"inputmode": "decimal"})
    product_line = StringField(_l("Product line"), validators=[Length(max=60)])
    active = BooleanField(_l("Active (can be quoted)"), default=True)


class PriceBookForm(FlaskForm):
    name = StringField(_l("Price book name"), validators=[Length(max=100)])
    currency = StringField(_l("Currency"), validators=[Length(max=3)])
    customer_group = StringField(_l("Customer group"), validators=[Length(max=60)])
    channel = StringField(_l("Channel"), validators=[Length(max=60)])
    is_default = BooleanField(_l("Default (standard) book for its currency"))
    active = BooleanField(_l("Active"), default=True)


class EntryForm(FlaskForm):
    product_id = Select(_l("Product"))
    unit_price = StringField(_l("Price"), render_kw={"inputmode": "decimal"})


class QuoteForm(FlaskForm):
    price_book_id = Select(_l("Price book"))
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    notes = TextAreaField(_l("Notes on the quote"), validators=[Length(max=5000)])


class QuoteLineForm(FlaskForm):
    product_id = Select(_l("Product"))
    description = StringField(_l("Description"), validators=[Length(max=500)])
    quantity = StringField(_l("Quantity"), default="1", render_kw={"inputmode": "decimal"})
    unit_price = StringField(_l("Unit price"), render_kw={"inputmode": "decimal"})
    discount_percent = StringField(_l("Discount (percent)"), render_kw={"inputmode": "decimal"})
    tax_rate = StringField(_l("Tax rate (percent)"), render_kw={"inputmode": "decimal"})
