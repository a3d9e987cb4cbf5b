"""mentions: community and social mentions, an optional canonical table (issue 25)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mentions",
        sa.Column("mention_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("author", sa.String(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.Date(), nullable=False),
        sa.Column("reach", sa.Double(), nullable=True),
        sa.Column("engagement", sa.Double(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("mention_id"),
    )


def downgrade() -> None:
    op.drop_table("mentions")
