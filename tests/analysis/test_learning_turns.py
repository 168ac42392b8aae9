"""Online learning: a mature route learns in one batch of every ``learn_every``.

A young profile (under ``4 * min_history`` requests) learns every batch, up to
``learn_per_route`` requests each; a mature one has converged and learns in
one batch of every ``learn_every`` it is offered. The count of those batches is
part of the profile state, so a pipeline restored from a checkpoint learns in
the same batches as one that never stopped.
"""

from __future__ import annotations

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.profiles import ProfileStore
from detector.events import AccessEvent

ROUTE = ("shop", "GET", "/search")


def _batch(k: int, size: int = 40) -> list[AccessEvent]:
    return [AccessEvent(float(k * 60 + i), "shop", None, "GET", "/search",
                        f"q=shoe{(k * size + i) % 50}&page={i % 5}", 200, None, None,
                        f"10.0.0.{i}", "curl/8", None, None, "a.log", k * size + i)
            for i in range(size)]


def _history(a: RequestAnalyzer, batches: range) -> list[int]:
    """The route's learned requests after each batch."""
    out = []
    for k in batches:
        evs = _batch(k)
        a.analyze_many(evs, ["/search"] * len(evs))
        out.append(a.profiles.history(*ROUTE))
    return out


def _analyzer(store: ProfileStore | None = None) -> RequestAnalyzer:
    return RequestAnalyzer(profiles=store or ProfileStore(min_history=20), learn_online=True)


def test_young_routes_learn_every_batch_mature_ones_every_fourth() -> None:
    a = _analyzer()
    assert a.learn_every == 4
    n = _history(a, range(14))
    # young (under 80 requests): every request of a batch, whatever learn_per_route
    assert n[:2] == [40, 80]
    grown = [b - c for b, c in zip(n[2:], n[1:], strict=False)]
    # mature: learn_per_route (32) in one batch of four
    assert grown == [0, 0, 0, 32] * 3


def test_learn_every_one_learns_every_batch() -> None:
    a = _analyzer()
    a.learn_every = 1
    n = _history(a, range(6))
    assert n == [40, 80, 112, 144, 176, 208]


def test_a_restored_profile_takes_the_same_turns() -> None:
    whole = _analyzer()
    want = _history(whole, range(12))
    first = _analyzer()
    got = _history(first, range(5))
    restored = _analyzer(ProfileStore.load_state(first.profiles.save_state()))
    got += _history(restored, range(5, 12))
    assert got == want
    assert whole.profiles.save_state() == restored.profiles.save_state()
