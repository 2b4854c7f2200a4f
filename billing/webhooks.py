"""``POST /billing/stripe/webhook``: Stripe's webhook endpoint (no session, no CSRF token:
the Stripe-Signature header is the credential, checked by ``stripe_events.receive``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from crm_platform.sdk import csrf_exempt

from .stripe_events import receive

bp = Blueprint("billing_stripe", __name__, url_prefix="/billing/stripe")


@bp.post("/webhook")
@csrf_exempt
def stripe_webhook() -> Any:
    """Verify, deduplicate and process one Stripe event."""
    status, outcome = receive(request.get_data(), request.headers.get("Stripe-Signature"))
    return {"outcome": outcome}, status
