"""The ``crm`` command line: serve, worker, db, tenant, user and demo commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from .extensions import db
from .provisioning import ValidationFailed

DEMO_SLUG = "demo"
DEMO_EMAIL = "owner@demo.example"
DEMO_PASSWORD = "demo-crm-2026"
DEMO_STAFF_EMAIL = "staff@demo.example"


def _fail(exc: ValidationFailed) -> None:
    db.session.rollback()
    for field, message in exc.errors.items():
        click.echo(f"error: {field}: {message}", err=True)
    raise SystemExit(2)


def _tenant_or_exit(slug: str) -> Any:
    from .identity import Tenant

    tenant = db.session.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        click.echo(f"error: no tenant with slug {slug!r}", err=True)
        raise SystemExit(2)
    return tenant


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--worker/--no-worker", default=True, help="Also start a job worker.")
@with_appcontext
def serve_command(host: str, port: int, worker: bool) -> None:
    """Run the web server (and a job worker) on this machine."""
    from werkzeug.serving import run_simple

    from .redis_conn import redis_url, stop_embedded_redis

    app = current_app._get_current_object()
    env = dict(os.environ, REDIS_URL=redis_url(app), CRM_INSTANCE_PATH=app.instance_path)
    proc = None
    if worker:
        proc = subprocess.Popen([sys.executable, "-m", "crm_platform.cli", "worker"], env=env)
    url = f"http://{host}:{port}/"
    click.secho(f"\n  CRM is running at {url}", fg="green", bold=True)
    click.echo(f"  Demo sign-in: {DEMO_EMAIL} / {DEMO_PASSWORD}  (workspace /t/{DEMO_SLUG}/)")
    click.echo(f"  Provider console: {DEMO_STAFF_EMAIL} / {DEMO_PASSWORD}  ({url}provider/)")
    if app.config["OUTBOX_PAGE"]:
        click.echo(f"  Mail goes to the outbox: {url}outbox")
    click.echo("  Press Ctrl+C to stop.\n")
    # SIGTERM (kill, systemd, a supervisor) stops the server like Ctrl+C does, so the worker
    # and the embedded Redis are stopped too instead of being left running.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc is not None:
            _stop_process(proc)
        stop_embedded_redis(app)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_process(proc: subprocess.Popen) -> None:
    """Stop a child: SIGTERM (RQ's warm shutdown), then SIGKILL if it does not exit."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the app's queue, with retries and plugins' periodic jobs."""
    from rq import Worker

    from .jobs import get_queue, set_worker_app
    from .redis_conn import get_redis
    from .schedules import start_scheduler_thread

    app = current_app._get_current_object()
    set_worker_app(app)
    # Configure the ORM before the scheduler thread starts: a work horse forked while that
    # thread holds SQLAlchemy's configure lock would wait for it forever.
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    worker = Worker([get_queue(app)], connection=get_redis(app))
    stop = None
    if not burst:
        _, stop = start_scheduler_thread(app)
    try:
        worker.work(burst=burst, with_scheduler=True)
    finally:
        if stop is not None:
            stop.set()


tenant_group = click.Group("tenant", help="Create, list, suspend and resume tenants.")


@tenant_group.command("create")
@click.option("--name", required=True, help="Company name.")
@click.option("--slug", required=True, help="Workspace address: /t/<slug>/.")
@click.option("--industry", default="generic", show_default=True)
@click.option("--owner-email", required=True)
@click.option("--owner-name", default="", help="Needed when the owner is a new user.")
@click.option("--owner-password", envvar="CRM_OWNER_PASSWORD", default=None)
@with_appcontext
def tenant_create(
    name: str, slug: str, industry: str, owner_email: str, owner_name: str, owner_password: str
) -> None:
    """Create a tenant with an owner (an existing user, or a new one)."""
    from .provisioning import create_tenant, create_user, find_user

    try:
        owner = find_user(owner_email)
        if owner is None:
            if not owner_password:
                owner_password = click.prompt("Owner password", hide_input=True)
            owner = create_user(owner_email, owner_name or owner_email, owner_password)
        tenant = create_tenant(name, slug, owner, industry=industry)
    except ValidationFailed as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created tenant {tenant.slug} ({tenant.id}) owned by {owner.email}")


@tenant_group.command("list")
@with_appcontext
def tenant_list() -> None:
    """List tenants with their status."""
    from rich.console import Console
    from rich.table import Table

    from .identity import Tenant

    table = Table("slug", "name", "status", "industry", "created")
    for t in db.session.scalars(select(Tenant).order_by(Tenant.slug)):
        table.add_row(t.slug, t.name, t.status, t.industry, t.created_at.strftime("%Y-%m-%d"))
    Console().print(table)


def _set_status(slug: str, status: str) -> None:
    from .provisioning import set_tenant_status

    tenant = _tenant_or_exit(slug)
    set_tenant_status(tenant, status, actor_label="cli")
    db.session.commit()
    click.echo(f"{slug}: {status}")


@tenant_group.command("suspend")
@click.argument("slug")
@with_appcontext
def tenant_suspend(slug: str) -> None:
    """Suspend a tenant: its pages answer 403; nothing is deleted."""
    _set_status(slug, "suspended")


@tenant_group.command("resume")
@click.argument("slug")
@with_appcontext
def tenant_resume(slug: str) -> None:
    """Resume a suspended tenant."""
    _set_status(slug, "active")


user_group = click.Group("user", help="Manage users.")


@user_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--password", envvar="CRM_USER_PASSWORD", default=None)
@click.option("--tenant", "slug", default=None, help="Add the user to this tenant.")
@click.option("--role", default="member", show_default=True)
@with_appcontext
def user_create(email: str, name: str, password: str | None, slug: str | None, role: str) -> None:
    """Create a user, optionally as a member of a tenant."""
    from . import audit
    from .provisioning import add_member, create_user
    from .tenancy import tenant_context

    tenant = _tenant_or_exit(slug) if slug else None
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, name, password)
        if tenant is not None:
            with tenant_context(tenant):
                add_member(tenant, user, role)
                audit.record(
                    "member.joined", target=user.email, actor_label="cli", details={"role": role}
                )
                db.session.flush()
    except ValidationFailed as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created user {user.email}" + (f" in {tenant.slug} as {role}" if tenant else ""))


