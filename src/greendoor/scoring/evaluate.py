"""Measured quality of scores: small pure functions on arrays (like sklearn.metrics).

Every function takes ``y_true`` (0/1) and a score where higher = more likely
positive, and returns plain numbers or small frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def top_decile_lift(y_true, score) -> float:
    """Positive rate among the 10 % highest scores / overall positive rate.

    1 = no better than random; NaN when there is no positive. Ties at the cut are
    broken by order of appearance (stable sort).
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    if y.sum() == 0:
        return float("nan")
    k = max(1, int(np.ceil(0.1 * len(y))))
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def classification_report(y_true, probability) -> dict:
    """ROC AUC, PR AUC (average precision), Brier score, top-decile lift, base
    rate, sample size and positives. Probabilities must be in [0, 1]."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(probability, dtype=float)
    both = 0 < y.sum() < len(y)
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "top_decile_lift": top_decile_lift(y, p),
        "mean_predicted": float(p.mean()) if len(p) else float("nan"),
    }


def calibration_table(y_true, probability, bins: int = 10) -> pd.DataFrame:
    """Observed vs predicted positive rate in ``bins`` quantile bins:
    columns ``predicted``, ``observed``."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(probability, dtype=float)
    if y.sum() == 0 or y.sum() == len(y):
        return pd.DataFrame(columns=["predicted", "observed"])
    obs, pred = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"predicted": pred, "observed": obs})


def rate_by_group(y_true, groups) -> pd.DataFrame:
    """Positive rate per group (e.g. churn rate per health band): ``group, n, rate``."""
    df = pd.DataFrame({"y": np.asarray(y_true, dtype=int), "group": np.asarray(groups)})
    out = df.groupby("group")["y"].agg(n="size", rate="mean").reset_index()
    return out
