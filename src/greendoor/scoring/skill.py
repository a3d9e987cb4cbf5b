"""Measured skill: every model against the simplest baselines that could match it.

A model's accuracy means little alone. On the demo, ``days_to_renewal`` alone ranks
90-day churners with a ROC AUC of 0.92 (every churner renews inside the horizon), so a
churn model's 0.96 is mostly the calendar. This module puts each model beside its
baselines on the same backtest rows and decides, with stated thresholds, whether it
has skill of its own:

* **Baselines** (:func:`fit_baselines`): the *timing rule* (a logistic regression on
  days to renewal, contract term and auto-renew: what the calendar alone knows), the
  *health rule* (a logistic regression on the health score: what the rule-based score
  alone knows), and for expansion the *seat rule* (seat utilization). Each is trained
  on the backtest's training rows, like the model.
* **Lift** (:func:`auc_lift`): the model's ROC AUC minus the best baseline's, with a
  90 % interval from a paired bootstrap that resamples *accounts* (an account's rows
  at several dates are not independent).
* **Status** (:func:`status`): ``skill`` when the interval's lower end is above 0;
  ``no skill`` otherwise; ``not measured`` without a backtest. A model without skill
  drives no number on screen: the rules take over (``greendoor.scoring.run``).
* **Calibration** (:func:`expected_calibration_error`): the word "calibrated" is used
  only when the backtest's expected calibration error is below :data:`ECE_CALIBRATED`.
* **Skill beyond timing**: the model's AUC among the test rows whose renewal falls
  inside the horizon, where the calendar cannot tell churners apart.
* **Feature importance** (:func:`permutation_importance`): the drop in test AUC when
  a feature's values are shuffled (scikit-learn's ``permutation_importance``), with an
  interval over the repeats; only features whose interval is above 0 may be drivers.

References: Efron & Tibshirani (1993) for the bootstrap; Naeini et al. (2015) for the
expected calibration error; Breiman (2001) for permutation importance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from greendoor.config import DEFAULT_SETTINGS

#: Defaults of the settings ``models.ece_calibrated`` (expected calibration error below
#: which probabilities are "calibrated") and ``models.interval`` (coverage of the
#: intervals on AUC lift and feature importance).
ECE_CALIBRATED = DEFAULT_SETTINGS["models"]["ece_calibrated"]
INTERVAL = DEFAULT_SETTINGS["models"]["interval"]
#: Bootstrap resamples for the AUC lift interval.
N_BOOTSTRAP = 400
#: A feature is important when its importance interval's lower end is above this
#: (AUC points; above float noise).
IMPORTANCE_FLOOR = 1e-6
#: Repeats of each feature shuffle for the permutation importance.
N_REPEATS = 5

#: Baseline name -> (plain description, its input columns).
BASELINES = {
    "timing": ("days to renewal, contract term and auto-renew alone",
               ["days_to_renewal", "term_months", "auto_renew"]),
    "health": ("the health score alone", ["health_score"]),
    "seats": ("seat utilization alone", ["seat_utilization"]),
}
#: Which baselines each model is held against.
MODEL_BASELINES = {"churn": ("timing", "health"), "renewal": ("timing", "health"),
                   "expansion": ("seats", "health")}


def expected_calibration_error(y_true, probability, bins: int = 10) -> float:
    """Σ_b (n_b / n) |mean(y in b) − mean(p in b)| over ``bins`` equal-width probability
    bins (Naeini et al. 2015). 0 = perfectly calibrated; NaN without rows."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probability, dtype=float)
    if not len(y):
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(y) * abs(y[m].mean() - p[m].mean())
    return float(total)


