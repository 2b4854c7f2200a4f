"""Payment gateways: Stripe when a secret key is configured, else the local gateway."""

from __future__ import annotations

from flask import current_app

from ..models import Subscription
from .base import Gateway, GatewayError
from .local import LocalGateway

__all__ = ["Gateway", "GatewayError", "default_gateway", "gateway_for", "stripe_configured"]


def stripe_configured() -> bool:
    """True when ``CRM_STRIPE_SECRET_KEY`` is set."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def default_gateway() -> Gateway:
    """The gateway new subscriptions use."""
    if stripe_configured():
        from .stripe_gateway import StripeGateway

        return StripeGateway()
    return LocalGateway()


def gateway_for(subscription: Subscription) -> Gateway:
    """The gateway that keeps ``subscription``: Stripe once it is linked there, else local."""
    if subscription.stripe_subscription_id:
        from .stripe_gateway import StripeGateway

        return StripeGateway()
    return LocalGateway()
