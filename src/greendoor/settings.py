"""Versioned settings (SPEC.md "Health score", "Rules, alerts and playbooks").

Every change writes a new row in ``settings_versions`` (who, when, why, the full
settings) and an audit-log row with the before/after values of what changed;
nothing is ever overwritten. Scores record the version they were computed with.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pydantic
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from greendoor import audit, config
from greendoor.access import Actor, actor_name
from greendoor.store import schema

COMPONENTS = config.COMPONENTS


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


def validate(settings: dict[str, Any]) -> None:
    """Raise :class:`SettingsError` naming each invalid setting by its path, as the
    typed model :class:`greendoor.config.Settings` states the rules (bounds, units,
    band order, known components and segments, distinct renewal windows)."""
    try:
        config.Settings.model_validate(settings)
    except pydantic.ValidationError as exc:
        errs = []
        for e in exc.errors():
            path = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
            msg = e["msg"].removeprefix("Value error, ")
            errs.append(f"{path}: {msg}, got {e.get('input')!r}" if path else msg)
        raise SettingsError("invalid settings:\n- " + "\n- ".join(errs)) from None


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
        audit.record(conn, actor, "settings.update", "settings_versions", str(new),
                     before={c["setting"]: c["before"] for c in changes},
                     after={c["setting"]: c["after"] for c in changes}, at=now)
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


def save_benchmarks(engine: Engine, rows: pd.DataFrame, actor: Actor) -> int:
    """Replace the benchmark table with ``rows`` (columns of
    :class:`greendoor.config.BenchmarkRow`), in one transaction with an audit row
    (``benchmarks.update``: the rows removed and added). Returns the number of rows.

    Raises :class:`SettingsError` naming each bad row by its id, column, value and rule
    (nothing is written), ``ValueError`` when nothing changed or two rows of one metric,
    currency, source and year overlap in contract size, and
    :class:`~greendoor.access.AccessDenied` when ``actor`` is not an admin."""
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    errs, clean = [], []
    for i, rec in enumerate(records, start=1):
        try:
            clean.append(config.BenchmarkRow.model_validate(
                {k: v for k, v in rec.items() if k in config.BenchmarkRow.model_fields}))
        except pydantic.ValidationError as exc:
            for e in exc.errors():
                col = ".".join(str(p) for p in e["loc"]) or "row"
                errs.append(f"row {i} ({rec.get('benchmark_id') or 'no id'}), {col}: "
                            f"{e['msg'].removeprefix('Value error, ')}, got {e.get('input')!r}")
    ids = [r.benchmark_id for r in clean]
    errs += [f"benchmark_id {d!r} is used twice" for d in sorted({i for i in ids if ids.count(i) > 1})]
    if errs:
        raise SettingsError("invalid benchmarks:\n- " + "\n- ".join(errs))
    _no_overlap(clean)
    new = {r.benchmark_id: r.model_dump() for r in clean}
    b = schema.benchmarks
    with engine.begin() as conn:
        actor = actor_name(actor, "admin")
        old = {r["benchmark_id"]: {k: r[k] for k in config.BenchmarkRow.model_fields}
               for r in conn.execute(sa.select(b)).mappings()}
        if old == new:
            raise ValueError("nothing changed: the benchmarks are as stored")
        conn.execute(b.delete())
        if new:
            conn.execute(b.insert(), list(new.values()))
        audit.record(conn, actor, "benchmarks.update", "benchmarks", "all",
                     before={k: v for k, v in old.items() if new.get(k) != v},
                     after={k: v for k, v in new.items() if old.get(k) != v})
    return len(new)


def _no_overlap(rows: list) -> None:
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r.metric, r.currency, r.source, r.year, r.statistic), []).append(r)
    for key, rs in groups.items():
        rs = sorted(rs, key=lambda r: r.acv_min)
        for a, b in zip(rs, rs[1:], strict=False):
            if a.acv_max is None or a.acv_max > b.acv_min:
                raise ValueError(f"{a.benchmark_id} and {b.benchmark_id} overlap in contract "
                                 f"size ({key[0]}, {key[1]}, {key[2]} {key[3]})")