@click.command("demo")
@click.option("--accounts", default=40, show_default=True, help="Sample accounts to create.")
@with_appcontext
def demo_command(accounts: int) -> None:
    """Create the demo tenant, its owner and sample data (does nothing if it exists)."""
    from .demo import create_demo, create_demo_staff

    created = create_demo(
        slug=DEMO_SLUG, email=DEMO_EMAIL, password=DEMO_PASSWORD, accounts=accounts
    )
    create_demo_staff(DEMO_STAFF_EMAIL, DEMO_PASSWORD)
    click.echo(
        ("created" if created else "already present:")
        + f" demo workspace /t/{DEMO_SLUG}/, sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}"
    )
    click.echo(f"provider console /provider/: sign in as {DEMO_STAFF_EMAIL} / {DEMO_PASSWORD}")


def _create_roles_command() -> click.Command:
    @click.command("create-roles")
    @click.option("--app-password", envvar="CRM_DB_APP_PASSWORD", default=None)
    @click.option("--provider-password", envvar="CRM_DB_PROVIDER_PASSWORD", default=None)
    @click.option(
        "--admin-url",
        envvar="CRM_DB_ADMIN_URL",
        required=True,
        help="A PostgreSQL URL of a role that may create roles (used once, not stored).",
    )
    @with_appcontext
    def create_roles(
        app_password: str | None, provider_password: str | None, admin_url: str
    ) -> None:
        """PostgreSQL: create the app role (cannot bypass RLS) and the provider role (can)."""
        from .config import normalise_database_url
        from .pg_roles import ensure_roles

        url = normalise_database_url(admin_url)
        if not url.startswith("postgresql"):
            click.echo("error: create-roles needs a PostgreSQL URL", err=True)
            raise SystemExit(2)
        cfg = current_app.config
        ensure_roles(
            url,
            app_role=cfg["DB_APP_ROLE"],
            provider_role=cfg["DB_PROVIDER_ROLE"],
            app_password=app_password,
            provider_password=provider_password,
        )
        click.echo(f"roles ready: {cfg['DB_APP_ROLE']}, {cfg['DB_PROVIDER_ROLE']}")

    return create_roles


