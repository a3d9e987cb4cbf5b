"""alerts.assignee: who an alert is assigned to in the inbox (issue 19)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("assignee", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "assignee")
