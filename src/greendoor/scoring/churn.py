"""Churn (and expansion) propensity model: a calibrated scikit-learn classifier.

:class:`ChurnModel` follows scikit-learn conventions (``__init__`` stores
parameters, ``fit`` returns ``self``, learned attributes end in ``_``, works with
``get_params`` / ``clone``). It accepts any DataFrame of numeric and string
columns with missing values:

* **Model choice**: with ``estimator="auto"``, a regularised logistic regression
  and a histogram gradient-boosting model are both trained on the earlier part of
  the data and compared by ROC AUC on the later part (time-ordered when the
  observation dates are passed as ``as_of``); the better one is kept.
* **Calibration**: the chosen model, trained on the earlier part, is calibrated
  (Platt sigmoid by default, or isotonic) on the later part, which it never saw.
* **Drivers**: each row's risk drivers by occlusion. A feature's contribution is
  the change in the model's log-odds when that feature alone is set to its
  typical training value (median, or most frequent category); positive = the
  feature's value raises the risk. Each comes with its evidence (value vs typical).

References: Platt (1999) for sigmoid calibration; scikit-learn's
``CalibratedClassifierCV`` and ``FrozenEstimator``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import sklearn
from packaging.version import Version
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

#: scikit-learn releases whose private internals (the fitted calibrator, trees and
#: bins) the fast paths were tested against; outside them only public calls run.
#: Keep in step with the upper bound in pyproject.toml.
FAST_PATH_SKLEARN = (Version("1.6"), Version("1.10"))


def fast_path_supported(version: str | None = None) -> bool:
    """Whether scikit-learn ``version`` (default: the installed one) is within
    :data:`FAST_PATH_SKLEARN`, the releases whose private internals were tested."""
    v = Version(version or sklearn.__version__)
    lo, hi = FAST_PATH_SKLEARN
    return lo <= v < hi

#: Fewest positives (churners) a model is trained on; below it ``fit`` refuses.
MIN_POSITIVES = 10
#: Per-account drivers perturb only the model's most influential features (speed).
DRIVER_FEATURES = 15


#: Rows per prediction call. A tree ensemble walks every row once per tree; blocks that
#: stay in the CPU cache across the trees predict about twice as fast as one call on
#: 85,000 rows (bench tier L).
BLOCK_ROWS = 16_384


def _in_blocks(predict, X: pd.DataFrame) -> np.ndarray:
    """``predict(X)`` in blocks of :data:`BLOCK_ROWS` rows, stacked."""
    if len(X) <= BLOCK_ROWS:
        return predict(X)
    return np.concatenate([predict(X.iloc[i:i + BLOCK_ROWS]) for i in range(0, len(X), BLOCK_ROWS)])


def _log_odds(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of probabilities clipped to [1e-9, 1 - 1e-9]."""
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _decision(raw: np.ndarray) -> np.ndarray:
    """:meth:`ChurnModel.decision_function` from the base model's raw decision: the
    log-odds of its probability, expit(raw), clipped as :func:`_log_odds`."""
    return _log_odds(expit(raw))


class NotEnoughData(ValueError):
    """Too few observations or positives to train and calibrate honestly."""


