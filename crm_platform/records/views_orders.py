"""Order pages: the workspace's orders, one order, entering an order for a customer.

Routes on the ``workspace`` blueprint: ``workspace.orders``, ``workspace.order``,
``workspace.order_new`` (``?contact_id=`` / ``?account_id=`` from a record's Orders panel) and
``workspace.order_delete``. Writes go through :mod:`crm_platform.order_service`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import FieldList, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional

from ..access import require_permission
from ..customers import Account, Contact
from ..extensions import db
from ..ids import parse_uuid
from ..order_service import (
    create_order,
    delete_order,
    get_order,
    orders_of,
    visible_orders_clause,
)
from ..orders import (
    ORDER_SOURCES,
    ORDER_STATUSES,
    REVENUE_STATUSES,
    SOURCE_LABELS,
    STATUS_LABELS,
    Order,
)
from ..plugin_types import Panel
from ..provisioning import ValidationFailed
from ..web import tenant_bp
from .forms import ButtonForm
from .pages import account_choices, membership
from .visibility import find_visible

PAGE = 50
LINE_ROWS = 5


class LineForm(Form):
    """One product line (no CSRF token of its own)."""

    product_name = StringField(_l("Product"), validators=[Optional(), Length(max=200)])
    sku = StringField(_l("SKU"), validators=[Optional(), Length(max=80)])
    quantity = StringField(_l("Quantity"), render_kw={"inputmode": "decimal"})
    unit_price = StringField(_l("Unit price"), render_kw={"inputmode": "decimal"})
    discount = StringField(_l("Discount"), render_kw={"inputmode": "decimal"})
    tax = StringField(_l("Tax"), render_kw={"inputmode": "decimal"})


class OrderForm(FlaskForm):
    """An order entered by hand."""

    account_id = SelectField(_l("Account"), choices=[], validate_choice=False)
    number = StringField(_l("Order number"), validators=[Optional(), Length(max=40)])
    ordered_at = StringField(_l("Order date"), render_kw={"type": "date"})
    status = SelectField(
        _l("Status"), choices=[SelectChoice(s, STATUS_LABELS[s]) for s in ORDER_STATUSES]
    )
    currency = StringField(_l("Currency"), default="USD", validators=[Length(max=3)])
    total = StringField(_l("Total"), render_kw={"inputmode": "decimal"})
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])
    lines = FieldList(FormField(LineForm), min_entries=LINE_ROWS, max_entries=50)


def orders_panel(record: Any, kind: str, member: Any) -> Panel:
    """The Orders panel of an account or contact page: newest orders and revenue."""
    column = Order.account_id if kind == "account" else Order.contact_id
    count, revenue, last = db.session.execute(
        select(
            func.count(Order.id),
            func.coalesce(func.sum(Order.total), 0),
            func.max(Order.ordered_at),
        ).where(column == record.id, Order.status.in_(REVENUE_STATUSES))
    ).one()
    args = {f"{kind}_id": record.id}
    html = render_template(
        "orders/_panel.html",
        kind=kind,
        orders=orders_of(kind, record, limit=10),
        stats={
            "count": count,
            "revenue": f"{Decimal(revenue):,.2f}",
            "last": last.strftime("%Y-%m-%d") if last else "",
        },
        can_write=member.can("records.write"),
        new_url=url_for("workspace.order_new", **args),
    )
    return Panel(title=_("Orders"), html=html, order=20, key="orders")


@tenant_bp.get("/orders")
@require_permission("records.read")
def orders() -> Any:
    """Orders of the customers the member sees, newest first (``?status=``, ``?source=``)."""
    stmt = select(Order)
    clause = visible_orders_clause(membership())
    if clause is not None:
        stmt = stmt.where(clause)
    status = request.args.get("status", "")
    source = request.args.get("source", "")
    if status in ORDER_STATUSES:
        stmt = stmt.where(Order.status == status)
    if source in ORDER_SOURCES:
        stmt = stmt.where(Order.source == source)
    before = parse_uuid(request.args.get("before", ""))
    if before is not None:
        stmt = stmt.where(Order.id < before)
    rows = list(db.session.scalars(stmt.order_by(Order.id.desc()).limit(PAGE + 1)).unique())
    more = rows[PAGE - 1].id if len(rows) > PAGE else None
    return render_template(
        "orders/list.html",
        orders=rows[:PAGE],
        more=more,
        status=status,
        source=source,
        statuses=[(s, STATUS_LABELS[s]) for s in ORDER_STATUSES],
        sources=[(s, SOURCE_LABELS[s]) for s in ORDER_SOURCES],
    )


@tenant_bp.get("/orders/<order_id>")
@require_permission("records.read")
def order(order_id: str) -> Any:
    """One order with its lines."""
    found = get_order(order_id, membership())
    if found is None:
        abort(404)
    return render_template(
        "orders/detail.html",
        order=found,
        button_form=ButtonForm(),
        can_delete=membership().can("records.delete"),
    )


def _customer() -> tuple[Contact | None, Account | None]:
    contact = find_visible(Contact, request.args.get("contact_id", ""), membership())
    account = find_visible(Account, request.args.get("account_id", ""), membership())
    if contact is not None and account is None and contact.account_id:
        account = find_visible(Account, contact.account_id, membership())
    return contact, account


def _submitted(form: OrderForm, contact: Contact | None) -> dict[str, Any]:
    data = {
        name: form[name].data
        for name in ("number", "ordered_at", "status", "currency", "total", "notes")
    }
    data["account_id"] = form.account_id.data or None
    data["contact_id"] = str(contact.id) if contact is not None else None
    data["lines"] = [entry.data for entry in form.lines.entries]
    if not any(line.get("product_name") or line.get("unit_price") for line in data["lines"]):
        data.pop("lines")
    return data


def _show_errors(form: OrderForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        parts = name.split(".")
        if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(form.lines.entries):
                form.lines.entries[index][parts[2]].errors = [message]
                continue
        target = form._fields.get(name) or form.total
        if name == "contact_id":
            target = form.account_id
        target.errors = [*target.errors, message]


@tenant_bp.route("/orders/new", methods=["GET", "POST"])
@require_permission("records.write")
def order_new() -> Any:
    """Enter an order for a contact (``?contact_id=``) or an account (``?account_id=``)."""
    contact, account = _customer()
    form = OrderForm(data={"account_id": str(account.id) if account else ""})
    form.account_id.choices = account_choices(account)
    if form.validate_on_submit():
        try:
            created = create_order(
                _submitted(form, contact), actor=current_user, membership=membership()
            )
        except ValidationFailed as exc:
            db.session.rollback()
            _show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("Order %(number)s was saved.", number=created.number), "success")
            if contact is not None:
                return redirect(url_for("workspace.contact", contact_id=contact.id) + "#orders")
            return redirect(url_for("workspace.order", order_id=created.id))
    status = 400 if form.is_submitted() else 200
    return render_template("orders/form.html", form=form, contact=contact), status


@tenant_bp.post("/orders/<order_id>/delete")
@require_permission("records.delete")
def order_delete(order_id: str) -> Any:
    """Delete an order entered by mistake."""
    found = get_order(order_id, membership())
    if found is None:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    number = found.number
    delete_order(found, actor=current_user)
    db.session.commit()
    flash(_("Order %(number)s was deleted.", number=number), "success")
    return redirect(url_for("workspace.orders")), 303
