"""Merge the contact-performance, provider-console and orders branches.

Revision ID: 0011_merge
Revises: 0008_contact_perf, 0009_provider_console, 0010_orders
"""

revision = "0011_merge"
down_revision = ("0008_contact_perf", "0009_provider_console", "0010_orders")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
