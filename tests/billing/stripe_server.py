"""A small Stripe-compatible API for the tests: the real ``stripe`` SDK talks to it over HTTP.

Stripe cannot be reached from here, so :class:`FakeStripe` serves the endpoints billing uses
on ``127.0.0.1`` (a real ``ThreadingHTTPServer`` in a thread): form-encoded requests with
Stripe's nested ``a[b][0]=c`` keys, JSON answers, objects kept in memory, idempotency keys
remembered (a repeated key returns the first answer, as Stripe does). Like Stripe it emits
events when subscriptions change; the "dashboard" methods (:meth:`complete_checkout`,
:meth:`fail_payment`, :meth:`pay`, ...) play what a customer or Stripe's dunning would do.
Tests deliver the events to the app signed exactly as Stripe signs them (:func:`signed`).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

from billing.gateways.stripe_gateway import API_VERSION


@dataclass
class Request:
    """One request the server answered."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    stripe_version: str | None


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``[("a[b][0]", "x")]`` → ``{"a": {"b": ["x"]}}`` (Stripe's form encoding)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


class StripeError(Exception):
    """Answered as Stripe's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class FakeStripe:
    """In-memory Stripe: customers, Checkout, portal, subscriptions and items, meter events."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    meter_events: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    clock: int = 0
    url: str = ""
    fail_next: str | None = None  # a path prefix whose next request answers 500

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.clock = int(time.time()) - 100_000

    # ------------------------------------------------------------------ server

    def start(self) -> FakeStripe:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ helpers

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def tick(self) -> int:
        """Stripe's ``created`` of the next event: strictly increasing."""
        self.clock += 1
        return self.clock

    def emit(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.tick(),
            "livemode": False,
            "pending_webhooks": 1,
            "type": type_,
            "data": {"object": copy.deepcopy(obj)},
        }
        self.events.append(event)
        return event

    def take_events(self) -> list[dict[str, Any]]:
        """The events emitted since the last call."""
        out, self.events = self.events, []
        return out

    def calls(self, method: str, path_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # ------------------------------------------------------------------ API

    def handle(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.fail_next and path.startswith(self.fail_next):
            self.fail_next = None
            raise StripeError(500, "simulated outage")
        routes = [
            ("POST", r"^/v1/customers$", self._create_customer),
            ("POST", r"^/v1/checkout/sessions$", self._create_session),
            ("POST", r"^/v1/billing_portal/sessions$", self._create_portal),
            ("GET", r"^/v1/subscriptions/(\w+)$", self._get),
            ("POST", r"^/v1/subscriptions/(\w+)$", self._update_subscription),
            ("POST", r"^/v1/subscription_items$", self._create_item),
            ("POST", r"^/v1/subscription_items/(\w+)$", self._update_item),
            ("DELETE", r"^/v1/subscription_items/(\w+)$", self._delete_item),
            ("POST", r"^/v1/billing/meter_events$", self._meter_event),
        ]
        for verb, pattern, func in routes:
            match = re.match(pattern, path)
            if verb == method and match:
                return func(params, *match.groups())
        raise StripeError(404, f"Unrecognized request URL ({method}: {path})")

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = {
            "id": self.new_id("cus"),
            "object": "customer",
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
        }
        self.objects[customer["id"]] = customer
        return customer

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        sid = self.new_id("cs")
        session = {
            "id": sid,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "status": "open",
            "customer": params.get("customer"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "subscription": None,
            "url": f"{self.url}/checkout/{sid}",
            "line_items": params.get("line_items", []),
            "subscription_data": params.get("subscription_data", {}),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
        }
        self.objects[sid] = session
        return session

    def _create_portal(self, params: dict[str, Any]) -> dict[str, Any]:
        pid = self.new_id("bps")
        return {"id": pid, "object": "billing_portal.session", "url": f"{self.url}/portal/{pid}"}

    def _get(self, params: dict[str, Any], oid: str) -> dict[str, Any]:
        if oid not in self.objects:
            raise StripeError(404, f"No such object: {oid}")
        return self.objects[oid]

    def _item(self, price: str, quantity: int | None, sub: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.new_id("si"),
            "object": "subscription_item",
            "price": {"id": price, "object": "price"},
            "quantity": quantity,
            "subscription": sub["id"],
            "current_period_start": sub["_period"][0],
            "current_period_end": sub["_period"][1],
        }

    def _public(self, sub: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in sub.items() if not k.startswith("_")}

    def _changed(self, sub: dict[str, Any]) -> None:
        self.emit("customer.subscription.updated", self._public(sub))

    def _update_subscription(self, params: dict[str, Any], sid: str) -> dict[str, Any]:
        sub = self._get({}, sid)
        for change in params.get("items", []):
            item = next(i for i in sub["items"]["data"] if i["id"] == change["id"])
            if "price" in change:
                item["price"] = {"id": change["price"], "object": "price"}
            if "quantity" in change:
                item["quantity"] = int(change["quantity"])
        sub["metadata"].update(params.get("metadata", {}))
        sub["_prorations"].append(params.get("proration_behavior"))
        self._changed(sub)
        return self._public(sub)

    def _create_item(self, params: dict[str, Any]) -> dict[str, Any]:
        sub = self._get({}, params["subscription"])
        item = self._item(params["price"], int(params.get("quantity", 1)), sub)
        item["metadata"] = params.get("metadata", {})
        sub["items"]["data"].append(item)
        sub["_prorations"].append(params.get("proration_behavior"))
        self._changed(sub)
        return item

    def _find_item(self, item_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        for obj in self.objects.values():
            if obj.get("object") == "subscription":
                for item in obj["items"]["data"]:
                    if item["id"] == item_id:
                        return obj, item
        raise StripeError(404, f"No such subscription item: '{item_id}'")

    def _update_item(self, params: dict[str, Any], item_id: str) -> dict[str, Any]:
        sub, item = self._find_item(item_id)
        if "quantity" in params:
            item["quantity"] = int(params["quantity"])
        sub["_prorations"].append(params.get("proration_behavior"))
        self._changed(sub)
        return item

    def _delete_item(self, params: dict[str, Any], item_id: str) -> dict[str, Any]:
        sub, item = self._find_item(item_id)
        sub["items"]["data"].remove(item)
        sub["_prorations"].append(params.get("proration_behavior"))
        self._changed(sub)
        return {"id": item_id, "object": "subscription_item", "deleted": True}

    def _meter_event(self, params: dict[str, Any]) -> dict[str, Any]:
        if any(m["identifier"] == params["identifier"] for m in self.meter_events):
            raise StripeError(400, "An event with this identifier already exists")
        event = {"object": "billing.meter_event", **params}
        self.meter_events.append(event)
        return event

    # ------------------------------------------------------------------ the dashboard

    def subscription(self, sid: str) -> dict[str, Any]:
        return self.objects[sid]

    def prorations(self, sid: str) -> list[str | None]:
        return list(self.objects[sid]["_prorations"])

    def _invoice(self, sub: dict[str, Any], status: str) -> dict[str, Any]:
        amount = sum(500 * int(i.get("quantity") or 0) for i in sub["items"]["data"])
        invoice = {
            "id": self.new_id("in"),
            "object": "invoice",
            "customer": sub["customer"],
            "number": f"FAKE-{len(self.objects):04d}",
            "status": status,
            "currency": "usd",
            "total": amount,
            "created": self.clock,
            "due_date": None,
            "period_start": sub["_period"][0],
            "period_end": sub["_period"][1],
            "hosted_invoice_url": f"{self.url}/invoices/x",
            "status_transitions": {"paid_at": None},
            "parent": {"subscription_details": {"subscription": sub["id"]}},
            "lines": {
                "data": [
                    {"description": i["price"]["id"], "quantity": i["quantity"], "amount": 500}
                    for i in sub["items"]["data"]
                ]
            },
        }
        self.objects[invoice["id"]] = invoice
        return invoice

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer paid on the Checkout page: a subscription and a paid invoice."""
        session = self.objects[session_id]
        now = self.clock
        sub = {
            "id": self.new_id("sub"),
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "metadata": dict((session.get("subscription_data") or {}).get("metadata") or {}),
            "cancel_at_period_end": False,
            "canceled_at": None,
            "trial_end": None,
            "created": now,
            "items": {"object": "list", "data": []},
            "_period": (now, now + 30 * 86400),
            "_prorations": [],
        }
        for line in session["line_items"]:
            quantity = line.get("quantity")
            sub["items"]["data"].append(
                self._item(line["price"], int(quantity) if quantity else None, sub)
            )
        self.objects[sub["id"]] = sub
        session.update(status="complete", subscription=sub["id"])
        self.emit("customer.subscription.created", self._public(sub))
        invoice = self._invoice(sub, "open")
        self.emit("invoice.created", invoice)
        self._mark_paid(invoice)
        self.emit("checkout.session.completed", session)
        return sub

    def _mark_paid(self, invoice: dict[str, Any]) -> None:
        invoice["status"] = "paid"
        invoice["status_transitions"]["paid_at"] = self.clock
        self.emit("invoice.paid", invoice)

    def _set_status(self, sub: dict[str, Any], status: str) -> None:
        sub["status"] = status
        if status == "canceled":
            sub["canceled_at"] = self.clock
            self.emit("customer.subscription.deleted", self._public(sub))
        else:
            self._changed(sub)

    def fail_payment(self, sid: str) -> dict[str, Any]:
        """The renewal's payment failed: an open invoice, the subscription past due."""
        sub = self.objects[sid]
        invoice = self._invoice(sub, "open")
        self.emit("invoice.created", invoice)
        self.emit("invoice.payment_failed", invoice)
        self._set_status(sub, "past_due")
        return invoice

    def mark_unpaid(self, sid: str) -> None:
        """Stripe's dunning gave up retrying: the subscription is unpaid."""
        self._set_status(self.objects[sid], "unpaid")

    def pay(self, sid: str) -> None:
        """The customer paid every open invoice: active again."""
        for obj in list(self.objects.values()):
            if (
                obj.get("object") == "invoice"
                and obj["status"] == "open"
                and obj["parent"]["subscription_details"]["subscription"] == sid
            ):
                self._mark_paid(obj)
        self._set_status(self.objects[sid], "active")

    def set_quantity(self, sid: str, quantity: int) -> None:
        """The customer changed seats in the Customer Portal."""
        sub = self.objects[sid]
        sub["items"]["data"][0]["quantity"] = quantity
        self._changed(sub)

    def cancel(self, sid: str) -> None:
        self._set_status(self.objects[sid], "canceled")


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = _nest(parse_qsl(url.query, keep_blank_values=True) + parse_qsl(body))
            key = self.headers.get("Idempotency-Key")
            with fake._lock:
                fake.requests.append(
                    Request(self.command, url.path, params, key, self.headers.get("Stripe-Version"))
                )
                if key and key in fake.answers:
                    status, answer = fake.answers[key]
                else:
                    try:
                        status, answer = 200, fake.handle(self.command, url.path, params)
                    except StripeError as exc:
                        error = {"type": "invalid_request_error", "message": str(exc)}
                        status, answer = exc.status, {"error": error}
                    if key and status < 500:
                        fake.answers[key] = (status, answer)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{len(fake.requests)}")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

    return Handler


def signed(event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[str, str]:
    """The body and ``Stripe-Signature`` header Stripe would send for ``event``."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return payload, header


def deliver(client: Any, event: dict[str, Any], secret: str, timestamp: int | None = None) -> Any:
    """POST ``event`` to the app's webhook endpoint, signed with ``secret``."""
    payload, header = signed(event, secret, timestamp)
    return client.post(
        "/billing/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def deliver_all(client: Any, events: Iterator[dict[str, Any]] | list, secret: str) -> list[Any]:
    """Deliver each event, checking Stripe would be told it arrived."""
    answers = []
    for event in events:
        response = deliver(client, event, secret)
        assert response.status_code == 200, (event["type"], response.get_data(as_text=True))
        answers.append(response)
    return answers
