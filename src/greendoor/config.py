"""Greendoor settings: where the store is, and every default threshold of SPEC.md.

Settings defaults live here and nowhere else (DESIGN.md "Conventions"). The store
keeps versioned copies (table ``settings_versions``); version 1 is
:data:`DEFAULT_SETTINGS` as written by ``greendoor init``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

#: Environment variable holding the SQLAlchemy URL of the store.
DB_URL_ENV = "GREENDOOR_DB_URL"
#: Environment variable overriding the folder of the embedded store.
DATA_DIR_ENV = "GREENDOOR_DATA_DIR"

SEGMENTS: tuple[str, ...] = ("enterprise", "mid_market", "smb")
BANDS: tuple[str, ...] = ("green", "yellow", "red")

#: SPEC.md "Canonical data": segment derived from ARR when absent (USD).
SEGMENT_ARR_THRESHOLDS = {"enterprise": 50_000.0, "mid_market": 10_000.0}

DEFAULT_SETTINGS: dict[str, Any] = {
    # SPEC.md "Health score": engagement 40 %, sentiment 30 %, growth 30 %.
    "health": {
        "weights": {"engagement": 0.4, "sentiment": 0.3, "growth": 0.3},
        # Optional per-segment overrides of the weights, e.g. {"smb": {...}}.
        "segment_weights": {},
        # Band lower bounds (inclusive): green 80-100, yellow 50-79, red 0-49.
        "bands": {"green": 80.0, "yellow": 50.0},
        "trend_window_days": 30,
        "trend_threshold": 5.0,
    },
    # SPEC.md "Rules, alerts and playbooks".
    "rules": {
        "checkin_no_contact_days": 30,
        "escalation_usage_drop": 0.50,
        "warning_usage_decline": 0.30,
        "warning_login_drop": 0.50,
        "warning_ticket_increase": 2.00,
        "warning_health_drop_points": 20.0,
        "expansion_seat_utilization": 0.80,
        "expansion_usage_growth": 0.30,
        "product_gap_ticket_count": 3,
        "product_gap_arr": 100_000.0,
        "documentation_gap_ticket_count": 5,
    },
    "renewal_windows_days": [120, 90, 60, 30],
    "churn_horizon_days": 90,
    "this_week_health_drop_points": 10.0,
}


def default_settings() -> dict[str, Any]:
    """Return a deep copy of :data:`DEFAULT_SETTINGS` (safe to mutate)."""
    return copy.deepcopy(DEFAULT_SETTINGS)


def data_dir() -> Path:
    """Folder of the embedded store: ``$GREENDOOR_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.cwd() / "data")


def db_url() -> str:
    """SQLAlchemy URL of the store.

    ``$GREENDOOR_DB_URL`` when set (e.g. ``postgresql+psycopg://user@host/db``),
    else an embedded DuckDB file ``data/greendoor.duckdb``.
    """
    url = os.environ.get(DB_URL_ENV)
    if url:
        return url
    return f"duckdb:///{(data_dir() / 'greendoor.duckdb').resolve()}"


def segment_from_arr(arr: float) -> str:
    """Segment of an account from its ARR in USD (SPEC.md "Canonical data").

    > 50,000 enterprise; 10,000-50,000 mid_market; < 10,000 smb.
    """
    if arr > SEGMENT_ARR_THRESHOLDS["enterprise"]:
        return "enterprise"
    if arr >= SEGMENT_ARR_THRESHOLDS["mid_market"]:
        return "mid_market"
    return "smb"
