"""PostgreSQL roles: the app role (no RLS bypass, owns nothing) and the provider role.

Migrations run as the table owner; the app connects as ``app_role``, which row-level
security binds; the provider console's cross-tenant work uses ``provider_role``, which has
BYPASSRLS but is not a superuser. Never run the app as a superuser: superusers bypass RLS.
"""

from __future__ import annotations

import re

from sqlalchemy import create_engine, text

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a plain role name: {name!r}")
    return name


def ensure_roles(
    admin_url: str,
    *,
    app_role: str,
    provider_role: str,
    owner_role: str | None = None,
    app_password: str | None = None,
    provider_password: str | None = None,
    owner_password: str | None = None,
) -> None:
    """Create (or fix the attributes of) the roles; safe to run again and concurrently."""
    specs = [
        (app_role, "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE", app_password),
        (provider_role, "NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE", provider_password),
    ]
    if owner_role:
        specs.append((owner_role, "NOSUPERUSER NOBYPASSRLS CREATEDB NOCREATEROLE", owner_password))
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select pg_advisory_lock(727272)"))
            try:
                for name, attrs, password in specs:
                    role = _ident(name)
                    exists = conn.execute(
                        text("select 1 from pg_roles where rolname = :r"), {"r": role}
                    ).first()
                    verb = "ALTER" if exists else "CREATE"
                    conn.execute(text(f"{verb} ROLE {role} LOGIN {attrs}"))
                    if password:
                        conn.execute(text(f"ALTER ROLE {role} PASSWORD :p").bindparams(p=password))
            finally:
                conn.execute(text("select pg_advisory_unlock(727272)"))
    finally:
        engine.dispose()
