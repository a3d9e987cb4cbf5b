"""usage.source_key: the natural key of an imported fact row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 128-bit hash of the row's source id (or daily grain) and its occurrence number:
    # re-importing the same file matches the same keys, colliding ids never merge.
    op.add_column("usage", sa.Column("source_key", sa.String(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_usage_source_key", "usage", ["source_key"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_usage_source_key", table_name="usage")
    op.drop_column("usage", "source_key")
