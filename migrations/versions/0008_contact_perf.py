"""contacts: indexes for a million contacts per tenant and fast imports

Revision ID: 0008_contact_perf
Revises: 0007_merge
Create Date: 2026-11-23 13:00:00

Every index a contact has costs every imported row. Checked against the list, filter and
search paths at 1,000,000 contacts (bench/bench_contacts.py):

* ``lifecycle_stage`` is dropped: five values, so a stage filter reads a fifth of the tenant
  through it; walking the list's own sort index and filtering is as quick.
* ``deleted_at`` only indexes the trash (``WHERE deleted_at IS NOT NULL``): live lists filter
  ``deleted_at IS NULL``, which an index of mostly-NULLs does not help.
* ``account_id``, ``team_id``, ``region``, ``phone`` and ``email`` index only rows that have a
  value: every filter on them is an equality (or prefix), and rows without one cost nothing.
* ``email`` and ``name_key`` use ``varchar_pattern_ops`` so an e-mail or name prefix
  (``LIKE 'ada%'``) is an index range in any collation.
* The sort indexes end with ``id``, the keyset pages' tie-breaker: a page is an index range.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_contact_perf"
down_revision = "0007_merge"
branch_labels = None
depends_on = None

def _where(clause):
    return {"postgresql_where": sa.text(clause), "sqlite_where": sa.text(clause)}


def _pattern(column):
    return {"postgresql_ops": {column: "varchar_pattern_ops"}}


def _replace(name, columns, **kw):
    op.drop_index(name, table_name="contacts")
    op.create_index(name, "contacts", columns, **kw)


def upgrade():
    op.drop_index("ix_contacts_tenant_lifecycle_stage", table_name="contacts")
    _replace(
        "ix_contacts_tenant_deleted_at",
        ["tenant_id", "deleted_at"],
        **_where("deleted_at IS NOT NULL"),
    )
    _replace("ix_contacts_tenant_account", ["tenant_id", "account_id"], **_where("account_id IS NOT NULL"))
    for column in ("team_id", "region", "phone"):
        _replace(f"ix_contacts_tenant_{column}", ["tenant_id", column], **_where(f"{column} IS NOT NULL"))
    _replace(
        "ix_contacts_tenant_email",
        ["tenant_id", "email"],
        **_pattern("email"),
        **_where("email IS NOT NULL"),
    )
    _replace("ix_contacts_tenant_name_key", ["tenant_id", "name_key"], **_pattern("name_key"))
    _replace("ix_contacts_tenant_last_name", ["tenant_id", "last_name", "first_name", "id"])
    for column in ("created_at", "updated_at"):
        _replace(f"ix_contacts_tenant_{column}", ["tenant_id", column, "id"])


def downgrade():
    for column in ("created_at", "updated_at", "deleted_at", "team_id", "region", "phone", "name_key"):
        _replace(f"ix_contacts_tenant_{column}", ["tenant_id", column])
    _replace("ix_contacts_tenant_last_name", ["tenant_id", "last_name", "first_name"])
    _replace("ix_contacts_tenant_email", ["tenant_id", "email"])
    _replace("ix_contacts_tenant_account", ["tenant_id", "account_id"])
    op.create_index(
        "ix_contacts_tenant_lifecycle_stage", "contacts", ["tenant_id", "lifecycle_stage"]
    )
