"""Schema rules every tenant table must follow, checked against the models and the database.

The rules (DESIGN.md, "Tenant isolation"): ``tenant_id`` leads the primary key, every unique
constraint or unique index, and every foreign key to another tenant table; a table with a
``tenant_id`` column is a ``TenantScoped`` model; on PostgreSQL every tenant table has
row-level security enabled *and* forced, with a policy. ``crm db check`` and the test suite
run these checks, so a plugin's table that breaks them fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ForeignKeyConstraint, MetaData, Table, UniqueConstraint, text
from sqlalchemy.engine import Connection

TENANT_COLUMN = "tenant_id"
_NOT_LEADING = "does not lead with tenant_id"


def _leads(columns: Iterable[object]) -> bool:
    names = [getattr(c, "name", c) for c in columns]
    return bool(names) and names[0] == TENANT_COLUMN


def model_problems(metadata: MetaData, tenant_tables: Iterable[Table]) -> list[str]:
    """Problems of the mapped tables: keys that do not lead with ``tenant_id``."""
    tenant_set = set(tenant_tables)
    problems: list[str] = []
    for table in metadata.sorted_tables:
        if table not in tenant_set:
            if TENANT_COLUMN in table.c:
                problems.append(f"{table.name}: has tenant_id but is not a TenantScoped model")
            continue
        if not _leads(table.primary_key.columns):
            problems.append(f"{table.name}: primary key does not lead with tenant_id")
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and not _leads(constraint.columns):
                name = constraint.name
                problems.append(f"{table.name}: unique constraint {name} {_NOT_LEADING}")
            if isinstance(constraint, ForeignKeyConstraint):
                target = constraint.referred_table
                if target in tenant_set and not (
                    _leads(constraint.columns) and _leads(e.column for e in constraint.elements)
                ):
                    problems.append(
                        f"{table.name}: foreign key to {target.name} does not lead with tenant_id"
                    )
        for index in table.indexes:
            if index.unique and not _leads(index.columns):
                problems.append(f"{table.name}: unique index {index.name} {_NOT_LEADING}")
    return problems


def rls_problems(connection: Connection, tenant_tables: Iterable[Table]) -> list[str]:
    """PostgreSQL: tenant tables (mapped, or any table with ``tenant_id``) lacking RLS."""
    if connection.dialect.name != "postgresql":
        return []
    names = [t.name for t in tenant_tables]
    rows = connection.execute(
        text(
            """
            select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (select count(*) from pg_policy p where p.polrelid = c.oid) as policies
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = current_schema() and c.relkind in ('r', 'p')
              and (c.relname = any(:names) or exists (
                select 1 from pg_attribute a
                where a.attrelid = c.oid and a.attname = :col and not a.attisdropped))
            """
        ),
        {"names": names, "col": TENANT_COLUMN},
    ).all()
    found = {r[0] for r in rows}
    problems = [f"{n}: table missing in the database" for n in sorted(set(names) - found)]
    for name, enabled, forced, policies in rows:
        if not enabled:
            problems.append(f"{name}: row-level security is not enabled")
        if not forced:
            problems.append(f"{name}: row-level security is not forced")
        if not policies:
            problems.append(f"{name}: has no row-level security policy")
    return sorted(problems)
