"""usage_user_days (daily per-user usage rollup)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_user_days",
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=True),
        sa.Column("seconds", sa.Double(), nullable=True),
    )
    # Filled (with the fingerprint that makes readers use it) by 0007, together with
    # usage_account_days: greendoor.store.rollups.refresh_usage_rollups.


def downgrade() -> None:
    op.drop_table("usage_user_days")
