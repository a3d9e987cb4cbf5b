"""point-in-time state: accounts.segment_source, subscriptions.term_months,
opportunity_history, the risk basis of each score snapshot, and the coverage of calibrated
forecast intervals

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("segment_source", sa.String(), nullable=True))
    op.add_column("subscriptions", sa.Column("term_months", sa.Integer(), nullable=True))
    op.create_table(
        "opportunity_history",
        sa.Column("opportunity_id", sa.String(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(), nullable=True),
        sa.Column("forecast_category", sa.String(), nullable=True),
        sa.Column("probability", sa.Double(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("amount", sa.Double(), nullable=True),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("opportunity_id", "valid_from"),
    )
    op.add_column("forecast_backtests",
                  sa.Column("coverage_calibrated", sa.Double(), nullable=True))
    for name, type_ in (("days_to_renewal", sa.Double()), ("rule_churn_probability", sa.Double()),
                        ("loss_probability", sa.Double()), ("risk_basis", sa.String())):
        op.add_column("score_snapshots", sa.Column(name, type_, nullable=True))
    # segments already stored were given by the source or derived at import: unknown
    # which; a derived one is recomputed at the next import


def downgrade() -> None:
    op.drop_column("forecast_backtests", "coverage_calibrated")
    for name in ("days_to_renewal", "rule_churn_probability", "loss_probability", "risk_basis"):
        op.drop_column("score_snapshots", name)
    op.drop_table("opportunity_history")
    op.drop_column("subscriptions", "term_months")
    op.drop_column("accounts", "segment_source")
