"""forecasts, forecast_backtests, renewal_forecasts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecasts",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("series", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("freq", sa.String(), nullable=False),
        sa.Column("ds", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("y", sa.Double(), nullable=True),
        sa.Column("yhat", sa.Double(), nullable=True),
        sa.Column("yhat_lower", sa.Double(), nullable=True),
        sa.Column("yhat_upper", sa.Double(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "series", "segment", "freq", "ds", "kind"),
    )
    op.create_table(
        "forecast_backtests",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("series", sa.String(), nullable=False),
        sa.Column("segment", sa.String(), nullable=False),
        sa.Column("freq", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("horizon", sa.Integer(), nullable=True),
        sa.Column("cutoffs", sa.Integer(), nullable=True),
        sa.Column("mape", sa.Double(), nullable=True),
        sa.Column("smape", sa.Double(), nullable=True),
        sa.Column("mase", sa.Double(), nullable=True),
        sa.Column("coverage", sa.Double(), nullable=True),
        sa.Column("chosen", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "series", "segment", "freq", "model"),
    )
    op.create_table(
        "renewal_forecasts",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=True),
        sa.Column("arr_due", sa.Double(), nullable=True),
        sa.Column("expected", sa.Double(), nullable=True),
        sa.Column("p10", sa.Double(), nullable=True),
        sa.Column("p50", sa.Double(), nullable=True),
        sa.Column("p90", sa.Double(), nullable=True),
        sa.Column("actual", sa.Double(), nullable=True),
        sa.Column("accuracy", sa.Double(), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "kind", "period", "period_start"),
    )
    op.create_table(
        "forecast_runs",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )


def downgrade() -> None:
    for t in ("forecast_runs", "renewal_forecasts", "forecast_backtests", "forecasts"):
        op.drop_table(t)