class Baseline:
    """A one-purpose logistic regression on a few columns (missing values: median and
    an indicator), as a scikit-learn classifier: ``fit(frame, y)``, ``predict_proba``."""

    def __init__(self, columns: list[str]):
        self.columns = columns

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns:
            v = pd.to_numeric(frame[c], errors="coerce").astype(float) if c in frame else \
                pd.Series(np.nan, index=frame.index)
            cols += [v.fillna(self.fill_.get(c, 0.0)).to_numpy(), v.isna().to_numpy(float)]
        return np.column_stack(cols) if cols else np.zeros((len(frame), 0))

    def fit(self, frame: pd.DataFrame, y) -> Baseline:
        """Fit the baseline's logistic regression on its ``columns`` of ``frame`` (missing values
        filled with the training median, plus a missing flag) against 0/1 labels ``y``; a single
        class gives a constant. Returns self."""
        self.fill_ = {c: float(pd.to_numeric(frame[c], errors="coerce").median())
                      if c in frame and frame[c].notna().any() else 0.0 for c in self.columns}
        self.fill_ = {c: (0.0 if np.isnan(v) else v) for c, v in self.fill_.items()}
        y = np.asarray(y, dtype=int)
        self.constant_ = None
        if y.min() == y.max():
            self.constant_ = float(y.mean())
            return self
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        self.model_.fit(self._matrix(frame), y)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """``n x 2`` class probabilities, as scikit-learn's ``predict_proba``."""
        if self.constant_ is not None:
            p = np.full(len(frame), self.constant_)
        else:
            p = self.model_.predict_proba(self._matrix(frame))[:, 1]
        return np.column_stack([1 - p, p])


def fit_baselines(kind: str, train: pd.DataFrame, y_train) -> dict[str, Baseline]:
    """The baselines of model ``kind`` (:data:`MODEL_BASELINES`), fitted on ``train``
    (a frame holding their input columns) and labels ``y_train``."""
    return {name: Baseline(BASELINES[name][1]).fit(train, y_train)
            for name in MODEL_BASELINES[kind]}


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank formula (ties: average ranks), equal to
    ``sklearn.metrics.roc_auc_score`` (tested) without its input checks, which cost
    about 2 ms a call: the bootstraps here call it thousands of times."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if not n1 or not n0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_lift(y_true, p_model, p_baseline, groups, n: int = N_BOOTSTRAP, level: float = INTERVAL,
             seed: int = 0) -> dict:
    """ROC AUC of the model minus that of the baseline on the same rows, with a
    ``level`` interval from a paired bootstrap over ``groups`` (accounts): each
    resample draws accounts with replacement and keeps all their rows.

    Returns ``{"lift", "lo", "hi", "n_boot"}`` (NaN without both classes)."""
    y = np.asarray(y_true, dtype=int)
    pm, pb = np.asarray(p_model, float), np.asarray(p_baseline, float)
    lift = _auc(y, pm) - _auc(y, pb)
    out = []
    for idx in _resamples(groups, n, seed):
        yy = y[idx]
        if 0 < yy.sum() < len(yy):
            out.append(_auc(yy, pm[idx]) - _auc(yy, pb[idx]))
    if not out or np.isnan(lift):
        return {"lift": float(lift), "lo": float("nan"), "hi": float("nan"), "n_boot": len(out)}
    a = (1 - level) / 2
    return {"lift": float(lift), "lo": float(np.quantile(out, a)),
            "hi": float(np.quantile(out, 1 - a)), "n_boot": len(out)}


def status(lift: dict | None) -> str:
    """``skill`` when the lift interval's lower end is above 0, ``no skill`` when it
    is not, ``not measured`` without one."""
    if not lift or lift.get("lo") is None or np.isnan(lift.get("lo", np.nan)):
        return "not measured"
    return "skill" if lift["lo"] > 0 else "no skill"


def auc_interval(y_true, score, groups, n: int = N_BOOTSTRAP, level: float = INTERVAL,
                 seed: int = 0) -> dict:
    """ROC AUC with a ``level`` account-bootstrap interval: ``{"auc", "lo", "hi"}``.
    (The lift over a constant, whose AUC is 0.5.)"""
    res = auc_lift(y_true, score, np.zeros(len(np.asarray(score))), groups, n, level, seed)
    return {"auc": res["lift"] + 0.5, "lo": res["lo"] + 0.5, "hi": res["hi"] + 0.5}


def _resamples(groups, n: int, seed: int) -> list[np.ndarray]:
    """``n`` bootstrap resamples of row positions, drawing whole groups (accounts)."""
    g = pd.factorize(np.asarray(groups))[0]
    rows_of = pd.Series(np.arange(len(g))).groupby(g).apply(np.asarray).to_list()
    rng = np.random.default_rng(seed)
    return [np.concatenate([rows_of[i] for i in rng.integers(0, len(rows_of), len(rows_of))])
            for _ in range(n)]


