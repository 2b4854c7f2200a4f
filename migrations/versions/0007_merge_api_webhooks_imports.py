"""merge the API keys, webhooks and imports branches

Revision ID: 0007_merge
Revises: 0004_api_keys, 0005_webhooks, 0006_imports
Create Date: 2026-11-23 09:50:00

"""

revision = "0007_merge"
down_revision = ("0004_api_keys", "0005_webhooks", "0006_imports")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
