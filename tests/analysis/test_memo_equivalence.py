"""The analyzer's memos (signature scans, parsed payloads, frozen-profile assessments)
change how much work a request costs, never what is decided about it.

The same simulated stream, in the pipeline's batches, goes through an analyzer with
its memos as shipped, one whose memos keep nothing, and one whose memos are so small
that they are cleared every few requests; every finding (flagged or not, score,
reasons, rule ids) must be the same, with online learning and with frozen profiles.
"""

from __future__ import annotations

from typing import Any

import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.findings import ATTACK, UNUSUAL
from detector.analysis.profiles import ProfileStore
from detector.events import AccessEvent
from detector.memo import Memo
from detector.routes import RouteTemplater
from detector.simulate import simulate
from detector.sources.files import FileSource

BATCH = 300


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[AccessEvent], list[str]]:
    tmp = tmp_path_factory.mktemp("memo-sim")
    simulate(tmp, hours=3, seed=61001, rate=0.25)
    events = [it for f in sorted(tmp.glob("access-*")) for it in FileSource(str(f))
              if isinstance(it, AccessEvent)]
    events.sort(key=lambda e: (e.ts, e.source, e.offset))
    templater = RouteTemplater()
    return events, [templater.template(e.service, e.path) for e in events]


def _shrink(a: RequestAnalyzer, entries: int, nbytes: int) -> RequestAnalyzer:
    """``a`` with every memo replaced by one of ``entries`` entries and ``nbytes`` bytes."""
    s = a.scans
    s.path_hits, s.ua_hits = Memo(entries, nbytes), Memo(entries, nbytes)
    s.query_hits, s.body_hits = Memo(entries, nbytes), Memo(entries, nbytes)
    s.payloads = Memo(entries, nbytes)
    a._assessed = Memo(entries, nbytes)
    return a


def _findings(a: RequestAnalyzer, events: list[AccessEvent], routes: list[str]) -> list[Any]:
    out: list[Any] = []
    for lo in range(0, len(events), BATCH):
        for f in a.findings(events[lo:lo + BATCH], routes[lo:lo + BATCH]):
            out.append(None if f is None else
                       (f.kind, f.score, f.attack_types, f.reasons, f.rule_ids, f.parts))
    return out


@pytest.mark.slow
def test_memos_never_change_a_finding(stream: tuple[list[AccessEvent], list[str]]) -> None:
    events, routes = stream
    shipped = RequestAnalyzer(learn_online=True)
    want = _findings(shipped, events, routes)
    kinds = {f[0] for f in want if f is not None}
    assert ATTACK in kinds and UNUSUAL in kinds  # the stream exercises both verdicts
    assert len(shipped.scans.payloads) > 100  # ... and the memos were used
    for entries, nbytes in ((0, 0), (7, 4000)):  # none kept; cleared every few requests
        got = _findings(_shrink(RequestAnalyzer(learn_online=True), entries, nbytes),
                        events, routes)
        assert got == want, (entries, nbytes)
    # frozen profiles: the assessment memo is on too
    state = shipped.profiles.save_state()
    frozen = _findings(RequestAnalyzer(profiles=ProfileStore.load_state(state)), events, routes)
    assert any(f is not None and f[0] == UNUSUAL for f in frozen)
    for entries, nbytes in ((0, 0), (7, 4000)):
        bare = _shrink(RequestAnalyzer(profiles=ProfileStore.load_state(state)), entries, nbytes)
        assert _findings(bare, events, routes) == frozen, (entries, nbytes)