def permutation_importance(model, X: pd.DataFrame, y, groups=None, n_repeats: int = N_REPEATS,
                           n_boot: int = 200, level: float = INTERVAL, seed: int = 0,
                           max_rows: int = 4000) -> pd.DataFrame:
    """Drop in ROC AUC when each candidate driver of ``model`` (its
    ``driver_features_``, the most influential at fit time) is shuffled across the rows
    of ``X`` (Breiman 2001), ``n_repeats`` shuffles each, on at most ``max_rows`` rows.

    The interval is an account bootstrap (``groups``): each resample draws accounts
    with replacement and measures the drop on their rows with one of the shuffles, so
    it holds the test set's sampling noise, not only the shuffles' (a feature of no
    use, such as a random industry, can rank well on one test set by chance).
    scikit-learn's ``permutation_importance`` gives only the spread over shuffles,
    hence this function. Returns ``feature, mean, lo, hi``, most important first."""
    y = np.asarray(y, dtype=int)
    groups = np.asarray(groups if groups is not None else np.arange(len(y)))
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        pick = np.sort(rng.choice(len(X), max_rows, replace=False))
        X, y, groups = X.iloc[pick], y[pick], groups[pick]
    cols = list(getattr(model, "driver_features_", None) or X.columns)
    if not 0 < y.sum() < len(y) or not cols:
        return pd.DataFrame(columns=["feature", "mean", "lo", "hi"])
    p0 = model.predict_proba(X)[:, 1]
    shuffled = {c: [model.predict_proba(X.assign(**{c: X[c].to_numpy()[rng.permutation(len(X))]})
                                        )[:, 1] for _ in range(n_repeats)] for c in cols}
    mean = {c: _auc(y, p0) - np.mean([_auc(y, p) for p in ps]) for c, ps in shuffled.items()}
    boots = {c: [] for c in cols}
    for b, idx in enumerate(_resamples(groups, n_boot, seed)):
        yy = y[idx]
        if not 0 < yy.sum() < len(yy):
            continue
        a0 = _auc(yy, p0[idx])
        for c, ps in shuffled.items():
            boots[c].append(a0 - _auc(yy, ps[b % n_repeats][idx]))
    a = (1 - level) / 2
    out = pd.DataFrame({"feature": cols, "mean": [mean[c] for c in cols],
                        "lo": [np.quantile(boots[c], a) if boots[c] else np.nan for c in cols],
                        "hi": [np.quantile(boots[c], 1 - a) if boots[c] else np.nan
                               for c in cols]})
    return out.sort_values("mean", ascending=False, ignore_index=True)


def global_direction(model, X: pd.DataFrame) -> dict[str, int]:
    """For each numeric feature the model uses: +1 when higher values go with higher
    predicted risk on ``X`` (Spearman correlation of the feature with the model's
    decision), -1 when lower values do, 0 when there is no monotone relation (the rank
    correlation within 2 / sqrt(n) of 0)."""
    decision = pd.Series(model.decision_function(X), index=X.index)
    out = {}
    for c in getattr(model, "numeric_features_", []):
        v = pd.to_numeric(X[c], errors="coerce")
        ok = v.notna()
        if ok.sum() < 20 or v[ok].nunique() < 2:
            out[c] = 0
            continue
        rho = v[ok].rank().corr(decision[ok].rank())
        # no direction unless the correlation is about 2 standard errors from 0
        out[c] = 0 if not np.isfinite(rho) or abs(rho) < 2 / np.sqrt(ok.sum()) \
            else int(np.sign(rho))
    return out