def _split_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    cat = [c for c in X.columns if X[c].dtype == object or isinstance(X[c].dtype, pd.StringDtype)
           or isinstance(X[c].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(X[c])]
    num = [c for c in X.columns if c not in cat]
    return num, cat


def _candidates(num: list[str], cat: list[str], random_state: int) -> dict[str, Pipeline]:
    logistic = Pipeline([
        ("prep", ColumnTransformer([
            ("num", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True,
                                                       keep_empty_features=True)),
                              ("scale", StandardScaler())]), num),
            ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                              ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=20,
                                                       sparse_output=False))]), cat),
        ], remainder="drop")),
        ("model", LogisticRegression(C=0.3, max_iter=3000)),
    ])
    boosting = Pipeline([
        ("prep", ColumnTransformer([
            ("num", "passthrough", num),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                   encoded_missing_value=-1), cat),
        ], remainder="drop", verbose_feature_names_out=False)),
        ("model", HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=250, max_leaf_nodes=15, min_samples_leaf=40,
            l2_regularization=1.0, random_state=random_state,
            categorical_features=list(range(len(num), len(num) + len(cat))) or None)),
    ])
    return {"logistic": logistic, "gradient_boosting": boosting}


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated probability that an observation is positive (e.g. churns within 90 days).

    Parameters
    ----------
    estimator : "auto", "logistic" or "gradient_boosting"
        The base model; "auto" picks the one with the higher ROC AUC on the later
        part of the training data.
    calibration : "sigmoid" or "isotonic"
    calibration_share : float
        Share of the observations (the latest dates when ``as_of`` is given) held
        out to choose the model and to calibrate it.
    random_state : int

    Attributes
    ----------
    estimator_ : the chosen base pipeline name; selection_ : ROC AUC of each
    candidate on the held-out part; base_ : fitted base pipeline;
    calibrated_ : calibrated classifier; reference_ : typical value per feature;
    feature_names_in_ (as given), used_features_ (those that vary), dropped_features_,
    numeric_features_, categorical_features_, classes_.
    """

    def __init__(self, estimator: str = "auto", calibration: str = "sigmoid",
                 calibration_share: float = 0.25, random_state: int = 0):
        self.estimator = estimator
        self.calibration = calibration
        self.calibration_share = calibration_share
        self.random_state = random_state

    # ------------------------------------------------------------------ #
    def fit(self, X: pd.DataFrame, y, as_of=None) -> ChurnModel:
        """Fit on ``X`` (rows = observations) and binary ``y``.

        ``as_of`` (optional, one date per row) makes the hold-out time-ordered:
        the latest dates are used to choose and calibrate. Raises
        :class:`NotEnoughData` when there are fewer than ``MIN_POSITIVES``
        positives overall or no positive in either part.
        """
        X = self._frame(X)
        y = np.asarray(y).astype(int)
        if len(X) != len(y):
            raise ValueError("X and y have different lengths")
        if y.sum() < MIN_POSITIVES or (1 - y).sum() < MIN_POSITIVES:
            raise NotEnoughData(f"{int(y.sum())} positive and {int((1 - y).sum())} negative "
                                f"observations; at least {MIN_POSITIVES} of each are needed")
        hold = self._holdout(y, as_of)
        if y[hold].sum() == 0 or y[~hold].sum() == 0:
            raise NotEnoughData("no positive observation in the training or the held-out "
                                "period; a time-ordered model cannot be validated")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        # features that carry no information where the models learn (all missing, or
        # constant, before the held-out dates) are left out: e.g. survey features when the
        # store has no surveys, or success-plan features when plans start only recently
        early = X[~hold]
        self.dropped_features_ = [c for c in X.columns if early[c].nunique(dropna=True) <= 1]
        X = X.drop(columns=self.dropped_features_)
        if X.shape[1] == 0:
            raise NotEnoughData("no feature varies across the observations")
        self.used_features_ = list(X.columns)
        self.numeric_features_, self.categorical_features_ = _split_columns(X)
        self.reference_ = {c: (X[c].median() if c in self.numeric_features_
                               else (X[c].mode().iloc[0] if X[c].notna().any() else None))
                           for c in X.columns}
        cands = _candidates(self.numeric_features_, self.categorical_features_, self.random_state)
        names = list(cands) if self.estimator == "auto" else [self.estimator]
        if any(n not in cands for n in names):
            raise ValueError(f"unknown estimator {self.estimator!r}")
        Xa, ya, Xb, yb = X[~hold], y[~hold], X[hold], y[hold]
        self.selection_ = {}
        fitted = {}
        for name in names:
            m = clone(cands[name]).fit(Xa, ya)
            fitted[name] = m
            self.selection_[name] = float(roc_auc_score(yb, m.predict_proba(Xb)[:, 1]))
        self.estimator_ = max(self.selection_, key=self.selection_.get)
        self.base_ = fitted[self.estimator_]
        self.calibrated_ = CalibratedClassifierCV(FrozenEstimator(self.base_),
                                                  method=self.calibration).fit(Xb, yb)
        self.classes_ = np.array([0, 1])
        self.n_train_, self.n_holdout_ = int((~hold).sum()), int(hold.sum())
        # the features worth perturbing for per-account drivers: the DRIVER_FEATURES
        # with the largest mean |log-odds change| on a sample of the hold-out
        sample = Xb.sample(min(len(Xb), 1000), random_state=self.random_state)
        effect = self._occlusion(sample, list(X.columns)).abs().mean()
        self.driver_features_ = list(effect.sort_values(ascending=False).index[:DRIVER_FEATURES])
        return self

    def _holdout(self, y: np.ndarray, as_of) -> np.ndarray:
        n = len(y)
        if as_of is not None:
            dates = pd.to_datetime(pd.Series(np.asarray(as_of)))
            uniq = np.sort(dates.unique())
            if len(uniq) >= 2:
                k = max(1, int(round(len(uniq) * self.calibration_share)))
                return dates.isin(uniq[-k:]).to_numpy()
        rng = np.random.default_rng(self.random_state)
        hold = np.zeros(n, dtype=bool)
        for cls in (0, 1):  # stratified random hold-out
            idx = np.flatnonzero(y == cls)
            hold[rng.choice(idx, size=max(1, int(round(len(idx) * self.calibration_share))),
                            replace=False)] = True
        return hold

    def _frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        X = X.copy()
        X.columns = [str(c) for c in X.columns]
        for c in X.columns:
            if X[c].dtype == bool or str(X[c].dtype) == "boolean":
                X[c] = X[c].astype(float)
            elif X[c].dtype == object or pd.api.types.is_string_dtype(X[c]):
                X[c] = X[c].astype(object).where(X[c].notna(), np.nan)
        return X

    def _aligned(self, X) -> pd.DataFrame:
        check_is_fitted(self, "calibrated_")
        X = self._frame(X)
        missing = [c for c in self.used_features_ if c not in X]
        if missing:
            raise ValueError(f"X lacks the columns {missing}")
        return X[self.used_features_]

    # ------------------------------------------------------------------ #
    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): [P(negative), P(positive)]."""
        p = self.decision_and_proba(X)[1]
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """Class labels (1 = the event within the horizon) at a probability of 0.5; the pages
        use :meth:`predict_proba`, this is for scikit-learn compatibility."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def decision_function(self, X) -> np.ndarray:
        """Log-odds of the uncalibrated base model (monotone in the probability)."""
        return self.decision_and_proba(X)[0]

    def decision_and_proba(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), predict_proba(X)[:, 1])`` from one pass of the base
        model. The calibration maps the base model's decision function, so it is
        applied to the same numbers; the preprocessing runs once, and gradient
        boosting walks its trees on the training bins (:meth:`_trees`).

        Reads the fitted calibrator of scikit-learn's ``CalibratedClassifierCV``
        (``calibrated_classifiers_[0].calibrators``) and the fitted trees, which are
        not public API; without them, the public calls (``calibrated_.predict_proba``,
        ``base_.predict_proba``). ``tests/unit/test_churn_model.py`` checks both give the
        same numbers."""
        Xa = self._aligned(X)
        try:
            if not fast_path_supported():
                raise ValueError("scikit-learn release not tested with the fast path")
            (calibrated,) = self.calibrated_.calibrated_classifiers_
            (calibrator,) = calibrated.calibrators
            if list(self.base_.classes_) != [0, 1]:
                raise ValueError("not a 0/1 classifier")
        except (AttributeError, ValueError, TypeError):
            decision = _log_odds(_in_blocks(self.base_.predict_proba, Xa)[:, 1])
            return decision, _in_blocks(self.calibrated_.predict_proba, Xa)[:, 1]
        raw = self._raw_decision(Xa)
        return _decision(raw), np.clip(calibrator.predict(raw), 0.0, 1.0)

    def _raw_decision(self, Xa: pd.DataFrame) -> np.ndarray:
        """The base model's ``decision_function`` on aligned rows: the preprocessing
        once, then the final estimator in blocks of :data:`BLOCK_ROWS`; for gradient
        boosting, its trees on the training bins."""
        A = self.base_[:-1].transform(Xa)
        trees = self._trees()
        if trees is None:
            est = self.base_[-1]
            return np.concatenate([est.decision_function(A[i:i + BLOCK_ROWS])
                                   for i in range(0, len(A), BLOCK_ROWS)] or [np.empty(0)])
        B = trees.bins(A)
        raw = np.full(len(B), trees.baseline)
        for i in range(0, len(B), BLOCK_ROWS):
            block = B[i:i + BLOCK_ROWS]
            for t in trees.trees:
                raw[i:i + BLOCK_ROWS] += trees.values(t, block)
        return raw

    def _trees(self) -> SimpleNamespace | None:
        """The gradient-boosting base model's fitted trees, walked on the training bins
        (uint8) as at fit time: the same leaves as the raw values (each split threshold
        is a bin edge), about 1.6x faster, and two values in one bin are the same to
        every tree. ``trees``; ``bins(A)`` of preprocessed rows; ``values(tree, B)``;
        ``baseline``; ``model``. Reads scikit-learn's ``_predictors`` and
        ``_bin_mapper`` (not public API): ``None`` when they are not there, or for
        another estimator."""
        model = self.base_.steps[-1][1]
        if not isinstance(model, HistGradientBoostingClassifier) or not fast_path_supported():
            return None
        try:
            from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

            n_threads = _openmp_effective_n_threads()
            trees = [it[0] for it in model._predictors]
            mapper = model._bin_mapper
            missing_bin = mapper.missing_values_bin_idx_
            baseline = float(np.ravel(model._baseline_prediction)[0])
            if not all(hasattr(t, "predict_binned") for t in trees):
                return None
        except (AttributeError, ImportError, IndexError, TypeError):
            return None

        def bins(A):
            return mapper.transform(model._preprocess_X(A, reset=False))

        def values(t, B):
            return t.predict_binned(B, missing_values_bin_idx=missing_bin, n_threads=n_threads)

        return SimpleNamespace(trees=trees, bins=bins, values=values, baseline=baseline,
                               model=model)

    def _occlusion(self, X: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        """Log-odds change when each of ``cols`` moves from its typical (reference)
        value to the row's value: rows x cols. A row whose value already is the
        reference is not perturbed: its change is exactly 0.

        For gradient boosting the trees are asked directly (:meth:`_tree_occlusion`):
        moving one feature only changes the trees that split on it. Otherwise every
        single-feature perturbation is stacked into one frame: one predict call."""
        if len(X) > BLOCK_ROWS:
            return pd.concat([self._occlusion(X.iloc[i:i + BLOCK_ROWS], cols)
                              for i in range(0, len(X), BLOCK_ROWS)])
        fast = self._tree_occlusion(X, cols)
        if fast is not None:
            return fast
        base = self.decision_function(X)
        out = np.zeros((len(X), len(cols)))
        parts, where = [], []
        for k, c in enumerate(cols):
            ref = self.reference_[c]
            v = X[c]
            same = (v == ref) | (v.isna() & pd.isna(ref))
            rows = np.flatnonzero(~same.fillna(False).to_numpy(dtype=bool))
            if len(rows):
                part = X.iloc[rows].copy()
                part[c] = ref
                parts.append(part)
                where.append((k, rows))
        if parts:
            moved = self.decision_function(pd.concat(parts, ignore_index=True))
            at = 0
            for k, rows in where:
                out[rows, k] = base[rows] - moved[at:at + len(rows)]
                at += len(rows)
        return pd.DataFrame(out, index=X.index, columns=cols)

    def _tree_occlusion(self, X: pd.DataFrame, cols: list[str]) -> pd.DataFrame | None:
        """The same log-odds changes as the generic occlusion, for the gradient-boosting
        base model, computed tree by tree: a tree that never splits on a feature gives
        the same value whatever that feature's value, so only the trees splitting on it
        are asked again (about a third of them at bench tier L).

        Uses scikit-learn's fitted trees and bins (:meth:`_trees`, not public API):
        ``None`` (the generic path) if they are not there.
        ``tests/unit/test_churn_model.py`` checks both paths give the same numbers."""
        parts = self._trees()
        if parts is None or len(X) == 0:
            return None
        model, prep, trees = parts.model, self.base_[:-1], parts.trees
        try:
            names = list(prep.get_feature_names_out())
            A = parts.bins(prep.transform(X))
            ref_frame = pd.DataFrame([self.reference_])[list(X.columns)]
            ref = parts.bins(prep.transform(self._frame(ref_frame)))[0]
            # HGB's own encoder may reorder the columns (categorical ones first)
            order = np.arange(len(names))
            if model._preprocessor is not None:
                out_idx = model._preprocessor.output_indices_
                order[out_idx["encoder"]] = np.flatnonzero(model.is_categorical_)
                order[out_idx["numerical"]] = np.flatnonzero(~model.is_categorical_)
            position = {int(inp): k for k, inp in enumerate(order)}
            j_of = {c: position[names.index(c)] for c in cols}
        except (AttributeError, ValueError, TypeError, KeyError):
            return None
        split_on = [set(t.nodes["feature_idx"][t.nodes["is_leaf"] == 0].tolist()) for t in trees]
        per_tree = np.column_stack([parts.values(t, A) for t in trees])  # rows x trees
        raw = parts.baseline + per_tree.sum(axis=1)
        base = _decision(raw)
        out = np.zeros((len(X), len(cols)))
        for k, c in enumerate(cols):
            j = j_of[c]
            rows = np.flatnonzero(A[:, j] != ref[j])  # one bin: the same leaf in every tree
            used = [i for i, s in enumerate(split_on) if j in s]
            if not len(rows) or not used:
                continue
            M = A[rows].copy()
            M[:, j] = ref[j]
            moved = raw[rows] - per_tree[np.ix_(rows, used)].sum(axis=1)
            for i in used:
                moved += parts.values(trees[i], M)
            out[rows, k] = base[rows] - _decision(moved)
        return pd.DataFrame(out, index=X.index, columns=cols)

    def drivers(self, X, top: int = 3) -> pd.DataFrame:
        """Each row's ``top`` risk-raising features, among the model's
        :data:`DRIVER_FEATURES` most influential ones (chosen at fit time).

        Returns a long frame: ``row`` (X's index), ``rank`` (1 = strongest),
        ``feature``, ``value``, ``reference`` (the typical training value) and
        ``contribution`` (log-odds change from the typical value to this value;
        only positive contributions are listed).
        """
        X = self._aligned(X)
        cols = getattr(self, "driver_features_", None) or list(X.columns)
        C = self._occlusion(X, cols)
        vals = C.to_numpy()
        top = min(top, len(cols))
        order = np.argsort(-vals, axis=1, kind="stable")[:, :top]
        i = np.repeat(np.arange(len(X)), top)
        j = order.ravel()
        contribution = vals[i, j]
        keep = contribution > 0  # sorted: once one is not positive, the rest are not
        i, j = i[keep], j[keep]
        names = np.asarray(cols, dtype=object)[j]
        return pd.DataFrame({
            "row": X.index.to_numpy()[i], "rank": np.tile(np.arange(1, top + 1), len(X))[keep],
            "feature": names, "value": X[cols].to_numpy(dtype=object)[i, j],
            "reference": [self.reference_[f] for f in names],
            "contribution": contribution[keep].astype(float)})


def risk_index(decision: np.ndarray) -> np.ndarray:
    """Risk index 0-100: the percentile rank of each row's risk within the scored
    population (100 = riskiest). Not a probability: see ``predict_proba``.
    ``greendoor score`` ranks the risk at each account's next renewal."""
    s = pd.Series(decision)
    return (s.rank(pct=True, method="average") * 100).round(1).to_numpy()
