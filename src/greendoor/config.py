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
        # Measures of each component (SPEC.md "Health score"): each raw feature is
        # scaled to 0-100 by linear interpolation between [value, score] points
        # (clamped at the ends), then averaged with its weight inside the component.
        "measures": {
            "engagement": {
                "active_days_30d": {"weight": 1.0, "points": [[4, 0], [22, 100]]},
                "seat_utilization": {"weight": 1.0, "points": [[0.15, 0], [0.75, 100]]},
                "feature_breadth_30d": {"weight": 1.0, "points": [[1, 0], [8, 100]]},
                "days_since_touch": {"weight": 1.0, "points": [[14, 100], [90, 0]]},
            },
            "sentiment": {
                "latest_nps": {"weight": 1.0, "points": [[0, 0], [6, 40], [9, 100]]},
                "csat_90d": {"weight": 1.0, "points": [[1, 0], [3, 40], [4.5, 100]]},
                "escalated_tickets_90d": {"weight": 1.0, "points": [[0, 100], [3, 0]]},
                "high_priority_tickets_90d": {"weight": 1.0, "points": [[0, 100], [5, 0]]},
                "nps_detractor": {"weight": 1.0, "points": [[0, 100], [1, 0]]},
            },
            "growth": {
                "usage_trend": {"weight": 1.0, "points": [[0.4, 0], [1.0, 75], [1.3, 100]]},
                "seat_utilization_change": {"weight": 1.0,
                                            "points": [[-0.3, 0], [0.0, 75], [0.15, 100]]},
                "arr_change_90d": {"weight": 1.0, "points": [[-0.2, 0], [0.0, 75], [0.1, 100]]},
            },
        },
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


def merge_settings(stored: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stored settings over the defaults, recursively: a key missing from an older
    stored version takes its default; a stored value always wins."""
    out = copy.deepcopy(DEFAULT_SETTINGS if defaults is None else defaults)
    for key, value in stored.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_settings(value, out[key])
        else:
            out[key] = copy.deepcopy(value)
    return out


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
