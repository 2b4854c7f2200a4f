"""What workflow automation and approval steps need from the core (re-exported by the SDK).

* :func:`automation_actions`: every ``AutomationAction`` of the tenant's active plugins
  (``crm_automation_actions``), by key.
* :func:`approval_hold`: asks ``crm_approval_gate`` whether a controlled step must wait.
* :func:`post_signed_json`: one signed JSON POST through the webhooks' SSRF guard and
  sender (public addresses only unless ``WEBHOOKS_ALLOW_PRIVATE``; no redirects; a time
  limit), for plugins that call a URL of the tenant's choosing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import current_app

from .plugin_types import AutomationAction
from .plugins import answers, collect


def automation_actions() -> dict[str, AutomationAction]:
    """Every action the tenant's active plugins offer to workflow rules, by key."""
    out: dict[str, AutomationAction] = {}
    for action in collect("crm_automation_actions"):
        if isinstance(action, AutomationAction):
            out.setdefault(action.key, action)
    return out


def approval_hold(
    kind: str,
    record: Any,
    action: str,
    facts: dict[str, Any] | None = None,
    actor: Any = None,
) -> str | None:
    """Why ``action`` on ``record`` must wait for an approval (``crm_approval_gate``), or
    ``None`` when it may go ahead. Call it before the step and refuse with the message."""
    held = answers(
        "crm_approval_gate",
        kind=kind,
        record=record,
        action=action,
        facts=dict(facts or {}),
        actor=actor,
    )
    return str(held[0]) if held else None


def post_signed_json(
    url: str, payload: dict[str, Any], *, secret: str, event: str = "automation"
) -> Any:
    """POST ``payload`` as JSON to ``url``, signed like a webhook (``X-CRM-Signature``).

    Returns the sender's result (``ok``, ``status``, ``error``, ``duration_ms``,
    ``excerpt``); raises ``ValueError`` with the reason when the guard refuses the URL.
    """
    from .webhooks.delivery import USER_AGENT
    from .webhooks.netguard import check_url
    from .webhooks.signing import signature_header

    config = current_app.config
    target = check_url(url, allow_private=bool(config.get("WEBHOOKS_ALLOW_PRIVATE")))
    body = json.dumps(payload, default=str, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-CRM-Event": event,
        "X-CRM-Timestamp": str(timestamp),
        "X-CRM-Signature": signature_header(secret, body, timestamp),
    }
    from .webhooks.sender import post

    return post(target, body, headers, float(config.get("WEBHOOKS_TIMEOUT", 5)))
