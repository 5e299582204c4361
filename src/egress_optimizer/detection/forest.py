"""Isolation Forest over the normalised signals (scikit-learn estimator contract).

A forest over raw bytes or dollars ranks whole series, not moments: big series look anomalous all the time
and growth looks like an anomaly forever. This one sees only the per-series normalised, upward evidence
from ``signals`` (a cost anomaly is an increase), so its scores are comparable across series and drift is
already absorbed by the trailing baselines.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted


def _prepare(X: np.ndarray, two_sided: tuple[int, ...]) -> np.ndarray:
    X = np.nan_to_num(np.asarray(X, dtype=float))
    # Volume evidence upward only (a cost anomaly is an increase), log-compressed so one z=50 new series does
    # not flatten everything else; how traffic is made (``two_sided``) counts in both directions.
    out = np.log1p(np.clip(X, 0.0, None))
    if two_sided:
        cols = list(two_sided)
        out[:, cols] = np.sign(X[:, cols]) * np.log1p(np.abs(X[:, cols]))
    return out


class EgressIsolationForest(OutlierMixin, BaseEstimator):
    """``fit`` / ``score_samples`` (lower is more abnormal, as in scikit-learn) / ``predict`` (-1 anomaly).

    ``anomaly_score`` maps ``score_samples`` to [0, 1] by the share of training samples that are less
    abnormal, so 0.999 means "more abnormal than 99.9 % of the training hours".
    """

    def __init__(
        self,
        n_estimators: int = 200,
        max_samples: int = 512,
        contamination: float = 0.002,
        random_state: int = 0,
        calibration_rows: int = 200_000,
        two_sided: tuple[int, ...] = (),
    ):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.random_state = random_state
        self.calibration_rows = calibration_rows
        self.two_sided = two_sided

    def fit(self, X: np.ndarray, y: None = None) -> EgressIsolationForest:
        Xp = _prepare(X, self.two_sided)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, len(Xp)),
            contamination="auto",
            random_state=self.random_state,
        ).fit(Xp)
        # Calibrate on a seeded sample: the score quantiles need ~1e5 rows, not every training row.
        if len(Xp) > self.calibration_rows:
            pick = np.random.default_rng(self.random_state).choice(len(Xp), self.calibration_rows, replace=False)
            train = self.forest_.score_samples(Xp[pick])
        else:
            train = self.forest_.score_samples(Xp)
        self.train_scores_ = np.sort(train)
        self.offset_ = float(np.quantile(train, self.contamination))
        self.n_features_in_ = Xp.shape[1]
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.forest_.score_samples(_prepare(X, self.two_sided))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.score_samples(X) - self.offset_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.where(self.decision_function(X) < 0, -1, 1)

    def anomaly_score(self, X: np.ndarray) -> np.ndarray:
        s = self.score_samples(X)
        # fraction of training scores strictly above s (less abnormal)
        return 1.0 - np.searchsorted(self.train_scores_, s, side="right") / len(self.train_scores_)
