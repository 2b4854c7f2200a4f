"""Alembic wiring for plugins: their revision folders join the core's, and upgrades go to heads.

Each plugin with tables ships its own revision folder (``crm_migration_locations``) as a branch
labelled with its module key that depends on the core's first revision. ``crm db upgrade``
applies every branch (``heads``), so installing a plugin and upgrading is all it takes.
"""

from __future__ import annotations

import os
from typing import Any

import click
from flask.cli import with_appcontext

from .extensions import migrate

CORE_VERSIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations", "versions")


@migrate.configure
def _version_locations(config: Any) -> Any:
    """Point Alembic at the core's revisions and every plugin's."""
    from .plugins import migration_locations

    locations = [CORE_VERSIONS, *migration_locations()]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(locations))
    return config


def upgrade_all(revision: str = "heads") -> None:
    """Upgrade the database to the head of the core and of every plugin's branch."""
    from flask_migrate import upgrade

    upgrade(revision=revision)


@click.command("upgrade")
@click.argument("revision", default="heads")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@with_appcontext
def upgrade_command(revision: str, sql: bool) -> None:
    """Upgrade the database to REVISION (default: every branch's head, plugins included)."""
    from flask_migrate import upgrade

    upgrade(revision=revision, sql=sql)