# --------------------------------------------------------------------------- #
# gates: what drives the numbers on screen
# --------------------------------------------------------------------------- #
class Gates:
    """What the latest backtest allows (see the module docstring): per model its
    ``status``, whether it is ``calibrated``, its ``important`` features and their
    ``direction``; and the rules the app falls back on: the 90-day churn rate and the
    renewal loss rate per health band when the health score has skill, else the
    portfolio's base rates. Built from a stored evaluation (``None``: nothing measured,
    so no model drives a number and the rules have no measured rate either)."""

    MODELS = ("churn", "renewal", "expansion")

    def __init__(self, evaluation: dict | None):
        ev = evaluation if evaluation and evaluation.get("status") == "ok" else {}
        self.evaluation = ev
        self.status = {k: ev.get(k, {}).get("status", "not measured") for k in self.MODELS}
        self.calibrated = {k: bool(ev.get(k, {}).get("calibrated", False)) for k in self.MODELS}
        self.important = {k: list(ev.get(k, {}).get("important_features", []))
                          for k in self.MODELS}
        self.direction = {k: dict(ev.get(k, {}).get("direction", {})) for k in self.MODELS}
        h = ev.get("health", {})
        self.health_status = h.get("status", "not measured")
        self.band_churn = {r["group"]: r["rate"] for r in h.get("churn_rate_by_band", [])}
        self.band_renewal_loss = {r["group"]: r["rate"] for r in h.get("renewal_loss_by_band", [])}
        self.base_rate = h.get("base_rate", float("nan"))
        self.renewal_base_rate = h.get("renewal_base_rate", float("nan"))

    def uses(self, kind: str) -> bool:
        """Whether model ``kind`` has measured skill (and so may drive numbers)."""
        return self.status.get(kind) == "skill"

    @property
    def rule(self) -> str:
        """The rule behind the numbers when a model has no skill."""
        return "health band" if self.health_status == "skill" else "base rate"

    def _by_band(self, band: pd.Series, rates: dict, base: float) -> pd.Series:
        if self.rule == "health band":
            return band.map(rates).astype(float).fillna(base)
        return pd.Series(base, index=band.index, dtype=float)

    def rule_churn(self, band: pd.Series) -> pd.Series:
        """The rule's 90-day churn probability of each account (by its band)."""
        return self._by_band(band, self.band_churn, self.base_rate)

    def rule_renewal_loss(self, band: pd.Series) -> pd.Series:
        """The rule's probability of losing each account at a renewal (by its band)."""
        return self._by_band(band, self.band_renewal_loss, self.renewal_base_rate)


#: One sentence per risk figure, shown on screen wherever the figures appear together.
DEFINITIONS = {
    "health": "Health score (0-100): a weighted mix of engagement, sentiment and growth "
              "measures, rule-based; green 80+, yellow 50-79, red below 50.",
    "risk_index": "Risk index (0-100): where the account's risk at its next renewal ranks "
                  "among all accounts (100 = riskiest), whenever that renewal is.",
    "churn_probability": "P(churn, 90 days): the chance the account is lost within the "
                         "next 90 days; low for an account whose renewal is months away.",
    "renewal_probability": "P(renew): the chance the account renews at its next renewal "
                           "within a year.",
    "alerts": "Alerts: rules on recent changes (usage, logins, tickets, health); they say "
              "what moved, not how likely a loss is.",
    "expected_loss": "Expected loss: ARR × the probability of losing the account at its "
                     "next renewal (or within 90 days when none is due within a year).",
}

_MODEL_WORDS = {"churn": "churn model", "renewal": "renewal model",
                "expansion": "expansion model"}


def status_sentence(gates: Gates, kind: str) -> str:
    """The model's measured status in plain words, with its numbers, e.g. "The churn
    model has no measurable skill beyond the timing rule (AUC lift +0.08, 90 %
    interval -0.00 to +0.15): the health-band rule drives these numbers"."""
    m = gates.evaluation.get(kind, {})
    name = _MODEL_WORDS[kind]
    if "lift" not in m:
        why = m.get("reason") or "no backtest yet (`greendoor evaluate`)"
        return f"The {name} is not measured ({why}): the {gates.rule} rule drives these numbers."
    lift = m["lift"]
    base = BASELINES.get(m.get("best_baseline") or "", ("its baseline",))[0]
    nums = (f"ROC AUC {m['test']['auc']:.2f} vs {m['baselines'][m['best_baseline']]['auc']:.2f} "
            f"for {base}; lift {lift['lift']:+.2f}, 90 % interval {lift['lo']:+.2f} to "
            f"{lift['hi']:+.2f}")
    if gates.uses(kind):
        cal = "calibrated" if gates.calibrated[kind] else "not calibrated (ECE ≥ 0.05)"
        return f"The {name} beats its best baseline ({nums}); its probabilities are {cal}."
    return (f"The {name} has no measurable skill over {base} ({nums}): the "
            f"{gates.rule} rule drives these numbers instead.")
