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

import dataclasses
import math

import numpy as np
import pandas as pd

from greendoor.config import DEFAULT_SETTINGS

COMPONENTS = ("engagement", "sentiment", "growth")
DEFAULT_WEIGHTS = DEFAULT_SETTINGS["health"]["weights"]
DEFAULT_BANDS = DEFAULT_SETTINGS["health"]["bands"]


#: Default of the setting ``models.queue_min_risk_index``: the at-risk queue lists
#: accounts at risk and those at or above this risk index.
QUEUE_MIN_RISK_INDEX = DEFAULT_SETTINGS["models"]["queue_min_risk_index"]

#: Measures that apply only to some accounts: a success plan's days behind and time to
#: value (issue 20) exist for accounts with a plan of the last year. Without one they
#: neither count in the score nor lower its confidence (a missing measure of any other
#: kind lowers the confidence: the data that should say something is absent).
CONDITIONAL_MEASURES = frozenset({"onboarding_days_behind", "time_to_value_days"})


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


def trend_days(settings: dict) -> int:
    """Days between a score and the one its trend compares with: the setting
    ``health.trend_window_days`` rounded to whole weeks (scores are weekly), at least 7."""
    return 7 * max(1, round(settings["health"]["trend_window_days"] / 7))


def is_at_risk(band_: str | None, trend: str | None) -> bool:
    """At risk = red, or yellow and declining (SPEC.md)."""
    return band_ == "red" or (band_ == "yellow" and trend == "declining")


def at_risk_rows(bands: pd.Series, trends: pd.Series) -> pd.Series:
    """:func:`is_at_risk` of each row: a boolean Series on the same index."""
    return (bands == "red") | ((bands == "yellow") & (trends == "declining"))


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


