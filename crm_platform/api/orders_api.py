"""``/api/v1/orders``: list (filters, keyset pages), get, create, update (PATCH) and delete,
all through the order service (``crm_platform.order_service``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, abort, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import require_permission
from ..extensions import db
from ..ids import parse_uuid
from ..order_service import (
    HEADER_FIELDS,
    LINE_FIELDS,
    create_order,
    delete_order,
    get_order,
    parse_when,
    update_order,
    visible_orders_clause,
)
from ..orders import ORDER_SOURCES, ORDER_STATUSES, Order
from ..provisioning import ValidationFailed
from .blueprint import bp
from .errors import validation_error
from .helpers import api_doc, api_page, json_body
from .serialize import json_value

READ_ONLY = frozenset({"id", "object", "source", "created_at", "updated_at", "created_by_id"})
NUMBERS = frozenset({"total", "quantity", "unit_price", "discount", "tax"})
LIST_FILTERS = {
    "contact_id": "Orders of this contact.",
    "account_id": "Orders of this account.",
    "status": "One of: " + ", ".join(ORDER_STATUSES) + ".",
    "source": "One of: " + ", ".join(ORDER_SOURCES) + ".",
    "external_ref": "The order with this reference (with source).",
    "since": "Ordered at or after this time (ISO 8601).",
    "until": "Ordered before this time (ISO 8601).",
}


def order_json(order: Order) -> dict[str, Any]:
    """An order with its lines as the API shows it (amounts as decimal strings)."""
    out: dict[str, Any] = {"id": str(order.id), "object": "order"}
    for name in HEADER_FIELDS:
        value = getattr(order, name)
        out[name] = str(value) if name == "total" else json_value(value)
    out["source"] = order.source
    out["lines"] = [
        {
            "product_name": line.product_name,
            "sku": line.sku,
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
            "discount": str(line.discount),
            "tax": str(line.tax),
            "amount": str(line.amount),
        }
        for line in order.lines
    ]
    out["created_at"] = json_value(order.created_at)
    out["updated_at"] = json_value(order.updated_at)
    return out


def _value_ok(name: str, value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return name in NUMBERS and isinstance(value, int | float) and not isinstance(value, bool)


def order_input(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` checked for names and JSON types; 400 naming unknown or mistyped fields."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in body.items():
        if name in READ_ONLY:
            continue
        if name == "lines":
            if not isinstance(value, list):
                errors["lines"] = "Expected a list of lines."
                continue
            for i, line in enumerate(value):
                if not isinstance(line, dict):
                    errors[f"lines.{i}"] = "Expected an object."
                    continue
                for key, item in line.items():
                    if key == "amount":
                        continue
                    if key not in LINE_FIELDS:
                        errors[f"lines.{i}.{key}"] = "Unknown field."
                    elif not _value_ok(key, item):
                        errors[f"lines.{i}.{key}"] = "Expected a string, a number or null."
            data["lines"] = value
        elif name not in HEADER_FIELDS:
            errors[name] = "Unknown field."
        elif not _value_ok(name, value):
            errors[name] = "Expected a string or null."
        else:
            data[name] = value
    if errors:
        raise validation_error(errors)
    return data


def _visible(order_id: str) -> Order:
    order = get_order(order_id, g.membership)
    if order is None:
        abort(404)
    return order


@bp.get("/orders")
@api_doc(
    response_schema="Order",
    many=True,
    parameters=[
        {
            "name": n,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": d,
        }
        for n, d in LIST_FILTERS.items()
    ],
)
@require_permission("records.read")
def order_list() -> Any:
    """List orders, newest first (filters by customer, status, source, time)."""
    stmt = select(Order)
    clause = visible_orders_clause(g.membership)
    if clause is not None:
        stmt = stmt.where(clause)
    errors: dict[str, str] = {}
    for name in request.args:
        if name not in LIST_FILTERS and name not in ("limit", "cursor"):
            errors[name] = "Unknown query parameter."
    for name in ("contact_id", "account_id"):
        if name in request.args:
            rid = parse_uuid(request.args[name])
            if rid is None:
                errors[name] = "Not an id."
            stmt = stmt.where(getattr(Order, name) == rid)
    for name, choices in (("status", ORDER_STATUSES), ("source", ORDER_SOURCES)):
        if name in request.args:
            if request.args[name] not in choices:
                errors[name] = "Choose one of: " + ", ".join(choices) + "."
            stmt = stmt.where(getattr(Order, name) == request.args[name])
    if "external_ref" in request.args:
        stmt = stmt.where(Order.external_ref == request.args["external_ref"])
    for name in ("since", "until"):
        if name in request.args:
            try:
                when = parse_when(request.args[name])
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            if when is not None:
                column = Order.ordered_at
                stmt = stmt.where(column >= when if name == "since" else column < when)
    if errors:
        raise validation_error(errors, "Some query parameters are not valid.")
    return api_page(stmt, Order.id, order_json, list_name="orders", descending=True)


@bp.get("/orders/<order_id>")
@api_doc(response_schema="Order")
@require_permission("records.read")
def order_get(order_id: str) -> Any:
    """Get one order with its lines."""
    return order_json(_visible(order_id))


@bp.post("/orders")
@api_doc(request_schema="OrderInput", response_schema="Order", status=201)
@require_permission("records.write")
def order_create() -> Any:
    """Create an order (source ``api``); the total is the sum of the lines when given."""
    data = order_input(json_body())
    try:
        order = create_order(data, source="api", actor=current_user, membership=g.membership)
    except ValidationFailed as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from exc
    db.session.commit()
    return order_json(order), 201, {"Location": url_for("api.order_get", order_id=order.id)}


@bp.patch("/orders/<order_id>")
@api_doc(request_schema="OrderPatch", response_schema="Order")
@require_permission("records.write")
def order_update(order_id: str) -> Any:
    """Change some fields of an order (``lines`` replaces every line)."""
    order = _visible(order_id)
    data = order_input(json_body())
    try:
        update_order(order, data, actor=current_user, membership=g.membership)
    except ValidationFailed as exc:
        db.session.rollback()
        raise validation_error(exc.errors) from exc
    db.session.commit()
    return order_json(order)


@bp.delete("/orders/<order_id>")
@api_doc(status=204)
@require_permission("records.delete")
def order_delete(order_id: str) -> Any:
    """Delete an order (entered by mistake)."""
    delete_order(_visible(order_id), actor=current_user)
    db.session.commit()
    return Response(status=204)
