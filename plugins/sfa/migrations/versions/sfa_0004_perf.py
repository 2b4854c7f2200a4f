"""sfa: the forecast's sums at scale: statistics, the won index covers the account too

Revision ID: sfa_0004_perf
Revises: sfa_0003_planning
Create Date: 2026-11-23 18:00:00

The forecast groups won deals by the month they closed and their owner. Without statistics
on that pair PostgreSQL guesses one group per row (tens of thousands), sorts every won deal
of the year and only then sums: three times slower than the hash it uses once it knows there
are at most twelve months times the owners (``bench/bench_sfa.py``). Expression statistics
need PostgreSQL 14; older servers and SQLite skip them (the sums stay right, only slower).
The won-deals index (``sfa_0003_planning``) now also carries ``account_id``, so that the
territory rule (deals of accounts in a rep's territories) still sums from the index alone.
"""

from alembic import op

revision = "sfa_0004_perf"
down_revision = "sfa_0003_planning"
branch_labels = None
depends_on = None

STATISTICS = {
    "st_sfa_deals_closed_month_owner": "(extract(month from closed_at)), owner_id",
    "st_sfa_deals_close_month_owner": (
        "(extract(month from expected_close)), forecast_category, owner_id"
    ),
}


def _supported() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.server_version_info >= (14,)


def upgrade() -> None:
    _won_index(["currency", "owner_id", "amount", "account_id"])
    if not _supported():
        return
    for name, columns in STATISTICS.items():
        op.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} (ndistinct) ON {columns} FROM sfa_deals"
        )
    op.execute("ANALYZE sfa_deals")


def downgrade() -> None:
    _won_index(["currency", "owner_id", "amount"])
    if not _supported():
        return
    for name in STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")


def _won_index(include: list[str]) -> None:
    op.drop_index("ix_sfa_deals_tenant_won", table_name="sfa_deals")
    op.create_index(
        "ix_sfa_deals_tenant_won",
        "sfa_deals",
        ["tenant_id", "status", "closed_at"],
        postgresql_include=include,
    )
