"""Versioned settings (SPEC.md "Health score", "Rules, alerts and playbooks").

Every change writes a new row in ``settings_versions`` (who, when, why, the full
settings) and an audit-log row with the before/after values of what changed;
nothing is ever overwritten. Scores record the version they were computed with.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import config
from greendoor.access import Actor, actor_name
from greendoor.store import schema
from greendoor.store.engine import new_id

COMPONENTS = ("engagement", "sentiment", "growth")


class SettingsError(ValueError):
    """Settings that cannot be used; the message lists every problem, by setting path."""


def current(conn: Connection) -> tuple[int, dict[str, Any]]:
    """The latest version number and its settings merged over the defaults
    (version 0 and the defaults when the store has none)."""
    sv = schema.settings_versions
    row = conn.execute(sa.select(sv.c.version, sv.c.settings_json)
                       .order_by(sv.c.version.desc()).limit(1)).first()
    if row is None:
        return 0, config.default_settings()
    return int(row[0]), config.merge_settings(json.loads(row[1]))


def _num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or math.isinf(x) else x


def validate(settings: dict[str, Any]) -> None:
    """Raise :class:`SettingsError` naming each invalid setting by its path.

    Rules: component weights are >= 0 and not all 0 (globally and per segment);
    bands satisfy 0 < yellow < green <= 100; trend window and threshold are
    positive; rule thresholds are numbers >= 0 (ratios between 0 and 1 where they
    are shares); renewal windows are distinct whole days between 1 and 365; the
    churn horizon is 7-365 days.
    """
    errs: list[str] = []
    h = settings.get("health", {})

    def weights(ws: dict, path: str) -> None:
        vals = []
        for k, v in ws.items():
            if k not in COMPONENTS:
                errs.append(f"{path}.{k}: unknown component (use {', '.join(COMPONENTS)})")
                continue
            x = _num(v)
            if x is None or x < 0:
                errs.append(f"{path}.{k}: must be a number >= 0, got {v!r}")
            else:
                vals.append(x)
        if vals and sum(vals) <= 0 and len(vals) == len(COMPONENTS):
            errs.append(f"{path}: at least one weight must be above 0")

    weights(h.get("weights", {}), "health.weights")
    for seg, ws in (h.get("segment_weights") or {}).items():
        if seg not in config.SEGMENTS:
            errs.append(f"health.segment_weights.{seg}: unknown segment")
        weights(ws, f"health.segment_weights.{seg}")
    b = h.get("bands", {})
    g, y = _num(b.get("green")), _num(b.get("yellow"))
    if g is None or y is None or not (0 < y < g <= 100):
        errs.append(f"health.bands: need 0 < yellow < green <= 100, got yellow={b.get('yellow')!r}, "
                    f"green={b.get('green')!r}")
    tw, tt = _num(h.get("trend_window_days")), _num(h.get("trend_threshold"))
    if tw is None or tw < 7 or tw > 180:
        errs.append(f"health.trend_window_days: must be 7-180 days, got {h.get('trend_window_days')!r}")
    if tt is None or tt <= 0 or tt > 50:
        errs.append(f"health.trend_threshold: must be above 0 and at most 50 points, "
                    f"got {h.get('trend_threshold')!r}")
    shares = {"escalation_usage_drop", "warning_usage_decline", "warning_login_drop",
              "expansion_seat_utilization"}
    for k, v in (settings.get("rules") or {}).items():
        x = _num(v)
        if x is None or x < 0:
            errs.append(f"rules.{k}: must be a number >= 0, got {v!r}")
        elif k in shares and x > (2 if k == "expansion_seat_utilization" else 1):
            errs.append(f"rules.{k}: is a share (e.g. 0.3 for 30 %), got {v!r}")
    win = settings.get("renewal_windows_days", [])
    if (not win or any(_num(w) is None or float(w) != int(float(w)) or not 1 <= float(w) <= 365
                       for w in win) or len(set(map(float, win))) != len(win)):
        errs.append(f"renewal_windows_days: need distinct whole days between 1 and 365, got {win!r}")
    hz = _num(settings.get("churn_horizon_days"))
    if hz is None or not 7 <= hz <= 365:
        errs.append(f"churn_horizon_days: must be 7-365 days, got {settings.get('churn_horizon_days')!r}")
    if errs:
        raise SettingsError("invalid settings:\n- " + "\n- ".join(errs))


def diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences: ``[{"setting": "a.b", "before": x, "after": y}, ...]``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for k in sorted(set(before) | set(after), key=str):
            out += diff(before.get(k), after.get(k), f"{path}.{k}" if path else str(k))
        return out
    return [] if before == after else [{"setting": path, "before": before, "after": after}]


def save(engine: Engine, settings: dict[str, Any], actor: Actor, note: str | None = None) -> int:
    """Validate and store ``settings`` as a new version; returns its number.

    Writes the version and an audit row (``settings.update``, before/after of the
    changed settings) in one transaction. Raises :class:`SettingsError` when invalid
    and ``ValueError`` when nothing changed; :class:`~greendoor.access.AccessDenied`
    when ``actor`` is a principal who is not an admin.
    """
    merged = config.merge_settings(settings)
    validate(merged)
    with engine.begin() as conn:
        actor = actor_name(actor, "admin")
        version, old = current(conn)
        changes = diff(old, merged)
        if not changes:
            raise ValueError("nothing changed: the settings equal version "
                             f"{version}")
        new = version + 1
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        conn.execute(schema.settings_versions.insert().values(
            version=new, created_at=now, created_by=actor, note=(note or "").strip()[:500] or None,
            settings_json=json.dumps(merged, sort_keys=True)))
        conn.execute(schema.audit_log.insert().values(
            audit_id=new_id(), occurred_at=now, actor=actor, action="settings.update",
            entity="settings_versions", entity_id=str(new),
            before_json=json.dumps({c["setting"]: c["before"] for c in changes}, default=str),
            after_json=json.dumps({c["setting"]: c["after"] for c in changes}, default=str)))
    return new


def history(conn: Connection) -> pd.DataFrame:
    """Every version, newest first: ``version, created_at, created_by, note, changes``
    (a readable list of what changed against the version before)."""
    sv = schema.settings_versions
    df = pd.read_sql(sa.select(sv).order_by(sv.c.version), conn)
    prev, changes = None, []
    for s in df["settings_json"]:
        cur = config.merge_settings(json.loads(s))
        changes.append("initial" if prev is None else "; ".join(
            f"{c['setting']}: {c['before']} → {c['after']}" for c in diff(prev, cur)) or "no change")
        prev = cur
    df["changes"] = changes
    return df.drop(columns="settings_json").sort_values("version", ascending=False,
                                                        ignore_index=True)


def scored_version(conn: Connection, as_of: dt.date | None = None) -> dict[str, Any] | None:
    """Settings version and time of the latest score snapshot (on or before ``as_of``):
    ``{"as_of", "settings_version", "scored_at"}``, or ``None`` when unscored."""
    ss = schema.score_snapshots
    q = sa.select(ss.c.as_of, ss.c.settings_version, ss.c.scored_at)
    if as_of is not None:
        q = q.where(ss.c.as_of <= as_of)
    row = conn.execute(q.order_by(ss.c.as_of.desc(), ss.c.scored_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None
