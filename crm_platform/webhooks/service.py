"""Subscribing, changing and removing webhooks (audited); the caller commits."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _

from .. import audit
from ..extensions import db
from ..provisioning import ValidationFailed
from ..tenancy import utcnow
from .delivery import replay as replay_delivery_job
from .events import clean_events
from .models import Webhook, WebhookDelivery, new_secret
from .netguard import UnsafeURL, check_url

URL_MAX = 2000


def check_webhook_url(url: str) -> str:
    """``url`` stripped, when the SSRF guard lets it through; else ``ValidationFailed``."""
    url = (url or "").strip()
    if not url:
        raise ValidationFailed({"url": _("Enter the URL that receives the events.")})
    if len(url) > URL_MAX:
        raise ValidationFailed({"url": _("The URL is too long (2000 characters at most).")})
    try:
        check_url(url, allow_private=bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE")))
    except UnsafeURL as exc:
        raise ValidationFailed({"url": str(exc)}) from exc
    return url


def _clean(url: str, events: list[str], description: str) -> tuple[str, list[str], str]:
    errors: dict[str, str] = {}
    try:
        url = check_webhook_url(url)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    chosen = clean_events(events)
    if not chosen:
        errors["events"] = _("Choose at least one event.")
    description = " ".join((description or "").split())
    if len(description) > 200:
        errors["description"] = _("At most 200 characters.")
    if errors:
        raise ValidationFailed(errors)
    return url, chosen, description


def create_webhook(
    url: str, events: list[str], *, active: bool = True, description: str = "", actor: Any = None
) -> Webhook:
    """Subscribe ``url`` to ``events`` with a new signing secret; raises ValidationFailed."""
    url, chosen, description = _clean(url, events, description)
    hook = Webhook(
        url=url, events=chosen, active=active, description=description, secret=new_secret()
    )
    db.session.add(hook)
    db.session.flush()
    audit.record(
        "webhook.created",
        target=url[:254],
        actor=actor,
        details={"id": str(hook.id), "events": chosen, "active": active},
    )
    return hook


def update_webhook(
    hook: Webhook,
    url: str,
    events: list[str],
    *,
    active: bool,
    description: str = "",
    actor: Any = None,
) -> dict[str, Any]:
    """Change ``hook``; returns the changes (audited when there are any)."""
    url, chosen, description = _clean(url, events, description)
    changes: dict[str, Any] = {}
    for name, new in (
        ("url", url),
        ("events", chosen),
        ("active", active),
        ("description", description),
    ):
        old = getattr(hook, name)
        if old != new:
            changes[name] = {"from": old, "to": new}
            setattr(hook, name, new)
    if changes:
        hook.updated_at = utcnow()
        audit.record(
            "webhook.updated",
            target=hook.url[:254],
            actor=actor,
            details={"id": str(hook.id), **changes},
        )
    return changes


def set_active(hook: Webhook, active: bool, actor: Any = None) -> bool:
    """Switch ``hook`` on or off; ``True`` when that changed something."""
    if hook.active == active:
        return False
    hook.active, hook.updated_at = active, utcnow()
    audit.record(
        "webhook.enabled" if active else "webhook.disabled",
        target=hook.url[:254],
        actor=actor,
        details={"id": str(hook.id)},
    )
    return True


def rotate_secret(hook: Webhook, actor: Any = None) -> str:
    """Give ``hook`` a new signing secret (the old one stops working at once)."""
    hook.secret = new_secret()
    hook.secret_rotated_at = hook.updated_at = utcnow()
    audit.record(
        "webhook.secret_rotated", target=hook.url[:254], actor=actor, details={"id": str(hook.id)}
    )
    return hook.secret


def delete_webhook(hook: Webhook, actor: Any = None) -> None:
    """Remove ``hook`` with its deliveries."""
    audit.record(
        "webhook.deleted",
        target=hook.url[:254],
        actor=actor,
        details={"id": str(hook.id), "events": list(hook.events or [])},
    )
    db.session.delete(hook)


def replay_delivery(hook: Webhook, delivery: WebhookDelivery, actor: Any = None) -> bool:
    """Send ``delivery`` once more (after commit); ``False`` when it cannot be now."""
    if not replay_delivery_job(delivery):
        return False
    audit.record(
        "webhook.delivery_replayed",
        target=hook.url[:254],
        actor=actor,
        details={"id": str(hook.id), "delivery": str(delivery.id), "event": delivery.event},
    )
    return True
