"""usage_features and usage_first_uses: per-account usage aggregates per as-of date and
success plans' first uses, computed on a warehouse source (issue 24, ``usage_mode:
features``)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: As in greendoor.store.schema.USAGE_AGGREGATES on the day of this revision.
AGGREGATES = (
    "events_30d", "events_prior_60d", "events_prior_30d", "events_30d_90ago",
    "user_days_30d", "user_days_prior_30d", "user_days_prior_60d", "seconds_30d",
    "seconds_prior_60d", "errors_30d", "active_days_7d", "active_days_30d",
    "active_days_90d", "active_users_7d", "active_users_30d", "active_users_90d",
    "active_users_30d_90ago", "feature_breadth_30d",
)


def upgrade() -> None:
    op.create_table(
        "usage_features",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        *(sa.Column(c, sa.Double(), nullable=True) for c in AGGREGATES),
        sa.PrimaryKeyConstraint("as_of", "account_id"),
    )
    op.create_table(
        "usage_first_uses",
        sa.Column("plan_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("feature", sa.String(), nullable=True),
        sa.Column("first", sa.Date(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_first_uses")
    op.drop_table("usage_features")
