"""The batch model: an IsolationForest over request features, in our score convention.

scikit-learn's ``IsolationForest.score_samples`` is higher for *more normal*
samples; everywhere else in this project higher means *more anomalous*. The
conversion happens once, in :meth:`RequestForest._raw`, and nowhere else.

Scoring walks the forest's trees directly (:class:`_TreeWalk`): the same leaves and
the same arithmetic as ``IsolationForest.score_samples``, without its per-tree
dispatch (≈ 25 ms a call whatever the batch size). A walk that does not give
sklearn's scores bit for bit on probe rows is not used.

Raw anomaly scores are then calibrated on the training data with a logistic
curve: the training quantile ``1 - contamination`` maps to 0.5 (the flag
threshold) and the training median to 0.01. Scores are in [0, 1] and comparable
between models trained on different data.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(2000, 3))
>>> model = RequestForest(n_estimators=50, random_state=0).fit(X)
>>> s = model.score_samples(np.array([[0.0, 0.0, 0.0], [9.0, -9.0, 9.0]]))
>>> bool(s[0] < 0.1 and s[1] > 0.8)
True
>>> model.predict(np.array([[0.0, 0.0, 0.0], [9.0, -9.0, 9.0]])).tolist()
[False, True]
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import IsolationForest

__all__ = ["RequestForest"]

FArray = npt.NDArray[np.float64]
_AUTO_CONTAMINATION = 0.001  # history is mostly normal: flag the far tail only
_MEDIAN_SCORE = 0.01  # calibrated score of the training median


class RequestForest:
    """IsolationForest with a calibrated, higher-is-more-anomalous ``score_samples``.

    Parameters are stored as given (scikit-learn conventions); learned state ends
    in ``_``: ``forest_``, ``offset_`` and ``scale_`` (the logistic calibration),
    ``n_features_in_``, ``contamination_``, ``train_scores_`` (quantiles 0..100 of
    the calibrated training scores, for the model card), ``center_`` and
    ``spread_`` (per-feature median and IQR, to say which features stand out).
    """

    threshold_ = 0.5  # a calibrated score at or above this is flagged

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | str = "auto",
        contamination: float | str = "auto",
        max_train: int = 200_000,
        random_state: int | None = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.contamination = contamination
        self.max_train = max_train
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "contamination": self.contamination,
            "max_train": self.max_train,
            "random_state": self.random_state,
        }

    def fit(self, X: FArray, y: object = None) -> RequestForest:
        """Fit on (mostly normal) feature rows; returns self."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"need a 2-D array of at least 2 rows, got shape {X.shape}")
        c = self.contamination
        contamination = _AUTO_CONTAMINATION if c == "auto" else float(c)
        if not 0.0 < contamination < 0.5:
            raise ValueError(f"contamination must be 'auto' or in (0, 0.5), got {c!r}")
        rng = np.random.default_rng(self.random_state)
        train = (
            X
            if X.shape[0] <= self.max_train
            else X[rng.choice(X.shape[0], self.max_train, replace=False)]
        )
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            random_state=self.random_state,
        ).fit(train)
        self.n_features_in_ = X.shape[1]
        self.contamination_ = contamination
        raw = self._raw(train)
        med = float(np.median(raw))
        cut = float(np.quantile(raw, 1.0 - contamination))
        spread = max(cut - med, 1e-6)
        # Just beyond the training quantile: a request shaped exactly like the training
        # row at that quantile (seen in training, so normal) stays under the threshold.
        self.offset_ = cut + 1e-3 * spread
        self.scale_ = spread / math.log((1.0 - _MEDIAN_SCORE) / _MEDIAN_SCORE)
        self.train_scores_ = np.quantile(self._calibrate(raw), np.linspace(0.0, 1.0, 101))
        q1, self.center_, q3 = np.quantile(train, [0.25, 0.5, 0.75], axis=0)
        self.spread_ = np.maximum(q3 - q1, 0.05 * np.maximum(np.abs(self.center_), 1.0))
        return self

    def _raw(self, X: FArray) -> FArray:
        """The one place sklearn's sign (higher = more normal) becomes ours."""
        walk = _walk_of(self.forest_, self.center_ if hasattr(self, "center_") else None)
        if walk is not None:
            return walk.raw(X)
        return -np.asarray(self.forest_.score_samples(X), dtype=np.float64)

    def _calibrate(self, raw: FArray) -> FArray:
        z = np.clip((raw - self.offset_) / self.scale_, -50.0, 50.0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def score_samples(self, X: FArray) -> FArray:
        """Calibrated anomaly scores in [0, 1]; higher = more anomalous."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got shape {X.shape}")
        if X.shape[0] == 0:
            return np.zeros(0)
        return self._calibrate(self._raw(X))

    def explain(self, x: FArray, k: int = 2) -> list[int]:
        """Indices of the ``k`` features of one row furthest from the training median."""
        z = np.abs((np.asarray(x, dtype=np.float64) - self.center_) / self.spread_)
        order = np.argsort(-z, kind="stable")[:k]
        return [int(i) for i in order if z[i] > 3.0]

    def decision_function(self, X: FArray) -> FArray:
        """``score_samples - threshold_``: positive = anomalous."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X: FArray) -> npt.NDArray[np.bool_]:
        """True where the calibrated score reaches ``threshold_``."""
        return np.asarray(self.decision_function(X) >= 0.0)


class _TreeWalk:
    """``-IsolationForest.score_samples`` computed tree by tree with each tree's own
    ``apply``: the leaves sklearn finds, each leaf's depth term as sklearn adds it
    (``path length + average path length - 1``, precomputed per node), summed over the
    trees in sklearn's order, then sklearn's normalisation. Only the dispatch differs.
    """

    def __init__(self, forest: IsolationForest) -> None:
        from sklearn.ensemble._iforest import _average_path_length

        self.n_features = int(forest.n_features_in_)
        self.subsample = forest._max_features != self.n_features
        self.trees = [
            (est.tree_, np.asarray(dpl + apl - 1.0, dtype=np.float64), features)
            for est, features, dpl, apl in zip(
                forest.estimators_, forest.estimators_features_,
                forest._decision_path_lengths, forest._average_path_length_per_tree,
                strict=True,
            )
        ]  # fmt: skip
        self.denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])

    def raw(self, X: FArray) -> FArray:
        """Higher = more anomalous: ``2 ** (-mean depth / c(max_samples))`` per row."""
        X32 = np.asarray(X, dtype=np.float32)
        depths = np.zeros(X32.shape[0], order="F")
        for tree, leaf_depth, features in self.trees:
            leaves = tree.apply(X32[:, features] if self.subsample else X32)
            depths += leaf_depth[leaves]
        den = self.denominator
        return np.asarray(
            2 ** (-np.divide(depths, den, out=np.ones_like(depths), where=den != 0)),
            dtype=np.float64,
        )