def _check_tenancy_command() -> click.Command:
    @click.command("check-tenancy")
    @with_appcontext
    def check_tenancy() -> None:
        """Check every tenant table: keys lead with tenant_id; RLS enabled, forced, with policy."""
        from .extensions import db
        from .schema_rules import model_problems, rls_problems
        from .tenancy import tenant_tables

        tables = tenant_tables()
        problems = model_problems(db.metadata, tables)
        with db.engine.connect() as conn:
            problems += rls_problems(conn, tables)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if problems:
            raise SystemExit(1)
        click.echo(f"{len(tables)} tenant tables follow the isolation rules")

    return check_tenancy


plugin_group = click.Group("plugin", help="Work with plugins.")


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to create the package folder.",
)
def plugin_new(name: str, directory: str) -> None:
    """Create a plugin package NAME (e.g. 'loyalty') that passes its own test."""
    from pathlib import Path

    from .scaffold import ScaffoldError, create_plugin

    try:
        target = create_plugin(name, Path(directory))
    except ScaffoldError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
    click.echo(f"created {target}")
    click.echo(f"next: pip install -e {target} && (cd {target} && pytest)")


@plugin_group.command("list")
@with_appcontext
def plugin_list() -> None:
    """Installed plugins and the modules they provide."""
    from .plugins import get_plugin_manager, module_registry

    registry = module_registry()
    for name, _plugin in sorted(get_plugin_manager().list_name_plugin()):
        key = registry.module_of_plugin(name)
        if key:
            d = registry.descriptors[key]
            click.echo(f"{name}: module {key!r} {d.name} {d.version}")
        else:
            click.echo(f"{name}: always on")


provider_group = click.Group("provider", help="Platform staff of the provider console.")


@provider_group.command("add-staff")
@click.argument("email")
@click.option("--role", default="support", show_default=True, help="admin or support.")
@click.option("--name", default="", help="Needed when the user is new.")
@click.option("--password", envvar="CRM_STAFF_PASSWORD", default=None, help="For a new user.")
@with_appcontext
def provider_add_staff(email: str, role: str, name: str, password: str | None) -> None:
    """Make EMAIL platform staff (creating the user if needed), or change their staff role."""
    from .provider.staff import grant_staff
    from .provisioning import create_user, find_user

    try:
        user = find_user(email)
        if user is None:
            if password is None:
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            user = create_user(email, name or email.split("@")[0], password)
        grant_staff(user, role)
    except ValidationFailed as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{user.email} is platform staff ({role}); console at /provider/")


@provider_group.command("remove-staff")
@click.argument("email")
@with_appcontext
def provider_remove_staff(email: str) -> None:
    """Take the platform staff role from EMAIL (the user and their workspaces stay)."""
    from .provider.staff import revoke_staff
    from .provisioning import find_user

    user = find_user(email)
    if user is None or not revoke_staff(user):
        click.echo(f"error: email: {email} is not platform staff", err=True)
        raise SystemExit(2)
    db.session.commit()
    click.echo(f"{user.email} is no longer platform staff")


@provider_group.command("list-staff")
@with_appcontext
def provider_list_staff() -> None:
    """List platform staff with their roles."""
    from .provider.staff import all_staff

    for staff, user in all_staff():
        click.echo(f"{user.email}\t{staff.role}\t{staff.created_at:%Y-%m-%d}")


def register_commands(app: Flask) -> None:
    """Add the core's commands to ``app.cli`` (and ``db create-roles`` to Flask-Migrate's)."""
    for command in (
        serve_command,
        worker_command,
        tenant_group,
        user_group,
        demo_command,
        plugin_group,
        provider_group,
    ):
        app.cli.add_command(command)
    from .tenant_cli import COMMANDS as tenant_lifecycle_commands

    for command in tenant_lifecycle_commands:  # export, import, delete ...
        if command.name not in tenant_group.commands:
            tenant_group.add_command(command)
    from flask_migrate.cli import db as db_group

    if "create-roles" not in db_group.commands:
        db_group.add_command(_create_roles_command())
    if "check-tenancy" not in db_group.commands:
        db_group.add_command(_check_tenancy_command())
    from .migrations_support import upgrade_command

    db_group.add_command(upgrade_command)


def _create_app() -> Flask:
    from . import create_app

    return create_app()


cli = FlaskGroup(
    create_app=_create_app,
    add_default_commands=True,
    load_dotenv=False,
    help="The CRM platform's command line.",
)


def main() -> None:
    """Entry point of the ``crm`` console script."""
    cli(prog_name="crm")


if __name__ == "__main__":
    main()
