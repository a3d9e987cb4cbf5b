"""The purged, time-ordered backtest of every score, beside its baselines.

Train on the earlier labelled as-of dates; test on the last ~30 % of them, with a gap
of one horizon so that no training label looks into the test period. Each model is
then measured against the simplest baselines on the same test rows
(:mod:`greendoor.scoring.skill`), and its status decides whether it may drive numbers
on screen. The health score is measured the same way (its churn rate per band is the
rule the app falls back on when a model has no skill).

:func:`backtest` returns a JSON-ready dict (stored as ``model_runs`` kind
``evaluation``; ``greendoor evaluate --json`` prints it):

* ``health``: ``auc_low_health`` with its interval (``auc_interval``), ``status``,
  ``churn_rate_by_band`` (90-day churn per band over every labelled date),
  ``renewal_loss_by_band`` (loss rate of renewals inside the horizon, per band),
  ``base_rate`` and ``renewal_base_rate``.
* per model (``churn``, ``expansion``, ``renewal``): ``test`` (AUC, PR AUC, Brier,
  top-decile lift, base rate, n), ``ece`` and ``calibrated``, ``baselines`` (each with
  the same figures), ``best_baseline``, ``lift`` (AUC lift over it with its interval),
  ``status``, ``beyond_timing`` (AUC among rows renewing inside the horizon),
  ``importance`` (permutation importance per feature with its interval),
  ``important_features`` (interval above 0), ``direction`` (+1/-1/0 per feature) and
  ``calibration`` (the reliability table).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from greendoor.scoring import evaluate as E
from greendoor.scoring import skill
from greendoor.scoring.churn import ChurnModel, NotEnoughData
from greendoor.scoring.labels import churn_labels


def split_dates(dates: list[dt.date], horizon: int, test_share: float = 0.3
                ) -> tuple[list[dt.date], list[dt.date]]:
    """(train, test): the last ``test_share`` of the dates are the test; training dates
    end one horizon before the first test date (purged)."""
    k = max(1, int(round(len(dates) * test_share)))
    test = dates[-k:]
    cutoff = test[0] - dt.timedelta(days=horizon)
    return [d for d in dates if d <= cutoff], test


def _rates(y: np.ndarray, bands: pd.Series) -> list[dict]:
    return E.rate_by_group(y, bands.fillna("unknown").to_numpy()).to_dict("records")


def health_block(cache, dates: list[dt.date]) -> dict:
    """The health score's own measured skill and the rule rates it provides."""
    X, y, _, h = cache.labeled(dates, churn_labels)
    bands = pd.concat([cache.health[d]["band"] for d in dates])
    ok = h.notna().to_numpy()
    ai = skill.auc_interval(y[ok], 1 - h[ok].to_numpy() / 100, X.index[ok])
    Xr, yr, _, hr = cache.labeled(dates, churn_labels, renewal_only=True)
    band_r = pd.concat([cache.health[d]["band"].reindex(
        cache.features[d].index[cache.features[d]["days_to_renewal"].between(
            0, cache.horizon - 1)]) for d in dates])
    return {
        "auc_low_health": ai["auc"], "auc_interval": [ai["lo"], ai["hi"]],
        "status": "skill" if ai["lo"] > 0.5 else ("not measured" if np.isnan(ai["lo"])
                                                   else "no skill"),
        "churn_rate_by_band": _rates(y, bands),
        "renewal_loss_by_band": _rates(yr, band_r) if len(yr) else [],
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "renewal_base_rate": float(yr.mean()) if len(yr) else float("nan"),
        "n": int(len(y)), "positives": int(y.sum()),
    }


def _report(y: np.ndarray, p: np.ndarray) -> dict:
    out = E.classification_report(y, p)
    out["ece"] = skill.expected_calibration_error(y, p)
    return out


