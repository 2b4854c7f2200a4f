"""``crm tenant export|import|delete|cancel-deletion|erase-due`` (under ``crm tenant``)."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from .extensions import db
from .provisioning import ValidationFailed


def _progress_bar() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True
    )


@click.command("export")
@click.argument("slug")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="ZIP file.")
@with_appcontext
def tenant_export(slug: str, out: str) -> None:
    """Export every record of every module of a tenant as a ZIP (JSON Lines + manifest)."""
    from .cli import _tenant_or_exit
    from .tenant_archive import export_tenant

    tenant = _tenant_or_exit(slug)
    with _progress_bar() as bar, open(out, "wb") as fh:
        task = bar.add_task(f"export {slug}", total=None)

        def progress(done: int, total: int, table: str) -> None:
            bar.update(task, completed=done, total=total, description=f"export {table}")

        manifest = export_tenant(tenant, fh, progress=progress)
    db.session.rollback()
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(
        f"exported {slug}: {rows} rows in {len(manifest['tables'])} tables, "
        f"{manifest['users']['rows']} users -> {out}"
    )


@click.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--slug", default=None, help="Slug of the new tenant (default: the archive's).")
@click.option("--name", default=None, help="Name of the new tenant (default: the archive's).")
@click.option(
    "--remap-ids", "remap", is_flag=True, help="Give every row a new id (foreign keys follow)."
)
@with_appcontext
def tenant_import(archive: str, slug: str | None, name: str | None, remap: bool) -> None:
    """Import a tenant archive as a new tenant; nothing is written on any error."""
    from .tenant_archive import ArchiveError, import_archive

    try:
        with _progress_bar() as bar:
            task = bar.add_task("import", total=None)

            def progress(done: int, total: int, table: str) -> None:
                bar.update(task, completed=done, total=total, description=f"import {table}")

            tenant = import_archive(archive, slug=slug, name=name, remap=remap, progress=progress)
    except ArchiveError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(f"imported tenant {tenant.slug} ({tenant.id})")


@click.command("delete")
@click.argument("slug")
@click.option("--days", type=int, default=None, help="Grace period (default: configured).")
@with_appcontext
def tenant_delete(slug: str, days: int | None) -> None:
    """Schedule a tenant's deletion: locked now, erased after the grace period."""
    from .cli import _fail, _tenant_or_exit
    from .tenant_deletion import schedule_deletion

    tenant = _tenant_or_exit(slug)
    try:
        when = schedule_deletion(tenant, actor_label="cli", days=days)
    except ValidationFailed as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{slug}: locked, will be erased after {when:%Y-%m-%d %H:%M} UTC")


@click.command("cancel-deletion")
@click.argument("slug")
@with_appcontext
def tenant_cancel_deletion(slug: str) -> None:
    """Cancel a scheduled deletion (during the grace period)."""
    from .cli import _fail, _tenant_or_exit
    from .tenant_deletion import cancel_deletion

    tenant = _tenant_or_exit(slug)
    try:
        cancel_deletion(tenant, actor_label="cli")
    except ValidationFailed as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"{slug}: deletion canceled")


@click.command("erase-due")
@with_appcontext
def tenant_erase_due() -> None:
    """Erase now every tenant whose deletion grace period is over (the daily job does it)."""
    from .tenant_deletion import erase_due_tenants

    slugs = erase_due_tenants()
    click.echo(f"erased {len(slugs)} tenant(s){': ' + ', '.join(slugs) if slugs else ''}")


COMMANDS = (tenant_export, tenant_import, tenant_delete, tenant_cancel_deletion, tenant_erase_due)
