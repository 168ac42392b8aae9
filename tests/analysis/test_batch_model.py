"""The batch model: scikit-learn conventions outside, our score sign inside."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detector.analysis.batch_model import RequestForest

rng = np.random.default_rng(0)
X = rng.normal(size=(3000, 5))
OUTLIERS = rng.normal(size=(50, 5)) * 0.5 + 8.0


def test_init_only_stores_params_and_fit_returns_self() -> None:
    m = RequestForest(n_estimators=30, contamination=0.01, random_state=3)
    assert m.get_params() == {
        "n_estimators": 30,
        "max_samples": "auto",
        "contamination": 0.01,
        "max_train": 200_000,
        "random_state": 3,
    }
    assert not [k for k in vars(m) if k.endswith("_")]
    assert m.fit(X) is m
    learned = {k for k in vars(m) if k.endswith("_")}
    assert {"forest_", "offset_", "scale_", "n_features_in_", "contamination_"} <= learned
    assert isinstance(m.forest_, IsolationForest) and m.n_features_in_ == 5


def test_higher_means_more_anomalous_and_calibrated() -> None:
    m = RequestForest(n_estimators=50).fit(X)
    normal, odd = m.score_samples(X[:500]), m.score_samples(OUTLIERS)
    assert ((normal >= 0) & (normal <= 1)).all() and ((odd >= 0) & (odd <= 1)).all()
    assert odd.min() > np.quantile(normal, 0.99)
    assert np.median(normal) < 0.05 and odd.min() > 0.5
    # the opposite of sklearn's own sign, exactly once
    mixed = np.vstack([X[:200], OUTLIERS])
    ours, theirs = m.score_samples(mixed), m.forest_.score_samples(mixed)
    order = np.argsort(theirs)
    assert (np.diff(ours[order]) <= 1e-12).all()  # sklearn ascending = ours descending
    # training share at or above the threshold is about the contamination
    assert abs(m.predict(X).mean() - m.contamination_) < 0.002
    assert np.array_equal(m.predict(OUTLIERS), m.decision_function(OUTLIERS) >= 0)


def test_deterministic_with_a_seed() -> None:
    a = RequestForest(n_estimators=20, random_state=7).fit(X).score_samples(OUTLIERS)
    b = RequestForest(n_estimators=20, random_state=7).fit(X).score_samples(OUTLIERS)
    assert np.array_equal(a, b)


def test_explain_names_the_odd_feature() -> None:
    m = RequestForest(n_estimators=20).fit(X)
    row = np.zeros(5)
    row[3] = 40.0
    assert m.explain(row) == [3]
    assert m.explain(np.zeros(5)) == []


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="contamination"):
        RequestForest(contamination=0.7).fit(X)
    with pytest.raises(ValueError, match="2-D"):
        RequestForest().fit(np.zeros(5))
    m = RequestForest(n_estimators=5).fit(X)
    with pytest.raises(ValueError, match="expected 5 features"):
        m.score_samples(np.zeros((2, 3)))
    assert m.score_samples(np.zeros((0, 5))).shape == (0,)
