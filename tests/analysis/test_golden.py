"""Golden decisions of the request analyzer on a simulated corpus.

The analyzer is tuned for speed (memoised value shapes, cached parses, fast
paths in the profile check); none of that may change a decision. This test
replays eight simulated hours (seed 3, rate 0.1: every incident kind, attacks
included) through ``RequestAnalyzer`` with online learning, in batches of 300
as the pipeline does per window, and compares with decisions recorded before
the optimisations:

* every flagged request of ``analyze_many``: unusual payloads in full (score,
  reasons), attack payloads as (score, attack types), and a digest of all of
  them in full (rule ids and reasons included);
* a digest of every ``findings()`` result (flagged or not, score included);
* a digest of every profile assessment (score and component weights to 1e-12,
  reasons), so the profile check itself is pinned, not only what crosses the
  threshold;
* a digest of the learned profile state (``save_state``) at the end;
* a run stopped half-way, checkpointed with ``save_state``/``load_state`` and
  resumed, which must decide exactly like the uninterrupted run;
* a run with frozen profiles (``learn_online=False``, the assessment cache on).

Regenerate (only from code whose decisions are trusted) with
``DETECTOR_REGEN_GOLDEN=1 .venv/bin/pytest tests/analysis/test_golden.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.findings import ATTACK, UNUSUAL, Finding
from detector.analysis.params import Param
from detector.analysis.profiles import Assessment, ProfileStore
from detector.events import AccessEvent
from detector.routes import RouteTemplater
from detector.simulate import simulate
from detector.sources.files import FileSource

GOLDEN = Path(__file__).parent / "golden" / "analyzer_sim_8h_seed3.json"
BATCH = 300
REGEN = os.environ.get("DETECTOR_REGEN_GOLDEN") == "1"


class _RecordingStore(ProfileStore):
    """A ProfileStore that keeps a digest of every assessment it makes."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.digest = hashlib.sha256()
        self.assessed = 0

    def assess(self, service: str, method: str, route: str, params: Sequence[Param],
               body: str | None = None) -> Assessment:
        a = super().assess(service, method, route, params, body)
        self.assessed += 1
        self.digest.update(
            json.dumps(
                [round(a.score, 12), list(a.reasons), [round(c, 12) for c in a.components]]
            ).encode()
        )
        return a


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _finding(f: Finding | None) -> Any:
    if f is None:
        return None
    return [f.kind, f.score, list(f.attack_types), list(f.reasons), list(f.rule_ids)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[AccessEvent], list[str]]:
    tmp = tmp_path_factory.mktemp("golden-sim")
    simulate(tmp, hours=8, seed=3, rate=0.1)
    events = [
        it
        for f in sorted(tmp.glob("access-*"))
        for it in FileSource(str(f))
        if isinstance(it, AccessEvent)
    ]
    events.sort(key=lambda e: (e.ts, e.source, e.offset))
    templater = RouteTemplater()
    routes = [templater.template(e.service, e.path) for e in events]
    return events, routes


def _corpus_sha(events: list[AccessEvent], routes: list[str]) -> str:
    h = hashlib.sha256()
    for e, r in zip(events, routes, strict=True):
        h.update(
            json.dumps([e.service, e.method, e.path, e.query, e.body, e.user_agent, r]).encode()
        )
    return h.hexdigest()


def _batches(n: int, start: int = 0) -> list[tuple[int, int]]:
    return [(i, min(i + BATCH, n)) for i in range(start, n, BATCH)]


def _run_flagged(
    a: RequestAnalyzer, events: list[AccessEvent], routes: list[str], start: int, stop: int
) -> list[Any]:
    flagged = []
    for lo, hi in _batches(stop, start):
        for j, f in enumerate(a.analyze_many(events[lo:hi], routes[lo:hi])):
            if f is not None:
                flagged.append([lo + j, *_finding(f)])
    return flagged


def _observe(events: list[AccessEvent], routes: list[str]) -> dict[str, Any]:
    n = len(events)
    # 1. the pipeline's call, online learning
    store = _RecordingStore()
    a = RequestAnalyzer(profiles=store, learn_online=True)
    flagged = _run_flagged(a, events, routes, 0, n)
    state = store.save_state()
    # 2. every finding, flagged or not (same learning trajectory)
    b = RequestAnalyzer(learn_online=True)
    every = []
    for lo, hi in _batches(n):
        every.extend(_finding(f) for f in b.findings(events[lo:hi], routes[lo:hi]))
    # 3. stopped half-way and resumed from a checkpoint
    half = (n // 2 // BATCH) * BATCH
    c = RequestAnalyzer(learn_online=True)
    resumed = _run_flagged(c, events, routes, 0, half)
    c2 = RequestAnalyzer(
        profiles=ProfileStore.load_state(c.profiles.save_state()), learn_online=True
    )
    resumed += _run_flagged(c2, events, routes, half, n)
    # 4. frozen profiles (what a published version does), assessment cache on
    d = RequestAnalyzer(profiles=ProfileStore.load_state(state), learn_online=False)
    frozen = _run_flagged(d, events, routes, 0, n)
    return {
        "events": n,
        "payload_requests": sum(1 for e in events if e.query or e.body),
        "flagged_sha": _sha(flagged),
        "unusual": [f for f in flagged if f[1] == UNUSUAL],
        "attacks": [[f[0], f[2], f[3]] for f in flagged if f[1] == ATTACK],
        "assessed": store.assessed,
        "assess_sha": store.digest.hexdigest(),
        "state_sha": hashlib.sha256(state).hexdigest(),
        "findings_sha": _sha(every),
        "findings_scored": sum(1 for f in every if f is not None),
        "resumed_sha": _sha(resumed),
        "frozen_flagged": len(frozen),
        "frozen_sha": _sha(frozen),
    }


@pytest.mark.slow
def test_decisions_match_golden(corpus: tuple[list[AccessEvent], list[str]]) -> None:
    events, routes = corpus
    sha = _corpus_sha(events, routes)
    got = _observe(events, routes)
    got["corpus_sha"] = sha
    if REGEN or not GOLDEN.exists():
        if not REGEN:
            pytest.fail(f"{GOLDEN} missing; generate it with DETECTOR_REGEN_GOLDEN=1")
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=None, separators=(",", ":")) + "\n")
        return
    want = json.loads(GOLDEN.read_text())
    if want["corpus_sha"] != sha:
        pytest.fail(
            "the simulated corpus (simulator, decoders or route templater) changed since the "
            "golden was recorded: the analyzer cannot be judged against it. Regenerate with "
            "DETECTOR_REGEN_GOLDEN=1 from a commit whose analyzer decisions are trusted."
        )
    assert got["events"] == want["events"]
    assert got["unusual"] == want["unusual"]
    assert got["attacks"] == want["attacks"]
    assert got["flagged_sha"] == want["flagged_sha"]
    assert got["assessed"] == want["assessed"]
    assert got["assess_sha"] == want["assess_sha"]
    assert got["findings_scored"] == want["findings_scored"]
    assert got["findings_sha"] == want["findings_sha"]
    assert got["state_sha"] == want["state_sha"]
    assert got["frozen_flagged"] == want["frozen_flagged"]
    assert got["frozen_sha"] == want["frozen_sha"]
    # a checkpointed, resumed run decides like the uninterrupted one
    assert got["resumed_sha"] == want["flagged_sha"]
