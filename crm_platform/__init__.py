"""The CRM platform core: ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, current_app, g, request, session
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import migrations_support  # noqa: F401 - plugin revision folders
from .config import load_config
from .extensions import babel, csrf, db, limiter, login_manager, migrate
from .parsed_rules import ParsedRule
from .template_code import TEMPLATE_CODE

__all__ = ["create_app"]

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def _select_locale() -> str | None:
    """The user's own language, else the visitor's choice (``?lang=``), else the browser's,
    else the workspace's default language."""
    if not request:
        return None
    supported = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.locale in supported:
        return current_user.locale
    if session.get("lang") in supported:
        return session["lang"]
    # Match "zh", "zh-CN", "zh-TW" ... by their primary tag too ("zh" alone finds no catalog).
    primaries = {code.split("_")[0]: code for code in reversed(supported)}
    best = request.accept_languages.best_match([*supported, *primaries])
    if best:
        return primaries.get(best, best)
    tenant = g.get("tenant")
    if tenant is not None and tenant.locale in supported:
        return tenant.locale
    return None


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
    app.url_rule_class = ParsedRule  # lazy URL builders, rule strings parsed once a process
    # Templates compile once per process, not once per app (see template_code.py).
    app.jinja_options = {**app.jinja_options, "bytecode_cache": TEMPLATE_CODE}
    app.config.update(load_config(app.instance_path, config))
    os.makedirs(app.instance_path, exist_ok=True)
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:  # behind a reverse proxy: trust its forwarded client address and scheme
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    from .logs import configure_logging

    configure_logging(app)
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

    from . import (  # noqa: F401 - register models
        audit,
        customers,
        identity,
        mail,
        orders,
        tenancy,
        tenant_exports,  # stored tenant exports
    )
    from .api import models as api_models  # noqa: F401 - API keys
    from .auth import bp as auth_bp
    from .auth.views import PendingSignup, load_user  # noqa: F401
    from .health import bp as health_bp
    from .logs import init_app as init_logs
    from .metrics import init_app as init_metrics
    from .outages import init_app as init_outages
    from .plugins import make_plugin_manager, module_permissions, register_plugin_blueprints
    from .provider.views import bp as provider_bp
    from .security_headers import init_app as init_security_headers
    from .web import bp as web_bp
    from .web import init_app as init_web
    from .web import tenant_bp

    login_manager.user_loader(load_user)

    from . import core_plugin
    from .webhooks import plugin as webhooks_plugin

    pm = make_plugin_manager([core_plugin, webhooks_plugin, *(plugins or [])])
    app.extensions["crm_plugins"] = pm
    app.extensions["crm_module_permissions"] = module_permissions(pm)

    init_web(app)
    init_outages(app)
    init_security_headers(app)
    init_logs(app)
    init_metrics(app)
    from .charts import register as register_charts

    register_charts(app)
    for blueprint in (health_bp, auth_bp, web_bp, tenant_bp, provider_bp):
        app.register_blueprint(blueprint)
    from .tenant_lifecycle_views import bp as lifecycle_bp
    from .tenant_lifecycle_views import public_bp as lifecycle_public_bp

    app.register_blueprint(lifecycle_bp)  # a workspace's export and deletion pages
    app.register_blueprint(lifecycle_public_bp)
    register_plugin_blueprints(app, pm)
    from .api import init_app as init_api

    init_api(app, pm)
    csrf.exempt(health_bp)
    from . import modules  # noqa: F401 - registers the tenant_modules model
    from .cli import register_commands

    register_commands(app)
    pm.hook.crm_startup(app=app)
    return app