@dataclasses.dataclass(frozen=True)
class WhyPanel:
    """The why panel in wide form: one row per account, one column per measure.

    ``accounts`` (the features' index, n); ``components`` and ``measures`` (m names,
    component-major, as in the settings); ``value`` (raw), ``scaled`` (0-100) and
    ``weight`` (effective share of the score, summing to 1 over an account's present
    measures): n x m float arrays, NaN where a measure is missing.
    ``contribution = weight x scaled`` (points; they sum to the health score) and
    ``gain = weight x (100 - scaled)`` (points the score would rise if the measure
    were perfect), SPEC.md "Health score".
    """

    accounts: pd.Index
    components: list[str]
    measures: list[str]
    value: np.ndarray
    scaled: np.ndarray
    weight: np.ndarray

    @property
    def contribution(self) -> np.ndarray:
        """Points each measure adds to the score (weight x scaled value), accounts x measures."""
        return self.weight * self.scaled

    @property
    def gain(self) -> np.ndarray:
        """Points each measure could still add (weight x (100 - scaled value)), accounts x measures."""
        return self.weight * (100 - self.scaled)

    def long(self) -> pd.DataFrame:
        """Long form: ``account_id, component, measure, value, scaled, weight,
        contribution, gain``, measure-major (every account for the first measure,
        then the next)."""
        n = len(self.accounts)
        why = pd.DataFrame({
            "account_id": np.tile(self.accounts.to_numpy(), len(self.measures)),
            "component": np.repeat(self.components, n),
            "measure": np.repeat(self.measures, n),
            "value": self.value.T.ravel(), "scaled": self.scaled.T.ravel(),
            "weight": self.weight.T.ravel(),
        })
        why["contribution"] = why["weight"] * why["scaled"]
        why["gain"] = why["weight"] * (100 - why["scaled"])
        return why

    def best_improvement(self) -> pd.Series:
        """Per account, the measure with the largest ``gain`` (the first one on a tie),
        ``None`` when no measure is present; index ``accounts``. The same answer as
        :func:`best_improvement` on :meth:`long`."""
        g = self.gain
        known = ~np.isnan(g)
        if not g.size:
            return pd.Series(None, index=self.accounts, dtype=object)
        k = np.where(known, g, -np.inf).argmax(axis=1)
        names = np.asarray(self.measures, dtype=object)[k]
        return pd.Series(np.where(known.any(axis=1), names, None), index=self.accounts,
                         dtype=object)


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
      measure were perfect), measure-major (:meth:`WhyPanel.long`).

    :func:`health_panel` gives the same with the why panel in wide form.
    """
    scores, panel = health_panel(features, settings)
    return scores, panel.long()


def health_panel(features: pd.DataFrame, settings: dict) -> tuple[pd.DataFrame, WhyPanel]:
    """:func:`score_health` with the why panel as a :class:`WhyPanel` (n x m arrays),
    which batch scoring reads without building a long frame of accounts x measures
    rows (about 1 M at bench tier L)."""
    h = settings["health"]
    n = len(features)
    # one column per (component, measure): accounts x measures, component-major
    cols = [(comp, name, spec) for comp in COMPONENTS for name, spec in h["measures"][comp].items()]
    comp_of = np.array([COMPONENTS.index(c) for c, _, _ in cols], dtype=int)
    V = np.column_stack([pd.to_numeric(features[name], errors="coerce").astype(float).to_numpy()
                         if name in features else np.full(n, np.nan) for _, name, _ in cols]) \
        if cols else np.empty((n, 0))
    S = np.column_stack([scale(V[:, k], spec["points"]) for k, (_, _, spec) in enumerate(cols)]) \
        if cols else np.empty((n, 0))
    m_w = np.array([float(spec["weight"]) for _, _, spec in cols], dtype=float)
    present_w = np.where(np.isnan(S), 0.0, m_w)  # a missing measure's weight is 0
    onehot = (comp_of[:, None] == np.arange(len(COMPONENTS))[None, :]).astype(float)  # M x C
    comp_present_w = present_w @ onehot  # accounts x components
    # a conditional measure that does not apply to an account (no success plan) is left
    # out of the weight its confidence is measured against
    cond = np.array([name in CONDITIONAL_MEASURES for _, name, _ in cols], dtype=bool)
    applies_w = np.where(np.isnan(S) & cond[None, :], 0.0, m_w) if cols else present_w
    comp_total_w = applies_w @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.where(comp_present_w[:, comp_of] > 0, present_w / comp_present_w[:, comp_of], 0.0)
        comp = np.where(comp_present_w > 0, (np.nan_to_num(S) * within) @ onehot, np.nan)
        share = comp_present_w / comp_total_w
    comp_scores = pd.DataFrame(comp, index=features.index, columns=list(COMPONENTS))
    segments = features["segment"] if "segment" in features else \
        pd.Series(None, index=features.index, dtype=object)
    scores = []
    for seg, idx in segments.groupby(segments.fillna(""), dropna=False).groups.items():
        scores.append(compose(comp_scores.loc[idx], _weights_for(settings, seg or None), h["bands"]))
    out = comp_scores.join(pd.concat(scores)[["health_score", "band"]]) if scores else \
        comp_scores.assign(health_score=np.nan, band=None)
    # each account's component weights (its segment's, else the default): accounts x COMPONENTS
    keys = [s if isinstance(s, str) and s else "" for s in segments]
    by_key = {k: _weights_for(settings, k or None) for k in set(keys)}
    wv = np.array([[by_key[k][c] for c in COMPONENTS] for k in keys], dtype=float).reshape(n, -1)
    # confidence: component weight x share of its measure weight present
    with np.errstate(invalid="ignore", divide="ignore"):
        out["confidence"] = (share * wv).sum(axis=1) / wv.sum(axis=1)
    # effective weights for the why panel: within-component weight x the component's
    # share of the weight of the components present
    c_w = np.where(comp_present_w > 0, wv, 0.0)
    total_c = c_w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = within * c_w[:, comp_of] / np.where(total_c > 0, total_c, np.nan)[:, None]
    return out, WhyPanel(accounts=features.index, components=[c for c, _, _ in cols],
                         measures=[m for _, m, _ in cols], value=V, scaled=S, weight=weight)


def best_improvement(why: pd.DataFrame) -> pd.Series:
    """Per account, the measure whose improvement would raise the score most
    (largest ``gain``); index ``account_id``."""
    w = why.dropna(subset=["gain"])
    idx = w.groupby("account_id")["gain"].idxmax()
    return w.loc[idx].set_index("account_id")["measure"]
