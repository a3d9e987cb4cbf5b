"""usage_account_days (daily per-account usage rollup); usage_user_days.prev_date

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_account_days",
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("users", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=True),
        sa.Column("seconds", sa.Double(), nullable=True),
    )
    op.add_column("usage_user_days", sa.Column("prev_date", sa.Date(), nullable=True))
    # Rebuild both usage rollups (in date order) for a store that already holds usage.
    from greendoor.store.rollups import refresh_usage_rollups

    refresh_usage_rollups(op.get_bind())


def downgrade() -> None:
    op.drop_table("usage_account_days")
    op.drop_column("usage_user_days", "prev_date")