def model_block(cache, kind: str, label_fn, renewal_only: bool, train: list[dt.date],
                test: list[dt.date], ask=lambda X: X) -> dict:
    """One model's backtest beside its baselines (see the module docstring). ``ask``
    turns test rows into the question scoring asks (the renewal model: at renewal)."""
    if len(train) < 2:
        return {"status": "not measured", "reason": "too few as-of dates before the test period"}
    Xtr, ytr, dtr, htr = cache.labeled(train, label_fn, renewal_only)
    Xte, yte, _, hte = cache.labeled(test, label_fn, renewal_only)
    try:
        model = ChurnModel().fit(Xtr, ytr, as_of=dtr)
    except NotEnoughData as exc:
        return {"status": "not measured", "reason": str(exc), "n_train": int(len(ytr)),
                "positives_train": int(ytr.sum())}
    Xq = ask(Xte)
    p = model.predict_proba(Xq)[:, 1]
    res = {"estimator": model.estimator_, "selection": model.selection_,
           "n_train": int(len(ytr)), "positives_train": int(ytr.sum()), "test": _report(yte, p),
           "calibration": E.calibration_table(yte, p).to_dict("records")}
    m = cache.settings["models"]
    res["ece"] = res["test"]["ece"]
    res["calibrated"] = bool(res["ece"] < m["ece_calibrated"])
    base_tr, base_te = Xtr.assign(health_score=htr.to_numpy()), Xte.assign(
        health_score=hte.to_numpy())
    baselines = skill.fit_baselines(kind, base_tr, ytr)
    scores = {name: b.predict_proba(base_te)[:, 1] for name, b in baselines.items()}
    res["baselines"] = {name: {"description": skill.BASELINES[name][0], **_report(yte, s)}
                        for name, s in scores.items()}
    aucs = {k: v["auc"] for k, v in res["baselines"].items() if not np.isnan(v["auc"])}
    best = max(aucs, key=aucs.get) if aucs else None
    res["best_baseline"] = best
    groups = Xte.index.to_numpy()
    res["lift"] = (skill.auc_lift(yte, p, scores[best], groups, level=m["interval"]) if best else
                   {"lift": float("nan"), "lo": float("nan"), "hi": float("nan")})
    res["status"] = skill.status(res["lift"])
    res["beyond_timing"] = _beyond_timing(cache.horizon, Xte, yte, p, scores, groups)
    imp = skill.permutation_importance(model, Xq, yte, groups, level=m["interval"])
    res["importance"] = imp.round(5).to_dict("records")
    res["important_features"] = imp.loc[imp["lo"] > skill.IMPORTANCE_FLOOR, "feature"].tolist()
    res["direction"] = skill.global_direction(model, Xq)
    return res


def _beyond_timing(horizon: int, X: pd.DataFrame, y: np.ndarray, p: np.ndarray,
                   baselines: dict, groups: np.ndarray) -> dict:
    """AUC among the rows whose renewal falls inside the horizon (the calendar cannot
    separate them), with its interval, and the timing baseline's there."""
    inside = X["days_to_renewal"].between(0, horizon - 1).to_numpy()
    yy = y[inside]
    if not 0 < yy.sum() < len(yy):
        return {"n": int(inside.sum()), "auc": float("nan"), "reason":
                "no churner and non-churner both renewing inside the horizon in the test"}
    ai = skill.auc_interval(yy, p[inside], groups[inside])
    out = {"n": int(inside.sum()), "positives": int(yy.sum()), "auc": ai["auc"],
           "interval": [ai["lo"], ai["hi"]]}
    if "timing" in baselines:
        out["timing_auc"] = E.classification_report(yy, baselines["timing"][inside])["auc"]
    return out


def backtest(cache, dates: list[dt.date], kinds: dict, test_share: float = 0.3,
             ask=None) -> dict:
    """The whole backtest (module docstring). ``kinds``: model name -> (label function,
    renewal only); ``ask``: model name -> function turning test rows into its
    question."""
    out: dict = {"horizon_days": cache.horizon, "dates": [str(d) for d in dates]}
    if len(dates) < 4:
        out["status"] = "skipped"
        out["reason"] = (f"only {len(dates)} labelled as-of dates (at least 4 are needed: the "
                         "data must span about 11 months)")
        return out
    train, test = split_dates(dates, cache.horizon, test_share)
    out.update(train_dates=[str(d) for d in train], test_dates=[str(d) for d in test])
    out["health"] = health_block(cache, dates)
    for kind, (label_fn, renewal_only) in kinds.items():
        out[kind] = model_block(cache, kind, label_fn, renewal_only, train, test,
                                (ask or {}).get(kind, lambda X: X))
    out["status"] = "ok"
    return out
