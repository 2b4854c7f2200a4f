"""The module's settings: platform-wide ones from the environment (app config) and each
workspace's own (stored with the module switch, ``sdk.module_settings("service")``)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, current_app

from crm_platform.sdk import module_settings, require_tenant, save_module_settings

KEY = "service"

#: App config keys, their environment variables and defaults (see docs/modules/service.md).
PLATFORM_SETTINGS: dict[str, tuple[str, Any]] = {
    "SERVICE_INBOUND_DOMAIN": ("CRM_SERVICE_INBOUND_DOMAIN", "inbound.localhost"),
    "SERVICE_INBOUND_LOCAL_PART": ("CRM_SERVICE_INBOUND_LOCAL_PART", "support"),
    "SERVICE_SMTP_HOST": ("CRM_SERVICE_SMTP_HOST", "127.0.0.1"),
    "SERVICE_SMTP_PORT": ("CRM_SERVICE_SMTP_PORT", 2525),
    "SERVICE_MAX_MESSAGE_BYTES": ("CRM_SERVICE_MAX_MESSAGE_BYTES", 25 * 1024 * 1024),
    "SERVICE_ATTACHMENT_MAX_BYTES": ("CRM_SERVICE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
    "SERVICE_SENDER_LIMIT_PER_HOUR": ("CRM_SERVICE_SENDER_LIMIT_PER_HOUR", 20),
}


def configure(app: Flask) -> None:
    """Put the platform settings in ``app.config`` (explicit config wins over environment)."""
    for key, (env, default) in PLATFORM_SETTINGS.items():
        if key in app.config:
            continue
        raw = os.environ.get(env)
        value: Any = default
        if raw:
            value = int(raw) if isinstance(default, int) else raw.strip()
        app.config[key] = value


def config(key: str) -> Any:
    """A platform setting of the module."""
    return current_app.config[key]


@dataclass
class WorkspaceSettings:
    """What a workspace chooses for its service desk."""

    acknowledge: bool = True  # answer new e-mail and web requests with their ticket number
    csat: bool = True  # send a satisfaction survey when a ticket is solved
    auto_close_days: int = 7  # close solved tickets after this many days (0: never)
    public_kb: bool = True  # show public articles at the public help pages

    @classmethod
    def load(cls) -> WorkspaceSettings:
        """The tenant's settings (defaults for anything not saved)."""
        stored = module_settings(KEY)
        known = {k: stored[k] for k in asdict(cls()) if k in stored}
        return cls(**known)

    def save(self) -> None:
        """Store them; caller commits."""
        save_module_settings(KEY, {**module_settings(KEY), **asdict(self)})


def inbound_address(slug: str | None = None, token: str | None = None) -> str:
    """The workspace's support address (``support+<slug>@domain``), with a reply token."""
    local = config("SERVICE_INBOUND_LOCAL_PART")
    parts = [local, slug or require_tenant().slug] + ([token] if token else [])
    return f"{'+'.join(parts)}@{config('SERVICE_INBOUND_DOMAIN')}"
