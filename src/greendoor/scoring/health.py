"""Health score (SPEC.md "Health score"; seed 003 is canonical).

* Each **measure** (a feature from :mod:`.features`) is scaled to 0-100 by linear
  interpolation between the ``[value, score]`` points of the settings.
* A **component** (engagement, sentiment, growth) is the weighted mean of its
  present measures.
* The **health score** is the weighted mean of the present components
  (default 0.4 / 0.3 / 0.3): Σ w·x / Σ w. A missing input's weight is spread
  proportionally over the present ones, and the score carries a **confidence**,
  the share of weight present.
* **Bands**: green 80-100, yellow 50-79, red 0-49. **Trend** over 30 days:
  ≥ +5 improving, ≤ -5 declining, else stable. **At risk** = red, or yellow and
  declining.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from greendoor.config import DEFAULT_SETTINGS

COMPONENTS = ("engagement", "sentiment", "growth")
DEFAULT_WEIGHTS = DEFAULT_SETTINGS["health"]["weights"]
DEFAULT_BANDS = DEFAULT_SETTINGS["health"]["bands"]


def band(score: float, bands: dict[str, float] | None = None) -> str | None:
    """Band of a 0-100 score: "green" (>= 80), "yellow" (>= 50), else "red".

    Thresholds come from ``bands`` (lower bounds of green and yellow); a score
    below the green bound is never green. ``None`` for a missing score.
    """
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    b = bands or DEFAULT_BANDS
    if score >= b["green"]:
        return "green"
    if score >= b["yellow"]:
        return "yellow"
    return "red"


def classify_trend(delta: float, threshold: float = 5.0) -> str | None:
    """"improving" when ``delta`` >= +threshold points, "declining" when <= -threshold,
    else "stable"; ``None`` when the change is unknown."""
    if delta is None or (isinstance(delta, float) and math.isnan(delta)):
        return None
    if delta >= threshold:
        return "improving"
    if delta <= -threshold:
        return "declining"
    return "stable"


def is_at_risk(band_: str | None, trend: str | None) -> bool:
    """At risk = red, or yellow and declining (SPEC.md)."""
    return band_ == "red" or (band_ == "yellow" and trend == "declining")


def compose(components: pd.DataFrame, weights: dict[str, float] | None = None,
            bands: dict[str, float] | None = None) -> pd.DataFrame:
    """Combine component scores into the health score.

    ``components``: columns ``engagement``, ``sentiment``, ``growth`` (0-100,
    NaN = missing). ``weights``: per component (default 0.4 / 0.3 / 0.3); they
    need not sum to 1. Returns a frame on the same index with ``health_score``
    (0-100, NaN when every component is missing), ``band`` and ``confidence``
    (share of the total weight whose component is present, 0-1). Raises
    ``ValueError`` for a negative weight or a missing component column.
    """
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    missing = [c for c in COMPONENTS if c not in components]
    if missing:
        raise ValueError(f"components lack columns {missing}")
    if any(w[c] < 0 for c in COMPONENTS):
        raise ValueError("weights must be non-negative")
    x = components[list(COMPONENTS)].astype(float).to_numpy()
    wv = np.array([w[c] for c in COMPONENTS], dtype=float)
    present = ~np.isnan(x)
    w_present = (present * wv).sum(axis=1)
    total = wv.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(w_present > 0, np.nansum(np.where(present, x, 0) * wv, axis=1) / w_present,
                         np.nan)
    out = pd.DataFrame(index=components.index)
    out["health_score"] = np.clip(score, 0, 100)
    out["band"] = [band(s, bands) for s in out["health_score"]]
    out["confidence"] = w_present / total if total > 0 else 0.0
    return out


def scale(values: pd.Series | np.ndarray, points: list[list[float]]) -> np.ndarray:
    """Scale raw values to 0-100 by linear interpolation between ``[value, score]``
    points (any order of values; clamped beyond the ends). NaN stays NaN."""
    pts = sorted(points, key=lambda p: p[0])
    xs = np.array([p[0] for p in pts], dtype=float)
    ys = np.array([p[1] for p in pts], dtype=float)
    v = np.asarray(values, dtype=float)
    out = np.interp(v, xs, ys)
    out[np.isnan(v)] = np.nan
    return out


def _weights_for(settings: dict, segment: str | None) -> dict[str, float]:
    h = settings["health"]
    return {**h["weights"], **h.get("segment_weights", {}).get(segment or "", {})}


def score_health(features: pd.DataFrame, settings: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Health of every row of ``features`` (one row per account).

    Returns ``(scores, measures)``:

    * ``scores``: ``engagement, sentiment, growth, health_score, band,
      confidence`` on the features' index. Here ``confidence`` is the share of
      the total measure weight present, per component weight.
    * ``measures`` (the why panel), long form: ``account_id, component,
      measure, value, scaled`` (0-100), ``weight`` (effective share of the score,
      summing to 1 over present measures), ``contribution`` (points; they sum to
      the health score) and ``gain`` (points the score would rise if this
      measure were perfect).
    """
    h = settings["health"]
    measures = h["measures"]
    parts = []
    for comp in COMPONENTS:
        for name, spec in measures[comp].items():
            raw = features[name] if name in features else pd.Series(np.nan, index=features.index)
            parts.append(pd.DataFrame({
                "account_id": features.index, "component": comp, "measure": name,
                "value": pd.to_numeric(raw, errors="coerce").astype(float).to_numpy(),
                "scaled": scale(raw, spec["points"]), "m_weight": float(spec["weight"]),
            }))
    long = pd.concat(parts, ignore_index=True)
    present = long["scaled"].notna()
    long["m_present_w"] = long["m_weight"].where(present, 0.0)
    comp_w = long.groupby(["account_id", "component"])["m_present_w"].transform("sum")
    long["within"] = np.where(comp_w > 0, long["m_present_w"] / comp_w.where(comp_w > 0), 0.0)
    comp_scores = (long.assign(x=long["scaled"].fillna(0) * long["within"])
                   .groupby(["account_id", "component"])["x"].sum()
                   .where(long.groupby(["account_id", "component"])["m_present_w"].sum() > 0)
                   .unstack("component").reindex(index=features.index, columns=list(COMPONENTS)))
    segments = features["segment"] if "segment" in features else pd.Series(None, index=features.index)
    scores = []
    for seg, idx in segments.groupby(segments.fillna(""), dropna=False).groups.items():
        scores.append(compose(comp_scores.loc[idx], _weights_for(settings, seg or None), h["bands"]))
    out = comp_scores.join(pd.concat(scores)[["health_score", "band"]])
    # confidence: component weight x share of its measure weight present
    m_total = long.groupby(["account_id", "component"])["m_weight"].sum()
    m_present = long.groupby(["account_id", "component"])["m_present_w"].sum()
    share = (m_present / m_total).unstack("component").reindex(index=features.index,
                                                               columns=list(COMPONENTS))
    # each account's component weights (its segment's, else the default): accounts x COMPONENTS
    keys = [s if isinstance(s, str) and s else "" for s in segments]
    by_key = {k: _weights_for(settings, k or None) for k in set(keys)}
    wv = np.array([[by_key[k][c] for c in COMPONENTS] for k in keys], dtype=float)
    out["confidence"] = (share.to_numpy() * wv).sum(axis=1) / wv.sum(axis=1)
    # effective weights for the why panel
    comp_weight = wv[features.index.get_indexer(long["account_id"]),
                     long["component"].map({c: i for i, c in enumerate(COMPONENTS)}).to_numpy()]
    comp_present = long.groupby(["account_id", "component"])["m_present_w"].transform("sum") > 0
    long["c_w"] = np.where(comp_present, comp_weight, 0.0)
    total_c = long.drop_duplicates(["account_id", "component"]).groupby("account_id")["c_w"].sum()
    long["weight"] = long["within"] * long["c_w"] / long["account_id"].map(total_c).replace(0, np.nan)
    long["contribution"] = long["weight"] * long["scaled"]
    long["gain"] = long["weight"] * (100 - long["scaled"])
    why = long[["account_id", "component", "measure", "value", "scaled", "weight",
                "contribution", "gain"]]
    return out, why


def best_improvement(why: pd.DataFrame) -> pd.Series:
    """Per account, the measure whose improvement would raise the score most
    (largest ``gain``); index ``account_id``."""
    w = why.dropna(subset=["gain"])
    idx = w.groupby("account_id")["gain"].idxmax()
    return w.loc[idx].set_index("account_id")["measure"]
