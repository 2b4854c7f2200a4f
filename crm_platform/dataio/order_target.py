"""The core's ``orders`` import target: one spreadsheet row is one order (with one line).

The customer is found by the contact's e-mail (or id) and/or the account's name (or id),
among the live records the importer may see. The row's order number becomes the order's
``external_ref`` with source ``import``, so importing the same file again finds the orders
already there (skip, or update them). Every order goes through the order service
(:func:`crm_platform.order_service.create_order`), so it emits ``order.created`` like an order
entered by hand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..customers import Account, Contact, name_key
from ..extensions import db
from ..ids import parse_uuid
from ..order_service import check_order, create_order, update_order
from ..orders import ORDER_STATUSES, STATUS_LABELS, Order
from ..plugin_types import ImportTarget
from ..provisioning import ValidationFailed
from ..records.validation import clean_email
from ..records.visibility import live_and_visible
from .engine import RowResult, SourceRow
from .mapping import header_key

FIELDS = {
    "number": _l("Order number"),
    "contact": _l("Contact (e-mail)"),
    "account": _l("Account"),
    "ordered_at": _l("Order date"),
    "status": _l("Status"),
    "currency": _l("Currency"),
    "total": _l("Total"),
    "product_name": _l("Product"),
    "sku": _l("SKU"),
    "quantity": _l("Quantity"),
    "unit_price": _l("Unit price"),
    "notes": _l("Notes"),
}
ALIASES: dict[str, tuple[str, ...]] = {
    "number": ("order", "order no", "order number", "order id", "订单号", "订单编号"),
    "contact": ("email", "e-mail", "customer email", "contact email", "邮箱", "客户邮箱"),
    "account": ("company", "account name", "customer", "公司", "客户"),
    "ordered_at": ("date", "order date", "created", "下单时间", "订单日期", "日期"),
    "status": ("order status", "状态"),
    "currency": ("币种", "货币"),
    "total": ("amount", "order total", "grand total", "金额", "总额", "订单金额"),
    "product_name": ("product", "item", "product name", "商品", "产品"),
    "sku": ("product code", "item code", "货号"),
    "quantity": ("qty", "数量"),
    "unit_price": ("price", "单价"),
    "notes": ("note", "comment", "备注"),
}


def order_target() -> ImportTarget:
    """The ``orders`` import target."""
    return ImportTarget(
        key="orders",
        label=str(_("Orders")),
        fields={k: str(v) for k, v in FIELDS.items()},
        import_row=import_order_row,
        required=("number",),
        aliases=ALIASES,
        permission="records.write",
        dedupe_fields=("number",),
        batch=OrderImporter,
    )


def import_order_row(values: dict[str, Any]) -> Any:
    """Import one row (``import_row``); returns the new order's id."""
    importer = OrderImporter(dedupe="create")
    (result,) = importer.check([SourceRow(0, [], {k: str(v) for k, v in values.items()})])
    if result.action == "reject":
        raise ValidationFailed(result.errors)
    importer.write([result])
    return result.payload[2]


