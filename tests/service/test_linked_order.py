"""A ticket's order number links to the customer's order (the core ``orders`` record)."""

from __future__ import annotations

from typing import Any

from conftest import in_tenant
from helpers_web import post_form

from crm_platform.sdk import Contact, create_order

from .helpers import open_ticket


def _customer_with_orders(app: Any, acme: Any) -> tuple[str, str, str]:
    """Carol with order 1042, and another customer with order 1043; their ids."""
    with in_tenant(app, acme) as session:
        carol = Contact(first_name="Carol", last_name="Customer", email="carol@customer.example")
        dan = Contact(first_name="Dan", last_name="Other")
        session.add_all([carol, dan])
        session.flush()
        mine = create_order({"contact_id": str(carol.id), "number": "1042", "total": "80"})
        create_order({"contact_id": str(dan.id), "number": "1043", "total": "15"})
        session.commit()
        return str(carol.id), str(mine.id), str(dan.id)


def test_the_order_number_links_to_the_customers_order(app: Any, owner: Any, acme: Any) -> None:
    carol, order_id, _dan = _customer_with_orders(app, acme)
    ticket_id = open_ticket(app, acme, contact_id=carol, order_ref="1042")
    url = f"/t/acme/service/tickets/{ticket_id}"
    page = owner.get(url).text
    assert f'href="/t/acme/orders/{order_id}">1042</a>' in page
    order_page = owner.get(f"/t/acme/orders/{order_id}")  # which checks who may see it
    assert order_page.status_code == 200 and "1042" in order_page.text
    # another customer's order number is shown, not linked
    post_form(owner, f"{url}/properties", {"status": "open", "order_ref": "1043"}, page=url)
    page = owner.get(url).text
    assert '<dd id="order">1043</dd>' in page
    # an unknown number stays plain text
    post_form(owner, f"{url}/properties", {"status": "open", "order_ref": "9999"}, page=url)
    assert '<dd id="order">9999</dd>' in owner.get(url).text
