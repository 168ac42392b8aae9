"""Scoring with a trained model, made cheap, decides exactly as before.

* the forest walk gives scikit-learn's own ``score_samples`` bit for bit (with and
  without feature subsampling), and a walk that would not is never used;
* the memo of payload findings (fixed profiles) changes no finding: the same stream
  judged with the memos as shipped, with memos that keep nothing, and one request at
  a time gives the same findings, scores and reasons; learning or a new model drops it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from detector.analysis import batch_model
from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.batch_model import RequestForest, _walk_of
from detector.events import AccessEvent
from detector.jobs.train import train
from detector.memo import Memo
from detector.sources.files import FileSource
from tests.analysis.history import T0, line, normal_lines

rng = np.random.default_rng(1)
X = rng.normal(size=(2000, 6))
PROBE = np.vstack([X[:300], rng.normal(scale=6.0, size=(300, 6)), np.zeros((1, 6))])


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_walk_gives_sklearns_scores_bit_for_bit(max_features: float) -> None:
    forest = IsolationForest(n_estimators=40, max_features=max_features, random_state=3).fit(X)
    walk = _walk_of(forest, None)
    assert walk is not None and walk.subsample == (max_features < 1.0)
    assert np.array_equal(walk.raw(PROBE), -forest.score_samples(PROBE))
    model = RequestForest(n_estimators=40, random_state=3).fit(X)
    assert np.array_equal(model._raw(PROBE), -model.forest_.score_samples(PROBE))


def test_a_walk_that_differs_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    exact = batch_model._TreeWalk.raw

    def off(self: batch_model._TreeWalk, X: Any) -> Any:
        return exact(self, X) + 1e-12

    monkeypatch.setattr(batch_model._TreeWalk, "raw", off)
    forest = IsolationForest(n_estimators=10, random_state=0).fit(X)
    assert _walk_of(forest, None) is None
    model = RequestForest(n_estimators=10, random_state=0).fit(X)
    assert np.array_equal(model._raw(PROBE), -model.forest_.score_samples(PROBE))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fast-scoring")
    (d / "history.jsonl").write_bytes(b"".join(normal_lines(4000, 1)))
    train([str(d / "history.jsonl")], d / "models")
    return d / "models"


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> list[AccessEvent]:
    """Normal traffic with repeated payloads, and odd ones, each sent several times."""
    lines = normal_lines(1500, 5, T0 + 9000)
    odd = [
        line(T0, "POST", "/v2/payments", body='{"amount": 500, "currency": "EUR", '
             '"capture": true, "customer": "cus_0badc0de", "is_admin": true}'),
        line(T0, "POST", "/v2/payments", body='{"amount": 500, "currency": "' + "E" * 600
             + '", "capture": true, "customer": "cus_1"}'),
        line(T0, "GET", "/v1/search", "q=" + "z" * 900),
        line(T0, "GET", "/v1/search", "q=lego&page=2&pagee=3"),
        line(T0, "GET", "/v1/search/", "q=lego"),  # a longer path: the model's features differ
    ]
    for k in range(60):
        lines.insert(17 * k + 3, odd[k % len(odd)])
    d = tmp_path_factory.mktemp("fast-stream")
    (d / "today.jsonl").write_bytes(b"".join(lines))
    return [e for e in FileSource(str(d / "today.jsonl")) if isinstance(e, AccessEvent)]


def _findings(a: RequestAnalyzer, events: list[AccessEvent], batch: int) -> list[Any]:
    assert a.templater is not None
    routes = [a.templater.template(e.service, e.path) for e in events]
    out: list[Any] = []
    for lo in range(0, len(events), batch):
        for f in a.findings(events[lo:lo + batch], routes[lo:lo + batch]):
            out.append(None if f is None else
                       (f.kind, f.score, f.attack_types, f.reasons, f.rule_ids, f.parts))
    return out


def _forgetful(a: RequestAnalyzer) -> RequestAnalyzer:
    a._judged = Memo(0, 0)
    a._assessed = Memo(0, 0)
    a.scans.payloads = Memo(0, 0)
    return a


def test_memoised_findings_equal_fresh_ones(
    registry: Path, stream: list[AccessEvent]
) -> None:
    events = stream
    shipped = RequestAnalyzer.from_registry(registry)
    assert shipped.model is not None and not shipped.learn_online
    want = _findings(shipped, events, 97)
    assert len(shipped._judged) > 0  # the memo was used ...
    payload = [f for f in want if f is not None and f[0] == "unusual_payload"]
    assert len(payload) > 700 and all(any(p == "model" for p, _ in f[5]) for f in payload)
    assert any(f[1] >= 0.5 for f in payload)  # ... on flagged findings too
    assert _findings(_forgetful(RequestAnalyzer.from_registry(registry)), events, 97) == want
    assert _findings(RequestAnalyzer.from_registry(registry), events, 1) == want


def test_learning_or_a_new_model_drops_memoised_findings(
    registry: Path, stream: list[AccessEvent]
) -> None:
    events = stream
    a = RequestAnalyzer.from_registry(registry)
    _findings(a, events[:200], 50)
    assert a._judged
    a.learn(events[0], "/v1/search")
    assert not a._judged
    _findings(a, events[:200], 50)
    assert a._judged
    a.model = None  # findings scored by the old model are not served
    got = _findings(a, events[:200], 50)
    assert not any(p == "model" for f in got if f is not None for p, _ in f[5])
    assert a._judged and not any(p == "model" for f in a._judged.values() for p, _ in f.parts)
    a.learn_online = True  # learning online: nothing memoised, and what was is dropped
    _findings(a, events[:100], 50)
    assert not a._judged