# One walk per fitted forest, built on first use and kept out of the model's persisted
# state (train scores its model before publishing it); None: the walk is not exact here.
_WALKS: weakref.WeakKeyDictionary[IsolationForest, _TreeWalk | None] = (
    weakref.WeakKeyDictionary())


def _walk_of(forest: IsolationForest, center: FArray | None) -> _TreeWalk | None:
    """The forest's walk, checked against sklearn's own scores on probe rows (rows
    around ``center``, the training median, and far outside it); None if it differs
    or cannot be built (another scikit-learn's internals)."""
    try:
        return _WALKS[forest]
    except KeyError:
        pass
    walk: _TreeWalk | None
    try:
        walk = _TreeWalk(forest)
        n = walk.n_features
        mid = np.zeros(n) if center is None else np.asarray(center, dtype=np.float64)
        rng = np.random.default_rng(0)
        probe = np.vstack([mid, mid + rng.normal(scale=0.5, size=(64, n)),
                           rng.normal(scale=10.0, size=(64, n)), np.zeros((1, n))])
        want = -np.asarray(forest.score_samples(probe), dtype=np.float64)
        if not np.array_equal(walk.raw(probe), want):
            walk = None
    except Exception:  # noqa: BLE001 - any surprise in sklearn's internals: use its API
        walk = None
    _WALKS[forest] = walk
    return walk