class OrderImporter:
    """The batch importer of orders: lookups once per chunk, writes through the service."""

    checks_before_writing = True

    def __init__(self, *, dedupe: str = "skip", membership: Any = None, actor: Any = None):
        self.dedupe = dedupe
        self.membership = membership
        self.actor = actor
        self.seen: dict[str, int] = {}
        self.statuses = {header_key(s): s for s in ORDER_STATUSES}
        for status, label in STATUS_LABELS.items():
            self.statuses.setdefault(header_key(str(label)), status)

    def _lookups(self, rows: Sequence[SourceRow]) -> tuple[dict, dict, dict]:
        emails, names, numbers = set(), set(), set()
        for row in rows:
            contact = row.values.get("contact", "").strip()
            if contact and parse_uuid(contact) is None:
                with contextlib.suppress(ValueError):
                    emails.add(clean_email(contact))
            account = row.values.get("account", "").strip()
            if account and parse_uuid(account) is None:
                names.add(name_key(account))
            if row.values.get("number", "").strip():
                numbers.add(row.values["number"].strip())
        contacts = {}
        if emails:
            stmt = select(Contact.email, Contact.id).where(
                *live_and_visible(Contact, self.membership), Contact.email.in_(emails)
            )
            for email, cid in db.session.execute(stmt.order_by(Contact.id)):
                contacts.setdefault(email, cid)
        accounts = {}
        if names:
            stmt = select(Account.name_key, Account.id).where(
                *live_and_visible(Account, self.membership), Account.name_key.in_(names)
            )
            for key, aid in db.session.execute(stmt.order_by(Account.id)):
                accounts.setdefault(key, aid)
        existing = {}
        if numbers and self.dedupe != "create":
            stmt = select(Order).where(Order.source == "import", Order.external_ref.in_(numbers))
            existing = {o.external_ref: o for o in db.session.scalars(stmt).unique()}
        return contacts, accounts, existing

    def _data(self, values: dict[str, str], contacts: dict, accounts: dict) -> tuple[dict, dict]:
        errors: dict[str, str] = {}
        data: dict[str, Any] = {
            k: values[k] for k in ("ordered_at", "currency", "total", "notes") if k in values
        }
        number = values.get("number", "").strip()
        data["number"] = data["external_ref"] = number or None
        if values.get("status"):
            data["status"] = self.statuses.get(header_key(values["status"]), values["status"])
        contact = values.get("contact", "").strip()
        if contact:
            cid = parse_uuid(contact)
            if cid is None:
                try:
                    cid = contacts.get(clean_email(contact))
                except ValueError:
                    cid = None
                if cid is None:
                    errors["contact"] = _("No contact has the e-mail “%(email)s”.", email=contact)
            data["contact_id"] = str(cid) if cid else None
        account = values.get("account", "").strip()
        if account:
            aid = parse_uuid(account) or accounts.get(name_key(account))
            if aid is None:
                errors["account"] = _("No account is called “%(name)s”.", name=account)
            data["account_id"] = str(aid) if aid else None
        if values.get("product_name") or values.get("unit_price"):
            line = {k: values.get(k) for k in ("product_name", "sku", "quantity", "unit_price")}
            data["lines"] = [line]
        return data, errors

    def check(self, rows: Sequence[SourceRow], *, preview: bool = False) -> list[RowResult]:
        """What each row will do (no writes)."""
        contacts, accounts, existing = self._lookups(rows)
        out = []
        for row in rows:
            data, errors = self._data(row.values, contacts, accounts)
            number = data.get("number")
            if number and number in self.seen:
                errors["number"] = _("Same as line %(line)d.", line=self.seen[number])
            match = existing.get(number) if number else None
            action = "create"
            if match is not None and self.dedupe == "skip":
                out.append(RowResult(row.line, "skip", shown=dict(row.values)))
                continue
            if match is not None and self.dedupe == "update":
                action = "update"
            elif self.dedupe == "create":
                data["external_ref"] = None
            try:
                check_order(data, order=match if action == "update" else None)
            except ValidationFailed as exc:
                errors = {**_field_names(exc.errors), **errors}
            if errors:
                out.append(RowResult(row.line, "reject", errors=errors, shown=dict(row.values)))
                continue
            if number:
                self.seen.setdefault(number, row.line)
            out.append(
                RowResult(row.line, action, shown=dict(row.values), payload=(data, match, None))
            )
        return out

    def write(self, results: Sequence[RowResult]) -> None:
        """Write the accepted rows through the order service (nothing is committed here)."""
        for result in results:
            if result.action not in ("create", "update"):
                continue
            data, match, _x = result.payload
            try:
                with db.session.begin_nested():
                    if result.action == "update":
                        update_order(match, data, actor=self.actor, membership=self.membership)
                        order_id = match.id
                    else:
                        order = create_order(
                            data, source="import", actor=self.actor, membership=self.membership
                        )
                        order_id = order.id
            except ValidationFailed as exc:
                result.action, result.errors = "reject", _field_names(exc.errors)
                continue
            result.payload = (data, match, order_id)


def _field_names(errors: dict[str, str]) -> dict[str, str]:
    """Service errors by import field (``lines.0.quantity`` → ``quantity``)."""
    names = {"contact_id": "contact", "account_id": "account", "external_ref": "number"}
    out = {}
    for name, message in errors.items():
        if name.startswith("lines.0."):
            name = name[len("lines.0.") :]
        out[names.get(name, name)] = str(message)
    return out
